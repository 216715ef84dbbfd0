"""Grades leave through one door: every graded attempt and every completion is announced here.

The LMS edges (LTI grade passback, the XBlock) listen to ``grade_published``; nothing else
sends grades anywhere. Framework-free: a plain dataclass and a blinker signal.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from blinker import Namespace

signals = Namespace()
#: Sent with a ``GradeEvent`` (as the sender) inside the transaction that produced it.
grade_published = signals.signal("grade-published")


@dataclass(frozen=True)
class GradeEvent:
    organization_id: int
    user_id: int
    kind: str  # "attempt" | "completion"
    activity: str  # what was graded: "quiz:<slug>" or "course:<slug>"
    score: float  # points earned
    maximum: float  # points possible
    passed: bool
    timestamp: datetime
    reference: str  # "attempt:<id>" or "enrollment:<id>": stable, so consumers can dedupe

    def as_dict(self) -> dict:
        data = asdict(self)
        data["timestamp"] = self.timestamp.isoformat()
        return data


def publish_grade(event: GradeEvent) -> None:
    grade_published.send(event)
