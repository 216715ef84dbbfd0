"""Quiz operations: publishing versions, starting attempts, grading them on the server."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from blinker import Namespace
from sqlalchemy import func, select, update

from lms_plugin.core.extensions import db
from lms_plugin.core.models import User
from lms_plugin.core.timeutil import utcnow

from .core import authoring_problems
from .core.grades import GradeEvent, publish_grade
from .core.scoring import draw, score_attempt, shown
from .models import Attempt, QuizVersion

signals = Namespace()
#: Sent with the graded ``Attempt`` inside the grading transaction.
attempt_graded = signals.signal("attempt-graded")


class QuizError(ValueError):
    """An attempt operation refused, with the reason a learner can act on."""


def publish_version(organization_id: int, slug: str, title: str, settings: dict,
                    questions: list[dict]) -> QuizVersion:
    """A new immutable version; returns the latest one unchanged if nothing differs."""
    problems = [f"question {q.get('id')!r}: {p}" for q in questions for p in authoring_problems(q)]
    if problems:
        raise QuizError("; ".join(problems))
    latest = latest_version(organization_id, slug)
    if latest and latest.questions == questions and latest.settings == settings \
            and latest.title == title:
        return latest
    version = QuizVersion(
        organization_id=organization_id, slug=slug, title=title,
        version=(latest.version + 1) if latest else 1,
        settings=settings, questions=questions, published=True,
    )
    db.session.add(version)
    db.session.flush()
    return version


def latest_version(organization_id: int, slug: str) -> QuizVersion | None:
    return db.session.execute(
        select(QuizVersion)
        .where(QuizVersion.organization_id == organization_id, QuizVersion.slug == slug)
        .order_by(QuizVersion.version.desc())
        .limit(1)
    ).scalar_one_or_none()


def attempts_of(user: User, quiz: QuizVersion) -> list[Attempt]:
    return list(db.session.execute(
        select(Attempt).where(Attempt.user_id == user.id, Attempt.quiz_version_id == quiz.id)
        .order_by(Attempt.id)
    ).scalars())


@dataclass(frozen=True)
class Standing:
    """Where a learner stands with a quiz: what the start page tells them."""

    attempts_used: int
    attempts_left: int | None  # None: unlimited
    passed: bool
    best_percent: float | None
    open_attempt: Attempt | None
    retry_at: object | None  # datetime when the cooldown ends

    @property
    def can_start(self) -> bool:
        if self.open_attempt is not None:
            return True
        return (self.attempts_left is None or self.attempts_left > 0) and self.retry_at is None


def standing(user: User, quiz: QuizVersion) -> Standing:
    attempts = attempts_of(user, quiz)
    graded = [a for a in attempts if a.state == Attempt.GRADED]
    allowed = int(quiz.settings.get("attempts") or 0)
    open_attempt = next((a for a in attempts if a.state == Attempt.IN_PROGRESS), None)
    retry_at = None
    cooldown = int(quiz.settings.get("cooldown_minutes") or 0)
    if graded and cooldown and not any(a.passed for a in graded):
        ends = graded[-1].submitted_at + timedelta(minutes=cooldown)
        retry_at = ends if ends > utcnow() else None
    return Standing(
        attempts_used=len(attempts),
        attempts_left=None if allowed == 0 else max(0, allowed - len(attempts)),
        passed=any(a.passed for a in graded),
        best_percent=max((a.percent for a in graded), default=None),
        open_attempt=open_attempt,
        retry_at=retry_at,
    )


def start_attempt(user: User, quiz: QuizVersion, return_url: str | None = None) -> Attempt:
    current = standing(user, quiz)
    if current.open_attempt is not None:
        return current.open_attempt
    if current.attempts_left == 0:
        raise QuizError("You have used every attempt for this quiz. Ask your trainer for another.")
    if current.retry_at is not None:
        raise QuizError(f"You can try again after {current.retry_at:%H:%M} UTC.")
    seed = secrets.randbelow(2**31)
    ids = draw(quiz.questions, quiz.question_count, seed, quiz.settings.get("tags"))
    limit = int(quiz.settings.get("time_limit_minutes") or 0)
    attempt = Attempt(
        organization_id=user.organization_id, user_id=user.id, quiz_version_id=quiz.id,
        seed=seed, question_ids=ids, responses={}, return_url=return_url,
        deadline_at=utcnow() + timedelta(minutes=limit) if limit else None,
    )
    db.session.add(attempt)
    db.session.flush()
    return attempt


def questions_shown(attempt: Attempt) -> list[dict]:
    """The attempt's questions as the learner sees them (no answers), in its own order."""
    return shown(attempt.quiz_version.questions_by_id(), attempt.question_ids, attempt.seed)


def submit_attempt(attempt: Attempt, responses: dict) -> Attempt:
    """Grade once, from the server's copy of the questions. A second submit is refused."""
    claimed = db.session.execute(
        update(Attempt)
        .where(Attempt.id == attempt.id, Attempt.state == Attempt.IN_PROGRESS)
        .values(state=Attempt.GRADED, submitted_at=func.now())
        .execution_options(synchronize_session=False)
    ).rowcount
    if claimed != 1:
        db.session.rollback()
        raise QuizError("This attempt has already been submitted.")
    db.session.refresh(attempt)
    quiz = attempt.quiz_version
    # Only answers to the questions this attempt showed are kept; anything else is ignored.
    kept = {qid: responses.get(qid, []) for qid in attempt.question_ids}
    result = score_attempt(quiz.questions_by_id(), attempt.question_ids, kept, quiz.pass_mark)
    attempt.responses = kept
    attempt.percent = result.percent
    attempt.passed = result.passed
    attempt.submitted_at = utcnow()
    attempt.results = {
        qid: {"score": g.score, "correct": g.correct, "chosen": list(g.chosen)}
        for qid, g in result.per_question.items()
    }
    db.session.flush()
    attempt_graded.send(attempt)
    publish_grade(GradeEvent(
        organization_id=attempt.organization_id, user_id=attempt.user_id, kind="attempt",
        activity=f"quiz:{quiz.slug}", score=result.percent, maximum=100.0,
        passed=bool(result.passed), timestamp=attempt.submitted_at,
        reference=f"attempt:{attempt.id}",
    ))
    return attempt
