"""Quiz engine: scoring an attempt and parsing a GIFT file, against a plain dict copy."""

from __future__ import annotations

import copy
import statistics
import time


def _median_ms(call, repeat: int = 200) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def _bank(size: int) -> list[dict]:
    bank = []
    for n in range(size):
        bank.append({"id": f"q{n}", "type": "single_choice", "prompt": f"Question {n}?",
                     "tags": ["t"], "explanation": "Because.",
                     "options": [{"text": f"Option {i}", "correct": i == 0,
                                  "feedback": f"Feedback {i}"} for i in range(4)]})
    return bank


def run() -> list[str]:
    from quizzes.core import gift
    from quizzes.core.scoring import draw, score_attempt, shown

    bank = _bank(200)
    by_id = {q["id"]: q for q in bank}
    ids = draw(bank, 20, seed=1)
    responses = {qid: ["0"] for qid in ids}
    baseline = _median_ms(lambda: copy.deepcopy(bank[:20]))
    scoring = _median_ms(lambda: score_attempt(by_id, ids, responses, 80))
    showing = _median_ms(lambda: shown(by_id, ids, 7))
    text, _ = gift.export(bank)
    parsing = _median_ms(lambda: gift.parse(text), repeat=20)
    return [
        f"deepcopy of 20 questions median {baseline:.3f} ms (baseline)",
        f"score a 20-question attempt median {scoring:.3f} ms, {scoring / baseline:.1f}x",
        f"public views of 20 questions median {showing:.3f} ms, {showing / baseline:.1f}x",
        f"parse a 200-question GIFT file median {parsing:.2f} ms, {parsing / baseline:.1f}x",
    ]
