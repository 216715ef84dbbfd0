"""LTI 1.3 Advantage tool (issue: LMS embedding)."""
