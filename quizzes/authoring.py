"""Trainer authoring operations: banks, questions, quiz drafts and publishing.

A trainer edits questions in banks and a quiz's settings in a draft version; publishing
copies the chosen banks' questions into the draft and freezes it. Published versions are
never changed (``QuizVersionImmutable``). Services flush; the caller commits.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

from sqlalchemy import func, select

from lms_plugin.core import audit
from lms_plugin.core.extensions import db
from lms_plugin.core.models import User
from lms_plugin.core.timeutil import utcnow

from .core import authoring_problems
from .models import BankQuestion, QuestionBank, QuizVersion
from .services import latest_version, next_version_number, publish_version

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class AuthoringError(ValueError):
    """An authoring change refused; ``problems`` maps a field (or "") to what is wrong."""

    def __init__(self, problems: dict[str, list[str]] | str):
        if isinstance(problems, str):
            problems = {"": [problems]}
        self.problems = problems
        super().__init__("; ".join(p for ps in problems.values() for p in ps))


class QuizVersionImmutable(AuthoringError):
    pass


# -- banks ---------------------------------------------------------------------------------

def banks_of(organization_id: int) -> list[QuestionBank]:
    return list(db.session.execute(
        select(QuestionBank).where(QuestionBank.organization_id == organization_id)
        .order_by(QuestionBank.title)
    ).scalars())


def bank_by_slug(organization_id: int, slug: str) -> QuestionBank | None:
    return db.session.execute(
        select(QuestionBank).filter_by(organization_id=organization_id, slug=slug)
    ).scalar_one_or_none()


def create_bank(organization_id: int, slug: str, title: str) -> QuestionBank:
    slug = slug.strip().lower()
    problems: dict[str, list[str]] = {}
    if not SLUG_RE.match(slug):
        problems["slug"] = ["Use lowercase letters, digits and hyphens (up to 64), e.g. tone-2026."]
    elif bank_by_slug(organization_id, slug) is not None:
        problems["slug"] = [f"A bank called {slug!r} already exists: choose another name."]
    if not title.strip():
        problems["title"] = ["Give the bank a title trainers will recognise."]
    if problems:
        raise AuthoringError(problems)
    bank = QuestionBank(organization_id=organization_id, slug=slug, title=title.strip())
    db.session.add(bank)
    db.session.flush()
    return bank


def ensure_module_bank(organization_id: int, slug: str, title: str,
                       questions: list[dict]) -> QuestionBank:
    """The bank a module's quiz is authored in, created from the module file the first time.

    An existing bank is left alone, so re-importing a module never overwrites trainers' edits.
    """
    bank = bank_by_slug(organization_id, slug)
    if bank is None:
        bank = QuestionBank(organization_id=organization_id, slug=slug, title=title)
        db.session.add(bank)
        db.session.flush()
        for position, question in enumerate(questions):
            db.session.add(BankQuestion(organization_id=organization_id, bank_id=bank.id,
                                        key=question["id"], position=position,
                                        data=copy.deepcopy(question)))
        db.session.flush()
    return bank


def publish_module_quiz(organization_id: int, slug: str, title: str, settings: dict,
                        questions: list[dict]) -> QuizVersion:
    """Module import: publish the module file's questions and keep a bank to author them in."""
    ensure_module_bank(organization_id, slug, title, questions)
    return publish_version(organization_id, slug, title, {**settings, "banks": [slug]},
                           questions)


# -- questions -----------------------------------------------------------------------------

def clean_question(data: dict) -> dict:
    """Normalise authoring data: trimmed text, tags as a sorted unique list, no empty keys."""
    question = {k: v for k, v in copy.deepcopy(data).items() if v not in (None, "", [])}
    for key in ("prompt", "comment", "post", "explanation", "feedback_true", "feedback_false"):
        if isinstance(question.get(key), str):
            question[key] = question[key].strip()
            if not question[key]:
                del question[key]
    if "id" in question and not isinstance(question["id"], str):
        question["id"] = str(question["id"])
    tags = question.get("tags") or []
    if isinstance(tags, str):
        tags = tags.split(",")
    elif not isinstance(tags, list):
        tags = [tags]
    question["tags"] = sorted({str(t).strip().lower() for t in tags if str(t).strip()})
    if not question["tags"]:
        del question["tags"]
    return question


def question_problems(question: dict) -> list[str]:
    found = []
    if not KEY_RE.match(str(question.get("id", ""))):
        found.append("id: use letters, digits, '-', '_' or '.' (up to 64)")
    points = question.get("points", 1)
    if not isinstance(points, int | float) or isinstance(points, bool) or points <= 0:
        found.append("points must be a positive number")
    return found + authoring_problems(question)


