"""Reminder e-mail: what is due for whom, rendered from the organisation's templates, queued once.

Every message goes through the outbox (topic ``hr.email``) with a dedupe key naming its
reason, so a reminder is never sent twice for the same reason however often the sweep runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from string import Template

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import aliased

from certificates.models import Certificate
from course.models import Course, Enrollment
from lms_plugin.core import outbox
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Organization, User
from lms_plugin.core.timeutil import utcnow

from .models import EmployeeProfile, ReminderSettings

TOPIC = "hr.email"
KINDS = ("welcome", "due_soon", "overdue", "escalation", "expiry")
KIND_LABELS = {
    "welcome": "Welcome (on enrolment)",
    "due_soon": "Before the due date",
    "overdue": "After the due date",
    "escalation": "Escalation to the manager",
    "expiry": "Before a certificate expires",
}
PLACEHOLDERS = ("name", "course", "link", "due_date", "days", "employee_name",
                "employee_email", "expires_on", "organization")
DEFAULT_TEMPLATES = {
    "welcome": {
        "subject": "Welcome: your social media training, '$course'",
        "body": "Hello $name,\n\nYou are enrolled in '$course' at $organization. It takes a "
                "few short modules and is due by $due_date.\n\nStart here: $link\n",
    },
    "due_soon": {
        "subject": "Reminder: '$course' is due on $due_date",
        "body": "Hello $name,\n\n'$course' is due on $due_date ($days day(s) from now).\n\n"
                "Continue here: $link\n",
    },
    "overdue": {
        "subject": "Overdue: '$course' was due on $due_date",
        "body": "Hello $name,\n\n'$course' was due on $due_date, $days day(s) ago. Please "
                "finish it soon.\n\nContinue here: $link\n",
    },
    "escalation": {
        "subject": "$employee_name has not finished '$course'",
        "body": "Hello $name,\n\n$employee_name ($employee_email) has not finished '$course',"
                " which was due on $due_date ($days day(s) ago). A word from you helps.\n",
    },
    "expiry": {
        "subject": "Your '$course' certificate expires on $expires_on",
        "body": "Hello $name,\n\nYour certificate for '$course' expires on $expires_on. Take "
                "the short refresher before then so your posting rights do not lapse.\n\n"
                "Start here: $link\n",
    },
}
DEFAULT_SCHEDULE = {"before_due_days": [7, 1], "after_due_days": [1, 7],
                    "escalate_after_days": 14, "expiry_notice_days": [30, 7]}


class ReminderError(ValueError):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field  # which part of a template is wrong: "subject" or "body"


def settings_for(organization_id: int) -> ReminderSettings:
    """The organisation's settings, or the defaults (not saved) when it has none yet."""
    row = db.session.execute(
        select(ReminderSettings).filter_by(organization_id=organization_id)
    ).scalar_one_or_none()
    if row is None:
        row = ReminderSettings(organization_id=organization_id, enabled=True, templates={},
                               **DEFAULT_SCHEDULE)
    return row


def parse_days(text: str, label: str) -> list[int]:
    """'7, 1' -> [7, 1]; a clear message for anything else."""
    days = []
    for part in text.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if not part.isdigit() or not 0 <= int(part) <= 3650:
            raise ReminderError(f"{label}: {part!r} is not a number of days (0 to 3650); "
                                "separate several with commas, for example 7, 1")
        days.append(int(part))
    return sorted(set(days), reverse=True)


def check_template(kind: str, subject: str, body: str) -> None:
    for label, text in (("subject", subject), ("body", body)):
        template = Template(text)
        if not template.is_valid():
            raise ReminderError(f"{KIND_LABELS[kind]} {label}: a '$' must start a placeholder "
                                "such as $name (write $$ for a dollar sign)", label)
        unknown = sorted(set(template.get_identifiers()) - set(PLACEHOLDERS))
        if unknown:
            raise ReminderError(f"{KIND_LABELS[kind]} {label}: ${unknown[0]} is not a "
                                f"placeholder; use {', '.join('$' + p for p in PLACEHOLDERS)}",
                                label)
    if not subject.strip() or "\n" in subject or "\r" in subject:
        raise ReminderError(f"{KIND_LABELS[kind]} subject must be one non-empty line", "subject")


def save_settings(organization_id: int, *, enabled: bool, before_due_days: list[int],
                  after_due_days: list[int], escalate_after_days: int | None,
                  expiry_notice_days: list[int], templates: dict[str, dict]) -> ReminderSettings:
    for kind, template in templates.items():
        if kind not in KINDS:
            raise ReminderError(f"template {kind!r} is unknown")
        check_template(kind, template["subject"], template["body"])
    row = db.session.execute(
        select(ReminderSettings).filter_by(organization_id=organization_id)
    ).scalar_one_or_none()
    if row is None:
        row = ReminderSettings(organization_id=organization_id)
        db.session.add(row)
    row.enabled = enabled
    row.before_due_days, row.after_due_days = before_due_days, after_due_days
    row.escalate_after_days = escalate_after_days
    row.expiry_notice_days = expiry_notice_days
    # Only templates that differ from the default are stored, so improved defaults reach
    # organisations that never customised them.
    row.templates = {k: v for k, v in templates.items() if v != DEFAULT_TEMPLATES[k]}
    row.updated_at = utcnow()
    db.session.flush()
    return row


def template_for(settings: ReminderSettings, kind: str) -> dict[str, str]:
    return (settings.templates or {}).get(kind) or DEFAULT_TEMPLATES[kind]


