"""Open edX XBlock (issue: LMS embedding)."""