def save_question(bank: QuestionBank, data: dict, existing: BankQuestion | None = None,
                  actor: User | None = None) -> BankQuestion:
    """Create or update a question after checking it; problems are raised, nothing is saved."""
    question = clean_question(data)
    problems = question_problems(question)
    clash = db.session.execute(
        select(BankQuestion.id).where(BankQuestion.bank_id == bank.id,
                                      BankQuestion.key == question.get("id"))
    ).scalar_one_or_none()
    if clash is not None and (existing is None or clash != existing.id):
        problems.insert(0, f"id: {question.get('id')!r} is already used in this bank")
    if problems:
        raise AuthoringError({"": problems})
    if existing is None:
        position = db.session.scalar(
            select(func.coalesce(func.max(BankQuestion.position), -1))
            .where(BankQuestion.bank_id == bank.id)) + 1
        existing = BankQuestion(organization_id=bank.organization_id, bank_id=bank.id,
                                position=position)
        db.session.add(existing)
    existing.key = question["id"]
    existing.data = question
    existing.updated_at = utcnow()
    db.session.flush()
    audit.record(bank.organization_id, "quiz.question_saved", actor=actor,
                 subject=bank, question=question["id"])
    return existing


def duplicate_question(question: BankQuestion, actor: User | None = None) -> BankQuestion:
    data = copy.deepcopy(question.data)
    base = f"{question.key}-copy"
    taken = set(db.session.execute(
        select(BankQuestion.key).where(BankQuestion.bank_id == question.bank_id)).scalars())
    key, n = base, 2
    while key in taken:
        key, n = f"{base}-{n}", n + 1
    data["id"] = key
    return save_question(question.bank, data, actor=actor)


def delete_question(question: BankQuestion, actor: User | None = None) -> None:
    """Delete from the bank; published versions and attempts keep their own copies."""
    audit.record(question.organization_id, "quiz.question_deleted", actor=actor,
                 subject=question.bank, question=question.key)
    db.session.delete(question)
    db.session.flush()


def bank_questions(bank: QuestionBank) -> list[dict]:
    return [copy.deepcopy(q.data) for q in bank.questions]


# -- quiz drafts and publishing ------------------------------------------------------------

QUIZ_DEFAULTS = {"questions": 0, "pass_mark": 80, "attempts": 0, "cooldown_minutes": 0,
                 "time_limit_minutes": 0, "feedback": "after_submit", "show_answers": True,
                 "one_per_page": False, "banks": [], "tags": []}
FEEDBACK_TIMINGS = ("after_each", "after_submit", "after_pass")


def quizzes_of(organization_id: int) -> list[QuizVersion]:
    """The newest version (draft or published) of each quiz in the organisation."""
    newest = (select(QuizVersion.slug, func.max(QuizVersion.version).label("v"))
              .where(QuizVersion.organization_id == organization_id)
              .group_by(QuizVersion.slug).subquery())
    return list(db.session.execute(
        select(QuizVersion).join(newest, (QuizVersion.slug == newest.c.slug)
                                 & (QuizVersion.version == newest.c.v))
        .where(QuizVersion.organization_id == organization_id).order_by(QuizVersion.title)
    ).scalars())


def draft_of(organization_id: int, slug: str) -> QuizVersion | None:
    newest = latest_version(organization_id, slug)
    return newest if newest is not None and not newest.published else None


def settings_problems(organization_id: int, settings: dict) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    if not 0 <= int(settings.get("pass_mark", 80)) <= 100:
        problems["pass_mark"] = ["The pass mark is a percentage from 0 to 100."]
    for key in ("questions", "attempts", "cooldown_minutes", "time_limit_minutes"):
        if int(settings.get(key) or 0) < 0:
            problems[key] = ["Use 0 or a positive whole number."]
    if settings.get("feedback", "after_submit") not in FEEDBACK_TIMINGS:
        problems["feedback"] = [f"Choose one of {', '.join(FEEDBACK_TIMINGS)}."]
    for slug in settings.get("banks") or []:
        if bank_by_slug(organization_id, slug) is None:
            problems.setdefault("banks", []).append(f"There is no bank {slug!r}.")
    return problems


def save_draft(organization_id: int, slug: str, title: str, settings: dict,
               actor: User | None = None) -> QuizVersion:
    """Edit a quiz: the open draft is changed, or a new draft made; published ones never."""
    slug = slug.strip().lower()
    problems = settings_problems(organization_id, settings)
    if not SLUG_RE.match(slug):
        problems["slug"] = ["Use lowercase letters, digits and hyphens (up to 64)."]
    if not title.strip():
        problems["title"] = ["Give the quiz a title learners will recognise."]
    if problems:
        raise AuthoringError(problems)
    draft = draft_of(organization_id, slug)
    if draft is None:
        draft = QuizVersion(organization_id=organization_id, slug=slug,
                            version=next_version_number(organization_id, slug), published=False,
                            questions=[])
        db.session.add(draft)
    draft.title = title.strip()
    draft.settings = {**QUIZ_DEFAULTS, **settings}
    db.session.flush()
    audit.record(organization_id, "quiz.draft_saved", actor=actor, subject=draft,
                 version=draft.version)
    return draft


