"""HR's own tables: employee profiles, enrolment rules, reminder settings, status snapshots."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from certificates.models import Certificate
from course.models import Course
from lms_plugin.core.extensions import db
from lms_plugin.core.models import User
from lms_plugin.core.timeutil import utcnow
from lms_plugin.core.types import UTCDateTime


class EmployeeProfile(db.Model):
    """What the HR system knows about a person: one row per user who came from a roster."""

    __tablename__ = "employee_profile"
    __table_args__ = (
        Index("ix_employee_profile_org_department", "organization_id", "department"),
        Index("ix_employee_profile_org_location", "organization_id", "location"),
        Index("ix_employee_profile_org_manager", "organization_id", "manager_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), unique=True)
    department: Mapped[str] = mapped_column(String(120), default="")
    location: Mapped[str] = mapped_column(String(120), default="")
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    hire_date: Mapped[date | None] = mapped_column(Date)
    left_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    manager: Mapped[User | None] = relationship(foreign_keys=[manager_id])


class RosterUpload(db.Model):
    """An uploaded roster file kept between preview and confirmation, so nothing is re-sent."""

    __tablename__ = "roster_upload"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    filename: Mapped[str] = mapped_column(String(200))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    deactivate_missing: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EnrollmentRule(db.Model):
    """Who is enrolled in which course, due how many days after hire or after the rule applies.

    ``kind``: ``new_hire`` (everyone with a hire date; due = hire date + ``due_days``),
    ``department`` or ``location`` (those whose field equals ``value``; due = today +
    ``due_days``), or ``everyone``.
    """

    __tablename__ = "enrollment_rule"
    KINDS = ("new_hire", "department", "location", "everyone")

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"))
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(120), default="")
    due_days: Mapped[int] = mapped_column(Integer, default=30)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    course: Mapped[Course] = relationship()


class ReminderSettings(db.Model):
    """An organisation's reminder schedule and its e-mail templates (``string.Template`` text)."""

    __tablename__ = "reminder_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    before_due_days: Mapped[list] = mapped_column(JSON, default=list)  # e.g. [7, 1]
    after_due_days: Mapped[list] = mapped_column(JSON, default=list)  # e.g. [1, 7]
    escalate_after_days: Mapped[int | None] = mapped_column(Integer)  # to the manager
    expiry_notice_days: Mapped[list] = mapped_column(JSON, default=list)  # e.g. [30, 7]
    # kind -> {"subject": ..., "body": ...}; missing kinds use the defaults in reminders.py
    templates: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PostingRightsStatus(db.Model):
    """The last answer of ``advocacy.services.posting_rights_for`` per person, for HR counts.

    A report cache, refreshed by ``cleared hr sweep``; never used to decide eligibility.
    """

    __tablename__ = "posting_rights_status"
    __table_args__ = (Index("ix_posting_rights_status_org_status", "organization_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), unique=True)
    status: Mapped[str] = mapped_column(String(40))
    eligible: Mapped[bool] = mapped_column(Boolean, default=False)
    reasons: Mapped[str] = mapped_column(Text, default="")
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DailySnapshot(db.Model):
    """Posting-rights counts of one organisation on one day, for the trend chart."""

    __tablename__ = "hr_daily_snapshot"
    __table_args__ = (UniqueConstraint("organization_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    day: Mapped[date] = mapped_column(Date)
    counts: Mapped[dict] = mapped_column(JSON, default=dict)
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# HR's dashboard counts certificates expiring in the next 30 days: a range on expires_at
# within one organisation. Without this index the count walks every person of the
# organisation (0.24 s for 100,000 people); with it, only the expiring certificates.
Index("ix_certificate_org_expires", Certificate.organization_id, Certificate.expires_at)
