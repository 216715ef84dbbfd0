"""Posting rights: the one function that decides whether an employee may post."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select

from certificates.models import Certificate
from course.models import Course, Enrollment
from lms_plugin.core.extensions import db
from lms_plugin.core.models import User
from lms_plugin.core.timeutil import utcnow


@dataclass(frozen=True)
class PostingRights:
    eligible: bool
    status: str  # not_started | in_training | eligible | expired | suspended
    reasons: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {"eligible": self.eligible, "status": self.status, "reasons": self.reasons}


def posting_rights_for(user: User) -> PostingRights:
    """Eligible when active and every course required for posting has a valid certificate."""
    if not user.active:
        return PostingRights(False, "suspended", ["The account is deactivated."])
    required = list(db.session.execute(
        select(Course).where(Course.organization_id == user.organization_id,
                             Course.required_for_posting.is_(True)).order_by(Course.id)
    ).scalars())
    now = utcnow()
    reasons: list[str] = []
    statuses: set[str] = set()
    for course in required:
        certificates = list(db.session.execute(
            select(Certificate).where(Certificate.user_id == user.id,
                                      Certificate.course_id == course.id)
        ).scalars())
        if any(c.status(now) == "valid" for c in certificates):
            continue
        if any(c.status(now) == "expired" for c in certificates):
            statuses.add("expired")
            reasons.append(f"The certificate for '{course.title}' has expired: retake the course.")
            continue
        started = db.session.execute(
            select(Enrollment.id).where(Enrollment.user_id == user.id,
                                        Enrollment.course_id == course.id)
        ).first()
        statuses.add("in_training" if started else "not_started")
        reasons.append(f"'{course.title}' is not completed yet."
                       if started else f"Not enrolled in '{course.title}' yet.")
    if not reasons:
        return PostingRights(True, "eligible", [])
    for status in ("expired", "in_training", "not_started"):
        if status in statuses:
            return PostingRights(False, status, reasons)
    return PostingRights(False, "not_started", reasons)  # pragma: no cover


def find_employee(organization_id: int, identifier: str) -> User | None:
    """By e-mail or external id, only within ``organization_id``."""
    identifier = identifier.strip()
    return db.session.execute(
        select(User).where(
            User.organization_id == organization_id,
            or_(User.email == identifier.lower(), User.external_id == identifier),
        ).limit(1)
    ).scalar_one_or_none()
