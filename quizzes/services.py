"""Quiz operations: publishing versions, starting attempts, grading them on the server."""

from __future__ import annotations

import copy
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from blinker import Namespace
from sqlalchemy import func, select, update

from lms_plugin.core.extensions import db
from lms_plugin.core.models import User
from lms_plugin.core.timeutil import utcnow

from .core import authoring_problems, explain, grade, public_view
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
    latest = current_version(organization_id, slug)
    if latest and latest.questions == questions and latest.settings == settings \
            and latest.title == title:
        return latest
    version = QuizVersion(
        organization_id=organization_id, slug=slug, title=title,
        version=next_version_number(organization_id, slug),
        settings=settings, questions=questions, published=True, published_at=utcnow(),
    )
    db.session.add(version)
    db.session.flush()
    return version


def next_version_number(organization_id: int, slug: str) -> int:
    newest = latest_version(organization_id, slug)  # drafts included: numbers never repeat
    return newest.version + 1 if newest else 1


def latest_version(organization_id: int, slug: str) -> QuizVersion | None:
    return db.session.execute(
        select(QuizVersion)
        .where(QuizVersion.organization_id == organization_id, QuizVersion.slug == slug)
        .order_by(QuizVersion.version.desc())
        .limit(1)
    ).scalar_one_or_none()


def current_version(organization_id: int, slug: str) -> QuizVersion | None:
    """The newest published version of a quiz: what a learner starting now is given."""
    return db.session.execute(
        select(QuizVersion)
        .where(QuizVersion.organization_id == organization_id, QuizVersion.slug == slug,
               QuizVersion.published.is_(True))
        .order_by(QuizVersion.version.desc())
        .limit(1)
    ).scalar_one_or_none()


def has_passed(user: User, quiz: QuizVersion) -> bool:
    """Whether ``user`` passed any published version of this quiz (a new version keeps a pass)."""
    return db.session.execute(
        select(Attempt.id).join(QuizVersion, Attempt.quiz_version_id == QuizVersion.id)
        .where(Attempt.user_id == user.id, Attempt.passed.is_(True),
               QuizVersion.organization_id == quiz.organization_id,
               QuizVersion.slug == quiz.slug)
        .limit(1)
    ).first() is not None


def attempts_of(user: User, quiz: QuizVersion) -> list[Attempt]:
    return list(db.session.execute(
        select(Attempt).where(Attempt.user_id == user.id, Attempt.quiz_version_id == quiz.id)
        .order_by(Attempt.id)
    ).scalars())


def lock_row(model, ident: int) -> None:
    """Serialise concurrent changes to one row until the transaction ends.

    PostgreSQL: ``SELECT ... FOR UPDATE``. SQLite has no row locks, but any write takes the
    database's single write lock for the rest of the transaction, so a no-op update of the
    row gives the same guarantee (other writers wait, up to ``busy_timeout``).
    """
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(model.id).where(model.id == ident).with_for_update())
    else:
        db.session.execute(update(model).where(model.id == ident).values(id=model.id)
                           .execution_options(synchronize_session=False))


@dataclass(frozen=True)
class Standing:
    """Where a learner stands with a quiz: what the start page tells them."""

    attempts_used: int
    attempts_left: int | None  # None: unlimited
    passed: bool
    best_percent: float | None
    open_attempt: Attempt | None
    retry_at: datetime | None  # when the cooldown ends

    @property
    def can_start(self) -> bool:
        if self.open_attempt is not None:
            return True
        if self.passed:
            return False
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
    """Start (or resume) an attempt; limits and cooldowns hold under concurrent requests."""
    if not quiz.published:
        raise QuizError("This quiz is a draft: it can be previewed but not taken.")
    # Two "start" requests at once must not both see "one attempt left": take the learner's
    # row lock first, then count.
    lock_row(User, user.id)
    current = standing(user, quiz)
    if current.open_attempt is not None:
        if not is_expired(current.open_attempt):
            return current.open_attempt
        finish_expired(current.open_attempt)
        current = standing(user, quiz)
    if current.passed:
        raise QuizError("You have already passed this quiz.")
    if current.attempts_left == 0:
        raise QuizError("You have used every attempt for this quiz. Ask your trainer for another.")
    if current.retry_at is not None:
        raise QuizError(f"You can try again after {current.retry_at:%H:%M} UTC.")
    seed = secrets.randbelow(2**31)
    ids = draw(quiz.questions, quiz.question_count, seed, quiz.settings.get("tags"))
    by_id = quiz.questions_by_id()
    views = shown(by_id, ids, seed)
    limit = quiz.time_limit_minutes
    attempt = Attempt(
        organization_id=user.organization_id, user_id=user.id, quiz_version_id=quiz.id,
        seed=seed, question_ids=ids, responses={}, return_url=return_url, locked=[],
        snapshot=[{"question": copy.deepcopy(by_id[v["id"]]),
                   "order": [c["index"] for c in v["choices"]]} for v in views],
        deadline_at=utcnow() + timedelta(minutes=limit) if limit else None,
    )
    db.session.add(attempt)
    db.session.flush()
    return attempt


