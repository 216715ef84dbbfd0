"""Drawing an attempt's questions and scoring a whole attempt, framework-free."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .types import Graded, grade, public_view


def draw(questions: list[dict], count: int, seed: int, tags: list[str] | None = None) -> list[str]:
    """The ids of the questions an attempt shows, in the order shown. Same seed, same draw."""
    pool = [q for q in questions if not tags or set(tags) & set(q.get("tags") or [])]
    rng = random.Random(seed)
    chosen = rng.sample(pool, min(count, len(pool))) if count else list(pool)
    rng.shuffle(chosen)
    return [q["id"] for q in chosen]


def shown(questions_by_id: dict[str, dict], ids: list[str], seed: int) -> list[dict]:
    """The public views of an attempt's questions, options in the attempt's own order."""
    rng = random.Random(seed + 1)
    return [public_view(questions_by_id[qid], rng) for qid in ids]


@dataclass(frozen=True)
class AttemptResult:
    percent: float
    passed: bool
    per_question: dict[str, Graded]


def score_attempt(
    questions_by_id: dict[str, dict], ids: list[str], responses: dict, pass_mark: int
) -> AttemptResult:
    """Grade every shown question from the server's copy; unanswered counts as wrong."""
    per_question: dict[str, Graded] = {}
    earned = possible = 0.0
    for qid in ids:
        question = questions_by_id[qid]
        points = float(question.get("points", 1))
        result = grade(question, responses.get(qid, []))
        per_question[qid] = result
        earned += result.score * points
        possible += points
    percent = round(100.0 * earned / possible, 2) if possible else 0.0
    return AttemptResult(percent, percent >= pass_mark, per_question)