def render(settings: ReminderSettings, kind: str, context: dict[str, str]) -> tuple[str, str]:
    template = template_for(settings, kind)
    values = {key: str(context.get(key, "")) for key in PLACEHOLDERS}
    subject = Template(template["subject"]).safe_substitute(values)
    return " ".join(subject.split()), Template(template["body"]).safe_substitute(values)


def learner_link() -> str:
    return f"{current_app.config['PUBLIC_BASE_URL']}/learn/"


def _queue(settings: ReminderSettings, kind: str, to: User, context: dict, dedupe_key: str,
           user_id: int) -> bool:
    subject, body = render(settings, kind, {"name": to.name, "link": learner_link(), **context})
    message = outbox.enqueue(
        TOPIC, {"to": to.email, "subject": subject, "body": body, "kind": kind,
                "user_id": user_id},
        organization_id=settings.organization_id, dedupe_key=dedupe_key)
    return message is not None


def _enrollment_context(enrollment: Enrollment, organization: Organization, now: datetime,
                        course: Course | None = None) -> dict:
    course = course or enrollment.course
    due = enrollment.due_at
    return {"course": course.title, "organization": organization.name,
            "due_date": due.strftime("%d %B %Y") if due else "no fixed date",
            "days": abs((due.date() - now.date()).days) if due else ""}


def enqueue_welcome(enrollment: Enrollment) -> bool:
    settings = settings_for(enrollment.organization_id)
    if not settings.enabled:
        return False
    user = enrollment.user
    context = _enrollment_context(enrollment, user.organization, utcnow())
    return _queue(settings, "welcome", user, context, f"hr:welcome:{enrollment.id}", user.id)


def send_reminder_now(enrollment: Enrollment) -> bool:
    """HR's "send a reminder" button: at most one per enrolment per day."""
    now = utcnow()
    overdue = enrollment.due_at is not None and enrollment.due_at < now
    if enrollment.completed_at is not None:
        raise ReminderError("this enrolment is completed: there is nothing to remind of")
    settings = settings_for(enrollment.organization_id)
    context = _enrollment_context(enrollment, enrollment.user.organization, now)
    return _queue(settings, "overdue" if overdue else "due_soon", enrollment.user, context,
                  f"hr:manual:{enrollment.id}:{now.date().isoformat()}", enrollment.user_id)


@dataclass
class SweepCounts:
    due_soon: int = 0
    overdue: int = 0
    escalation: int = 0
    expiry: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def schedule_due(organization_id: int, now: datetime | None = None) -> SweepCounts:
    """Queue every reminder that is due now and was not queued before. Flushes only."""
    now = now or utcnow()
    counts = SweepCounts()
    settings = settings_for(organization_id)
    if not settings.enabled:
        return counts
    organization = db.session.get(Organization, organization_id)
    before = sorted(settings.before_due_days or [])
    after = sorted(settings.after_due_days or [])
    escalate = settings.escalate_after_days
    horizon = now + timedelta(days=max(before, default=0))
    manager = aliased(User)
    rows = db.session.execute(
        select(Enrollment, Course, User, manager)
        .join(Course, Course.id == Enrollment.course_id)
        .join(User, User.id == Enrollment.user_id)
        .outerjoin(EmployeeProfile, EmployeeProfile.user_id == User.id)
        .outerjoin(manager, manager.id == EmployeeProfile.manager_id)
        .where(Enrollment.organization_id == organization_id, Enrollment.completed_at.is_(None),
               Enrollment.due_at.is_not(None), Enrollment.due_at <= horizon, User.active)
        .order_by(Enrollment.id)
    ).all()
    for enrollment, course, user, boss in rows:
        due = enrollment.due_at
        context = _enrollment_context(enrollment, organization, now, course)
        if due > now:
            # Only the nearest window that has opened: a late first sweep sends one reminder,
            # not every one it missed.
            opened = [d for d in before if due - timedelta(days=d) <= now]
            if opened and _queue(settings, "due_soon", user, context,
                                 f"hr:due_soon:{enrollment.id}:{min(opened)}", user.id):
                counts.due_soon += 1
            continue
        passed = [d for d in after if now >= due + timedelta(days=d)]
        if passed and _queue(settings, "overdue", user, context,
                             f"hr:overdue:{enrollment.id}:{max(passed)}", user.id):
            counts.overdue += 1
        if (escalate is not None and boss is not None and boss.active
                and now >= due + timedelta(days=escalate)):
            context = context | {"employee_name": user.name, "employee_email": user.email}
            if _queue(settings, "escalation", boss, context,
                      f"hr:escalation:{enrollment.id}", user.id):
                counts.escalation += 1
    notice = sorted(settings.expiry_notice_days or [])
    if notice:
        newer = aliased(Certificate)
        certificates = db.session.execute(
            select(Certificate, User)
            .join(User, User.id == Certificate.user_id)
            .where(Certificate.organization_id == organization_id,
                   Certificate.revoked_at.is_(None), Certificate.expires_at > now,
                   Certificate.expires_at <= now + timedelta(days=max(notice)), User.active,
                   ~select(newer.id).where(newer.user_id == Certificate.user_id,
                                           newer.course_id == Certificate.course_id,
                                           newer.issued_at > Certificate.issued_at,
                                           newer.revoked_at.is_(None)).exists())
            .order_by(Certificate.id)
        ).all()
        for certificate, user in certificates:
            opened = [d for d in notice if certificate.expires_at - timedelta(days=d) <= now]
            context = {"course": certificate.course_title, "organization": organization.name,
                       "expires_on": certificate.expires_at.strftime("%d %B %Y"),
                       "days": (certificate.expires_at.date() - now.date()).days}
            if _queue(settings, "expiry", user, context,
                      f"hr:expiry:{certificate.id}:{min(opened)}", user.id):
                counts.expiry += 1
    db.session.flush()
    return counts
