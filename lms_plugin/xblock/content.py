"""The block's view of a module: loading it by slug and running practice and quiz, no XBlock here.

Kept apart from the block class so that it is plain Python, testable on its own, and built
only from ``content_modules`` and ``quizzes.core``.
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from content_modules import LIBRARY, Module, discover, load_module
from quizzes.core import explain, grade, public_view
from quizzes.core.scoring import AttemptResult, draw, score_attempt, shown

DEFAULT_PASS_MARK = 80
REPORT_TIMEOUT_SECONDS = 10


def library_roots() -> tuple[Path, ...]:
    """The shipped library, then any folders in CLEARED_MODULE_DIRS (os.pathsep-separated)."""
    extra = os.environ.get("CLEARED_MODULE_DIRS", "")
    return (LIBRARY, *(Path(p) for p in extra.split(os.pathsep) if p))


@cache
def _load(roots: tuple[Path, ...]) -> dict[str, Module]:
    found = {}
    for root in roots:
        for folder in discover(root):
            try:
                module = load_module(folder)
            except ValueError:
                continue  # an invalid folder is reported by `cleared` tooling, not the block
            found.setdefault(module.slug, module)
    return found


def modules() -> dict[str, Module]:
    """Every valid module, by slug (loaded once per process and set of folders)."""
    return _load(library_roots())


def module(slug: str) -> Module | None:
    return modules().get(slug)


def questions_by_id(mod: Module) -> dict[str, dict]:
    return {q["id"]: q for q in mod.questions}


def pass_mark(mod: Module, override: int | None) -> int:
    if override is not None:
        return int(override)
    return int(mod.quiz.get("pass_mark", DEFAULT_PASS_MARK)) if mod.quiz else DEFAULT_PASS_MARK


def attempts_allowed(mod: Module) -> int | None:
    return mod.quiz.get("attempts") if mod.quiz else None


def retry_at(mod: Module, last_attempt_iso: str) -> datetime | None:
    """When the next attempt may start after a failed one (the module's cooldown), or None."""
    minutes = int(mod.quiz.get("cooldown_minutes", 0) or 0) if mod.quiz else 0
    if not minutes or not last_attempt_iso:
        return None
    moment = datetime.fromisoformat(last_attempt_iso) + timedelta(minutes=minutes)
    return moment if moment > now() else None


def now() -> datetime:
    return datetime.now(UTC)


def new_attempt(mod: Module) -> tuple[int, list[str], list[dict]]:
    """A fresh draw: ``(seed, question ids, public views)``; answers never leave the server."""
    seed = secrets.randbelow(2**31)
    count = int(mod.quiz.get("questions", len(mod.questions))) if mod.quiz else 0
    ids = draw(mod.questions, count, seed)
    return seed, ids, shown(questions_by_id(mod), ids, seed)


def public_questions(mod: Module, ids: list[str], seed: int) -> list[dict]:
    return shown(questions_by_id(mod), ids, seed)


def score(mod: Module, ids: list[str], responses: dict, mark: int) -> AttemptResult:
    clean = {qid: responses.get(qid, []) for qid in ids}
    return score_attempt(questions_by_id(mod), ids, clean, mark)


def practice_item(mod: Module, lesson_slug: str, item_id: str) -> dict | None:
    lesson = mod.lesson(lesson_slug)
    if lesson is None:
        return None
    item = next((q for q in lesson.practice if q.get("id") == item_id), None)
    return practice_question(item) if item is not None else None


def practice_question(item: dict) -> dict:
    """Practice items are single choice unless they say otherwise (docs/module-format.md)."""
    return {"type": "single_choice", **item}


def check_practice(item: dict, response) -> dict:
    """Right away, and why: the practice exercise's verdict, key and feedback."""
    graded = grade(item, response)
    # explain() gives "correct" (the key's indexes), "feedback" and "explanation".
    return {**explain(item), "is_correct": graded.correct, "chosen": list(graded.chosen)}


class ReportFailed(Exception):
    """The service did not accept the completion report (the message says why)."""


def report_completion(service_url: str, api_key: str, payload: dict) -> dict:
    """POST the completion to the service's API; returns its JSON answer."""
    url = service_url.rstrip("/") + "/api/v1/completions"
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ReportFailed(f"the service URL {service_url!r} is not an http(s) address")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=json.dumps(payload).encode(), method="POST",
        headers={"Content-Type": "application/json", "Accept": "application/json",
                 "Authorization": f"Bearer {api_key}"})
    try:
        with urllib.request.urlopen(request, timeout=REPORT_TIMEOUT_SECONDS) as response:  # noqa: S310
            return json.loads(response.read(1_000_000) or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read(4000)).get("error", {}).get("message", "")
        except ValueError:
            detail = ""
        finally:
            exc.close()
        raise ReportFailed(f"the service answered {exc.code}"
                           + (f": {detail}" if detail else "")) from exc
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as exc:
        raise ReportFailed(f"the service could not be reached ({exc})") from exc


def public_questions_for_practice(item: dict) -> dict:
    """A practice exercise as the learner sees it before answering (unshuffled)."""
    return public_view(practice_question(item))