def draft_questions(draft: QuizVersion) -> list[dict]:
    """What publishing would freeze: every question of the draft's banks."""
    questions: list[dict] = []
    for slug in draft.settings.get("banks") or []:
        bank = bank_by_slug(draft.organization_id, slug)
        if bank is not None:
            questions.extend(bank_questions(bank))
    return questions


def pool_size(quiz: QuizVersion, questions: list[dict]) -> int:
    tags = set(quiz.settings.get("tags") or [])
    return sum(1 for q in questions if not tags or tags & set(q.get("tags") or []))


def publish_draft(draft: QuizVersion, actor: User | None = None) -> QuizVersion:
    """Freeze the draft with its banks' current questions; it becomes the live version."""
    if draft.published:
        raise QuizVersionImmutable("This version is already published; edit to make a draft.")
    questions = draft_questions(draft)
    problems = [f"question {q.get('id')!r}: {p}" for q in questions for p in question_problems(q)]
    keys = [q.get("id") for q in questions]
    problems += [f"question id {k!r} is in more than one of the chosen banks"
                 for k in sorted({k for k in keys if keys.count(k) > 1})]
    available = pool_size(draft, questions)
    if available == 0:
        problems.append("no questions to draw: choose banks (and tags) that hold questions")
    elif int(draft.settings.get("questions") or 0) > available:
        problems.append(f"the quiz draws {draft.settings['questions']} questions but the chosen "
                        f"banks and tags hold only {available}")
    if problems:
        raise AuthoringError({"": problems})
    draft.questions = questions
    draft.published = True
    draft.published_at = utcnow()
    db.session.flush()
    audit.record(draft.organization_id, "quiz.published", actor=actor,
                 subject=draft, version=draft.version)
    return draft


def edit_published(quiz: QuizVersion, actor: User | None = None) -> QuizVersion:
    """Start editing a published quiz: a draft carrying its settings (or the open draft)."""
    draft = draft_of(quiz.organization_id, quiz.slug)
    if draft is not None:
        return draft
    return save_draft(quiz.organization_id, quiz.slug, quiz.title, dict(quiz.settings), actor)


def guard_immutable(quiz: QuizVersion) -> None:
    if quiz.published:
        raise QuizVersionImmutable("A published quiz cannot be changed; edit it to make a draft.")




# -- import and export ---------------------------------------------------------------------

FORMATS = ("gift", "yaml")


@dataclass(frozen=True)
class FileImport:
    imported: list[str]  # ids of the questions imported
    problems: list[str]  # every problem, by line (GIFT) or question number (YAML)


def import_file(bank: QuestionBank, kind: str, text: str, *, valid_only: bool = False,
                replace: bool = False, actor: User | None = None) -> FileImport:
    """Import a GIFT or YAML file into ``bank``.

    All or nothing by default: any problem raises ``AuthoringError`` listing every one and
    nothing is written. With ``valid_only`` the valid questions are imported and the
    problems are returned for the trainer to fix.
    """
    from .core import bankfile, gift

    if kind == "gift":
        parsed = gift.parse(text)
        problems = [str(p) for p in parsed.problems]
        candidates = list(zip(parsed.questions, [f"line {n}" for n in parsed.lines],
                              strict=True))
    elif kind == "yaml":
        questions, problems = bankfile.load(text)
        candidates = [(q, f"question {number}") for number, q in questions]
    else:
        raise AuthoringError({"kind": [f"Choose a format: {', '.join(FORMATS)}."]})
    existing = {q.key for q in bank.questions}
    valid: list[dict] = []
    seen: set[str] = set()
    for question, where in candidates:
        cleaned = clean_question(question)
        qid = cleaned.get("id")
        found = question_problems(cleaned)
        if qid in seen:
            found.append(f"id {qid!r} appears twice in the file")
        if qid in existing and not replace:
            found.append(f"id {qid!r} is already in the bank (tick 'replace questions with "
                         "the same id' to update it)")
        seen.add(qid)
        problems += [f"{where} ({qid!r}): {p}" for p in found]
        if not found:
            valid.append(cleaned)
    if not candidates and not problems:
        problems.append("the file holds no questions")
    if problems and not valid_only:
        raise AuthoringError({"file": problems})
    current = {q.key: q for q in bank.questions}
    for question in valid:
        save_question(bank, question, current.get(question["id"]), actor=actor)
    audit.record(bank.organization_id, "quiz.bank_imported", actor=actor,
                 subject=bank, format=kind, imported=len(valid),
                 problems=len(problems))
    return FileImport([q["id"] for q in valid], problems)


def export_file(bank: QuestionBank, kind: str) -> tuple[str, list[str]]:
    """The bank as GIFT (with the ids GIFT cannot express) or as module YAML."""
    from .core import bankfile, gift

    questions = bank_questions(bank)
    if kind == "gift":
        return gift.export(questions)
    return bankfile.dump(questions), []