def _snapshot_by_id(attempt: Attempt) -> dict[str, dict]:
    if attempt.snapshot:
        return {item["question"]["id"]: item["question"] for item in attempt.snapshot}
    return attempt.quiz_version.questions_by_id()  # attempts from before snapshots existed


def questions_shown(attempt: Attempt) -> list[dict]:
    """The attempt's questions as the learner sees them (no answers), in its own order."""
    if not attempt.snapshot:
        return shown(attempt.quiz_version.questions_by_id(), attempt.question_ids, attempt.seed)
    views = []
    for item in attempt.snapshot:
        view = public_view(item["question"])
        by_index = {c["index"]: c for c in view["choices"]}
        view["choices"] = [by_index[i] for i in item["order"] if i in by_index]
        views.append(view)
    return views


# -- time limits ---------------------------------------------------------------------------

#: Late submissions within this grace are graded with what they carry (network latency);
#: later ones are graded with the answers saved before the deadline, and the request's
#: answers are ignored.
GRACE = timedelta(seconds=30)


def is_expired(attempt: Attempt, now: datetime | None = None) -> bool:
    if attempt.deadline_at is None:
        return False
    return (now or utcnow()) > attempt.deadline_at + GRACE


def finish_expired(attempt: Attempt) -> Attempt:
    """Grade an attempt whose time ran out with the answers saved in time."""
    return submit_attempt(attempt, None)


# -- answering as the learner goes -----------------------------------------------------------

def _keep(attempt: Attempt, responses: dict) -> dict:
    """Only answers to the questions this attempt showed, as lists of strings."""
    kept = {}
    for qid in attempt.question_ids:
        if qid in responses:
            value = responses[qid]
            values = value if isinstance(value, list | tuple) else [value]
            kept[qid] = [str(v) for v in values if isinstance(v, str | int)][:50]
    return kept


def save_answers(attempt: Attempt, responses: dict) -> Attempt:
    """Autosave: store answers server-side so a reload or dropped connection loses nothing."""
    lock_row(Attempt, attempt.id)
    db.session.refresh(attempt)
    if attempt.state != Attempt.IN_PROGRESS:
        raise QuizError("This attempt has already been submitted.")
    if is_expired(attempt):
        raise QuizError("The time limit has passed: answers can no longer be changed.")
    kept = {qid: v for qid, v in _keep(attempt, responses).items() if qid not in attempt.locked}
    attempt.responses = {**attempt.responses, **kept}
    db.session.flush()
    return attempt


def check_question(attempt: Attempt, question_id: str, response: object | None) -> dict:
    """Feedback "after each question": lock one answer and reveal that question only."""
    if attempt.quiz_version.feedback_timing != "after_each":
        raise QuizError("This quiz gives feedback after the attempt is submitted.")
    if question_id not in attempt.question_ids:
        raise QuizError("That question is not part of this attempt.")
    if response not in (None, [], "") and question_id not in attempt.locked:
        save_answers(attempt, {question_id: response})
    else:
        lock_row(Attempt, attempt.id)
        db.session.refresh(attempt)
        if attempt.state != Attempt.IN_PROGRESS or is_expired(attempt):
            raise QuizError("This attempt can no longer be changed.")
    if question_id not in attempt.locked:
        # Revealing the key of an unanswered question would let a learner look it up first.
        if not attempt.responses.get(question_id):
            raise QuizError("Choose an answer before checking it.")
        attempt.locked = [*attempt.locked, question_id]
        db.session.flush()
    return revealed(attempt, question_id)


