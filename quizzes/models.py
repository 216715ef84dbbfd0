"""Quiz versions (immutable once published) and attempts (each records exactly what it showed)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

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
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def pass_mark(self) -> int:
        return int(self.settings.get("pass_mark", 80))

    @property
    def question_count(self) -> int:
        wanted = int(self.settings.get("questions") or len(self.questions))
        return min(wanted, len(self.questions))

    @property
    def feedback_timing(self) -> str:
        """"after_each" | "after_submit" | "after_pass": when feedback and explanations show."""
        return str(self.settings.get("feedback") or "after_submit")

    @property
    def show_answers(self) -> bool:
        return bool(self.settings.get("show_answers", True))

    @property
    def one_per_page(self) -> bool:
        return bool(self.settings.get("one_per_page", False))

    @property
    def time_limit_minutes(self) -> int:
        return int(self.settings.get("time_limit_minutes") or 0)

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
    # The exact questions shown, frozen at start: [{"question": {...}, "order": [indexes]}].
    # Reviews read this, never the version or a bank, so later edits cannot change a review.
    snapshot: Mapped[list] = mapped_column(JSON, default=list)
    # Questions whose answer is locked (feedback "after each question" revealed their key).
    locked: Mapped[list] = mapped_column(JSON, default=list)
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


class QuestionBank(db.Model):
    """A trainer's pool of questions in one organisation; quizzes draw from banks by tag."""

    __tablename__ = "question_bank"
    __table_args__ = (UniqueConstraint("organization_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    slug: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    questions: Mapped[list[BankQuestion]] = relationship(
        back_populates="bank", order_by="BankQuestion.position", cascade="all, delete-orphan")


class BankQuestion(db.Model):
    """One authored question (its data is the bank dict of docs/module-format.md)."""

    __tablename__ = "bank_question"
    __table_args__ = (UniqueConstraint("bank_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("question_bank.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))  # the question's "id" in bank files
    position: Mapped[int] = mapped_column(Integer, default=0)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    bank: Mapped[QuestionBank] = relationship(back_populates="questions")

    @property
    def type(self) -> str:
        return str(self.data.get("type", ""))

    @property
    def tags(self) -> list[str]:
        return list(self.data.get("tags") or [])


class PublishedQuizIsImmutable(RuntimeError):
    """A published quiz version was changed or deleted: edit it to make a new draft instead."""


_FROZEN = ("slug", "version", "title", "settings", "questions", "organization_id")


@event.listens_for(Session, "before_flush")
def _refuse_changes_to_published_versions(session: Session, flush_context, instances) -> None:
    # Attempts and reviews rely on a published version never changing under them.
    for obj in list(session.dirty) + list(session.deleted):
        if not isinstance(obj, QuizVersion):
            continue
        state = inspect(obj)
        history = state.attrs.published.history
        was_published = history.deleted[0] if history.deleted else obj.published
        if not was_published:
            continue
        if obj in session.deleted or any(state.attrs[name].history.has_changes()
                                         for name in _FROZEN):
            raise PublishedQuizIsImmutable(
                f"quiz {obj.slug!r} version {obj.version} is published and cannot be changed")
