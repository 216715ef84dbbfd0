"""Quiz versions (immutable once published) and attempts (each records exactly what it showed)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms_plugin.core.extensions import db
from lms_plugin.core.models import User
from lms_plugin.core.timeutil import utcnow
from lms_plugin.core.types import UTCDateTime


class QuizVersion(db.Model):
    __tablename__ = "quiz_version"
    __table_args__ = (UniqueConstraint("organization_id", "slug", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    slug: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    settings: Mapped[dict] = mapped_column(JSON, default=dict)
    questions: Mapped[list] = mapped_column(JSON, default=list)
    published: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def pass_mark(self) -> int:
        return int(self.settings.get("pass_mark", 80))

    @property
    def question_count(self) -> int:
        wanted = int(self.settings.get("questions") or len(self.questions))
        return min(wanted, len(self.questions))

    def questions_by_id(self) -> dict[str, dict]:
        return {q["id"]: q for q in self.questions}


class Attempt(db.Model):
    __tablename__ = "attempt"
    __table_args__ = (Index("ix_attempt_user_quiz", "user_id", "quiz_version_id"),)

    IN_PROGRESS = "in_progress"
    GRADED = "graded"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    quiz_version_id: Mapped[int] = mapped_column(ForeignKey("quiz_version.id"))
    seed: Mapped[int] = mapped_column(Integer)
    question_ids: Mapped[list] = mapped_column(JSON, default=list)
    responses: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(20), default=IN_PROGRESS)
    percent: Mapped[float | None] = mapped_column(Float)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    results: Mapped[dict] = mapped_column(JSON, default=dict)
    return_url: Mapped[str | None] = mapped_column(String(500))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    quiz_version: Mapped[QuizVersion] = relationship()
    user: Mapped[User] = relationship()
