"""Item analysis: per question, how often it is answered right, how well it separates strong
from weak learners (discrimination index, upper and lower 27%), and the most chosen wrong
option; plus a server-rendered SVG chart readable without colour. Framework-free."""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

from .types import QUESTION_TYPES

GROUP_SHARE = 0.27  # Kelley's upper and lower groups
LOW_CORRECT = 30.0  # percent correct below which a question is flagged
LOW_DISCRIMINATION = 0.2  # a discrimination index below this is flagged


@dataclass(frozen=True)
class ItemStats:
    question_id: str
    prompt: str
    attempts: int
    percent_correct: float
    discrimination: float | None  # None until both groups have seen the question
    wrong_choice: str | None  # text of the most chosen wrong option
    wrong_choice_count: int

    @property
    def flags(self) -> list[str]:
        found = []
        if self.attempts and self.percent_correct < LOW_CORRECT:
            found.append("few answer it right")
        if self.discrimination is not None and self.discrimination < LOW_DISCRIMINATION:
            found.append("does not separate strong from weak learners")
        return found


def analyse(attempts: list[dict]) -> list[ItemStats]:
    """``attempts``: graded attempts as ``{"percent", "results", "snapshot"}`` dicts."""
    ranked = sorted(attempts, key=lambda a: a["percent"])
    size = math.ceil(len(ranked) * GROUP_SHARE) if len(ranked) >= 2 else 0
    lower = {id(a) for a in ranked[:size]}
    upper = {id(a) for a in ranked[len(ranked) - size:]} if size else set()
    questions: dict[str, dict] = {}
    for attempt in attempts:
        for item in attempt.get("snapshot") or []:
            questions.setdefault(item["question"]["id"], item["question"])
    stats = []
    for qid, question in questions.items():
        seen = [a for a in attempts if qid in (a.get("results") or {})]
        right = [a for a in seen if a["results"][qid].get("correct")]
        up = [a for a in seen if id(a) in upper]
        low = [a for a in seen if id(a) in lower]
        discrimination = None
        if up and low:
            p_up = sum(1 for a in up if a["results"][qid].get("correct")) / len(up)
            p_low = sum(1 for a in low if a["results"][qid].get("correct")) / len(low)
            discrimination = round(p_up - p_low, 2)
        kind = QUESTION_TYPES.get(question.get("type"))
        wrong_text, wrong_count = None, 0
        if kind is not None:
            key = kind.key(question)
            choices = kind.choices(question)
            counts: dict[int, int] = {}
            for attempt in seen:
                for index in attempt["results"][qid].get("chosen", []):
                    if index not in key and 0 <= index < len(choices):
                        counts[index] = counts.get(index, 0) + 1
            if counts:
                index = max(sorted(counts), key=lambda i: counts[i])
                wrong_text, wrong_count = choices[index], counts[index]
        stats.append(ItemStats(
            question_id=qid, prompt=str(question.get("prompt", "")), attempts=len(seen),
            percent_correct=round(100.0 * len(right) / len(seen), 1) if seen else 0.0,
            discrimination=discrimination, wrong_choice=wrong_text,
            wrong_choice_count=wrong_count,
        ))
    return sorted(stats, key=lambda s: s.percent_correct)


def chart_svg(stats: list[ItemStats], title: str = "Percent correct per question") -> str:
    """Horizontal bars with their numbers written beside them; flagged questions are hatched
    and labelled, so nothing depends on telling colours apart."""
    row, left, width = 34, 220, 360
    height = 60 + row * max(len(stats), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="chart-title '
        f'chart-desc" width="{left + width + 260}" height="{height}" '
        f'viewBox="0 0 {left + width + 260} {height}" font-family="sans-serif" font-size="13">',
        f'<title id="chart-title">{escape(title)}</title>',
        '<desc id="chart-desc">One bar per question: its length is the percent of attempts '
        'that answered it right; hatched bars marked "review" are flagged.</desc>',
        '<defs><pattern id="hatch" patternUnits="userSpaceOnUse" width="8" height="8" '
        'patternTransform="rotate(45)"><rect width="8" height="8" fill="#ffffff"/>'
        '<line x1="0" y1="0" x2="0" y2="8" stroke="#000000" stroke-width="3"/></pattern></defs>',
        f'<text x="{left}" y="20" font-weight="bold">{escape(title)}</text>',
    ]
    for tick in (0, 50, 100):
        x = left + width * tick / 100
        parts.append(f'<line x1="{x}" y1="30" x2="{x}" y2="{height - 10}" stroke="#767676" '
                     'stroke-dasharray="2,3"/>')
        parts.append(f'<text x="{x}" y="{height}" text-anchor="middle" font-size="11">'
                     f'{tick}%</text>')
    if not stats:
        parts.append(f'<text x="{left}" y="60">No graded attempts yet.</text>')
    for n, item in enumerate(stats):
        y = 36 + n * row
        bar = width * item.percent_correct / 100
        fill = "url(#hatch)" if item.flags else "#1f4e79"
        label = item.question_id if len(item.question_id) <= 28 else item.question_id[:27] + "…"
        d = "n/a" if item.discrimination is None else f"{item.discrimination:+.2f}"
        parts.append(f'<text x="{left - 8}" y="{y + 17}" text-anchor="end">{escape(label)}</text>')
        parts.append(f'<rect x="{left}" y="{y + 4}" width="{bar:.1f}" height="18" fill="{fill}" '
                     'stroke="#000000" stroke-width="1"/>')
        note = f"{item.percent_correct:g}% right · D {d} · n={item.attempts}"
        if item.flags:
            note += " · REVIEW"
        parts.append(f'<text x="{left + width + 8}" y="{y + 17}">{escape(note)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)
