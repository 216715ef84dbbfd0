"""Enrolment rules: new hires into onboarding, departments and locations into their courses."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from course import services as course_services
from course.models import Course, Enrollment
from lms_plugin.core.extensions import db
from lms_plugin.core.models import User
from lms_plugin.core.timeutil import utcnow

from . import reminders
from .models import EmployeeProfile, EnrollmentRule


class RuleError(ValueError):
    pass


def end_of_day(day: date) -> datetime:
    """Due on a date means due by the end of that date (UTC)."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def add_rule(organization_id: int, course: Course, kind: str, *, value: str = "",
             due_days: int = 30) -> EnrollmentRule:
    if course.organization_id != organization_id:
        raise RuleError("a rule can only enrol into the organisation's own courses")
    if kind not in EnrollmentRule.KINDS:
        raise RuleError(f"rule kind {kind!r} is unknown: choose from "
                        f"{', '.join(EnrollmentRule.KINDS)}")
    value = " ".join((value or "").split())
    if kind in ("department", "location") and not value:
        raise RuleError(f"a {kind} rule needs the {kind} it applies to")
    if kind == "new_hire" and value:
        try:
            date.fromisoformat(value)
        except ValueError:
            raise RuleError(f"'hired on or after' {value!r} is not a date: use YYYY-MM-DD") \
                from None
    if not 0 <= int(due_days) <= 3650:
        raise RuleError("due days must be between 0 and 3650")
    rule = EnrollmentRule(organization_id=organization_id, course_id=course.id, kind=kind,
                          value=value, due_days=int(due_days), active=True)
    db.session.add(rule)
    db.session.flush()
    return rule


def rules_of(organization_id: int) -> list[EnrollmentRule]:
    return list(db.session.execute(
        select(EnrollmentRule).where(EnrollmentRule.organization_id == organization_id)
        .order_by(EnrollmentRule.id)).scalars())


def _matches(rule: EnrollmentRule, profile: EmployeeProfile) -> bool:
    if rule.kind == "everyone":
        return True
    if rule.kind == "department":
        return profile.department.casefold() == rule.value.casefold()
    if rule.kind == "location":
        return profile.location.casefold() == rule.value.casefold()
    if profile.hire_date is None:
        return False
    return not rule.value or profile.hire_date >= date.fromisoformat(rule.value)


def _due(rule: EnrollmentRule, profile: EmployeeProfile, now: datetime) -> datetime:
    if rule.kind == "new_hire":
        return end_of_day(profile.hire_date + timedelta(days=rule.due_days))
    return end_of_day(now.date() + timedelta(days=rule.due_days))


def apply_rules(organization_id: int, user_ids: list[int] | None = None,
                now: datetime | None = None) -> list[Enrollment]:
    """Enrol every active employee a rule matches and who was never enrolled in its course.

    Someone who already has an enrolment in the course (open or completed) is left alone:
    recertification decides repeat rounds, not the roster. Flushes only.
    """
    now = now or utcnow()
    rules = [r for r in rules_of(organization_id) if r.active]
    if not rules:
        return []
    query = (select(EmployeeProfile, User)
             .join(User, User.id == EmployeeProfile.user_id)
             .where(EmployeeProfile.organization_id == organization_id, User.active))
    if user_ids is not None:
        query = query.where(EmployeeProfile.user_id.in_(user_ids))
    people = list(db.session.execute(query).all())
    enrolled = set(db.session.execute(
        select(Enrollment.user_id, Enrollment.course_id)
        .where(Enrollment.organization_id == organization_id)).all())
    created: list[Enrollment] = []
    for profile, user in people:
        for rule in rules:
            if (user.id, rule.course_id) in enrolled or not _matches(rule, profile):
                continue
            enrollment = course_services.enroll(user, rule.course)
            enrollment.due_at = _due(rule, profile, now)
            enrolled.add((user.id, rule.course_id))
            created.append(enrollment)
    db.session.flush()
    for enrollment in created:
        reminders.enqueue_welcome(enrollment)
    return created