def revealed(attempt: Attempt, question_id: str) -> dict:
    """What a locked (or graded) question may show: its result, feedback and explanation."""
    question = _snapshot_by_id(attempt)[question_id]
    graded = grade(question, attempt.responses.get(question_id, []))
    detail = explain(question)
    if not attempt.quiz_version.show_answers:
        # The trainer hides the key: right or not, and the feedback on what was chosen.
        return {"question": question_id, "correct": graded.correct, "score": graded.score,
                "chosen": list(graded.chosen), "key": [], "explanation": "",
                "feedback": {i: t for i, t in detail["feedback"].items() if i in graded.chosen}}
    return {"question": question_id, "correct": graded.correct, "score": graded.score,
            "chosen": list(graded.chosen), "key": detail["correct"],
            "feedback": detail["feedback"], "explanation": detail["explanation"]}


# -- grading ---------------------------------------------------------------------------------

def submit_attempt(attempt: Attempt, responses: dict | None) -> Attempt:
    """Grade once, from the attempt's own snapshot. A second or concurrent submit is refused.

    ``responses=None`` grades what was saved. After the deadline and its grace, the request's
    answers are ignored and the answers saved before the deadline are graded.
    """
    lock_row(Attempt, attempt.id)
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
    now = utcnow()
    saved = dict(attempt.responses or {})
    if responses is not None and not is_expired(attempt, now):
        fresh = {qid: v for qid, v in _keep(attempt, responses).items()
                 if qid not in attempt.locked}
        saved.update(fresh)
    # Grading reads only the snapshot; anything else in the request is ignored.
    kept = {qid: saved.get(qid, []) for qid in attempt.question_ids}
    result = score_attempt(_snapshot_by_id(attempt), attempt.question_ids, kept, quiz.pass_mark)
    attempt.responses = kept
    attempt.percent = result.percent
    attempt.passed = result.passed
    attempt.submitted_at = now
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


# -- review ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReviewPolicy:
    """What the result page may show, from the quiz's settings and the learner's standing."""

    feedback: bool  # per-option feedback and explanations
    answers: bool  # which options were right


def review_policy(attempt: Attempt, passed_quiz: bool) -> ReviewPolicy:
    quiz = attempt.quiz_version
    timing = quiz.feedback_timing
    feedback = timing != "after_pass" or passed_quiz
    return ReviewPolicy(feedback=feedback, answers=quiz.show_answers and feedback)


def review_of(attempt: Attempt, policy: ReviewPolicy) -> list[dict]:
    """The graded attempt as it was shown, with only what ``policy`` allows."""
    by_id = _snapshot_by_id(attempt)
    items = []
    for view in questions_shown(attempt):
        detail = explain(by_id[view["id"]])
        result = attempt.results.get(view["id"], {})
        chosen = set(result.get("chosen", []))
        feedback = {}
        if policy.feedback:
            feedback = {i: text for i, text in detail["feedback"].items()
                        if text and (policy.answers or i in chosen)}
        items.append({
            "view": view, "result": result,
            "correct": detail["correct"] if policy.answers else [],
            "feedback": feedback,
            "explanation": detail["explanation"] if policy.answers else "",
        })
    return items


def attempts_by(user: User) -> list[Attempt]:
    """A learner's own attempts, newest first."""
    return list(db.session.execute(
        select(Attempt).where(Attempt.user_id == user.id).order_by(Attempt.id.desc())
    ).scalars())


# -- trainers' views of attempts ------------------------------------------------------------

def graded_attempts(organization_id: int, slug: str) -> list[Attempt]:
    """Every graded attempt at any version of one quiz in one organisation."""
    return list(db.session.execute(
        select(Attempt).join(QuizVersion, Attempt.quiz_version_id == QuizVersion.id)
        .where(Attempt.organization_id == organization_id,
               QuizVersion.organization_id == organization_id, QuizVersion.slug == slug,
               Attempt.state == Attempt.GRADED)
        .order_by(Attempt.id.desc())
    ).scalars())


def item_analysis(organization_id: int, slug: str) -> list:
    """Per-question statistics over every graded attempt at the quiz (all versions)."""
    from .core.analysis import analyse

    return analyse([
        {"percent": a.percent or 0.0, "results": a.results or {},
         "snapshot": a.snapshot or [{"question": q, "order": []}
                                    for q in a.quiz_version.questions
                                    if q["id"] in a.question_ids]}
        for a in graded_attempts(organization_id, slug)
    ])
