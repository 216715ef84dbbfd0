"""Module versions imported into an organisation, courses, enrolments and lesson progress."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from content_modules import Module
from lms_plugin.core.extensions import db
from lms_plugin.core.models import User
from lms_plugin.core.timeutil import utcnow
from lms_plugin.core.types import UTCDateTime
from quizzes.models import QuizVersion


class ModuleVersion(db.Model):
    """One imported version of a module folder; a changed folder becomes a new version."""

    __tablename__ = "module_version"
    __table_args__ = (UniqueConstraint("organization_id", "slug", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    slug: Mapped[str] = mapped_column(String(64))
    number: Mapped[int] = mapped_column(Integer)  # 1, 2, 3 ... per organisation and slug
    content_hash: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    minutes: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict] = mapped_column(JSON)
    quiz_version_id: Mapped[int | None] = mapped_column(ForeignKey("quiz_version.id"))
    requires_retraining: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    quiz_version: Mapped[QuizVersion | None] = relationship()

    @property
    def module(self) -> Module:
        return Module.from_dict(self.content)


class Course(db.Model):
    __tablename__ = "course"
    __table_args__ = (UniqueConstraint("organization_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    slug: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), default="")
    # Listed modules by slug, in order; the current version of each is taught.
    module_slugs: Mapped[list] = mapped_column(JSON, default=list)
    required_for_posting: Mapped[bool] = mapped_column(Boolean, default=False)
    due_days: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Enrollment(db.Model):
    __tablename__ = "enrollment"
    __table_args__ = (UniqueConstraint("user_id", "course_id", "cycle"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    cycle: Mapped[int] = mapped_column(Integer, default=1)  # recertification rounds
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The module versions this enrolment was completed with: {slug: module_version_id}.
    completed_versions: Mapped[dict] = mapped_column(JSON, default=dict)

    user: Mapped[User] = relationship()
    course: Mapped[Course] = relationship()


class LessonProgress(db.Model):
    __tablename__ = "lesson_progress"
    __table_args__ = (UniqueConstraint("enrollment_id", "module_version_id", "lesson_slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id"), index=True)
    module_version_id: Mapped[int] = mapped_column(ForeignKey("module_version.id"))
    lesson_slug: Mapped[str] = mapped_column(String(128))
    read_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PolicyVersion(db.Model):
    """An organisation's social media policy, one row per published version (never edited)."""

    __tablename__ = "policy_version"
    __table_args__ = (UniqueConstraint("organization_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))
    min_read_seconds: Mapped[int] = mapped_column(Integer, default=0)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledge_by: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))


class PolicyAcknowledgment(db.Model):
    """Who acknowledged which exact text, when, with the name they typed."""

    __tablename__ = "policy_acknowledgment"
    __table_args__ = (UniqueConstraint("user_id", "policy_version_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    policy_version_id: Mapped[int] = mapped_column(ForeignKey("policy_version.id"))
    text_sha256: Mapped[str] = mapped_column(String(64))
    typed_name: Mapped[str] = mapped_column(String(200))
    acknowledged_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    policy_version: Mapped[PolicyVersion] = relationship()


class PolicyReading(db.Model):
    """When a learner first opened a policy version: the server's clock for the minimum
    reading time (a page timer in the browser could be skipped)."""

    __tablename__ = "policy_reading"
    __table_args__ = (UniqueConstraint("user_id", "policy_version_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    policy_version_id: Mapped[int] = mapped_column(ForeignKey("policy_version.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ModuleDraft(db.Model):
    """A trainer's unpublished edits of a module (one per organisation and slug).

    Learners never read drafts: they read the current ``ModuleVersion`` until the draft is
    published through the same validating import as a folder.
    """

    __tablename__ = "module_draft"
    __table_args__ = (UniqueConstraint("organization_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    slug: Mapped[str] = mapped_column(String(64))
    content: Mapped[dict] = mapped_column(JSON)  # a Module.to_dict() being edited
    base_version_id: Mapped[int | None] = mapped_column(ForeignKey("module_version.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    @property
    def module(self) -> Module:
        return Module.from_dict(self.content)
