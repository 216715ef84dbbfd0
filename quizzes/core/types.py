"""Question types: one class per type, in a registry (the CTFd challenge pattern).

Each type knows how to validate its authoring data, show itself without revealing the answer,
grade a response using only its own (server-side) data, and explain the right answer.
A question is a plain dict as written in a quiz bank (see docs/module-format.md); options are
addressed by their index in that dict, and shuffling only changes the order they are shown in.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class Graded:
    score: float  # 0.0 .. 1.0 of the question's points
    correct: bool
    chosen: tuple[int, ...]  # option/segment indexes the learner selected


class QuestionType:
    name: ClassVar[str]
    label: ClassVar[str]
    multiple: ClassVar[bool] = False  # whether several options may be chosen

    # -- authoring ---------------------------------------------------------------------
    def problems(self, q: dict) -> list[str]:
        found = []
        if not str(q.get("prompt", "")).strip():
            found.append("the question has no prompt: write what the learner must decide")
        return found

    # -- showing -----------------------------------------------------------------------
    def choices(self, q: dict) -> list[str]:
        return [str(o["text"]) for o in q.get("options", [])]

    def public(self, q: dict, rng: random.Random | None = None) -> dict:
        """What the learner may see before submitting: no correctness, feedback or explanation."""
        order = list(range(len(self.choices(q))))
        if rng is not None and self.shuffles:
            rng.shuffle(order)
        view = {
            "id": q["id"],
            "type": self.name,
            "prompt": q["prompt"],
            "multiple": self.multiple,
            "choices": [{"index": i, "text": self.choices(q)[i]} for i in order],
        }
        for context in ("post", "comment"):
            if q.get(context):
                view[context] = q[context]
        return view

    shuffles: ClassVar[bool] = True

    # -- grading -----------------------------------------------------------------------
    def key(self, q: dict) -> set[int]:
        return {i for i, o in enumerate(q.get("options", [])) if o.get("correct")}

    def parse(self, q: dict, response: Any) -> tuple[int, ...]:
        """Keep only valid choice indexes from whatever the client sent."""
        values = response if isinstance(response, list | tuple) else [response]
        count = len(self.choices(q))
        chosen = set()
        for value in values:
            try:
                index = int(value)
            except (TypeError, ValueError):
                continue
            if 0 <= index < count:
                chosen.add(index)
        if not self.multiple and len(chosen) > 1:
            return ()
        return tuple(sorted(chosen))

    def grade(self, q: dict, response: Any) -> Graded:
        chosen = self.parse(q, response)
        ok = set(chosen) == self.key(q)
        return Graded(1.0 if ok else 0.0, ok, chosen)

    def feedback(self, q: dict, index: int) -> str:
        options = q.get("options", [])
        return str(options[index].get("feedback", "")) if 0 <= index < len(options) else ""

    def explain(self, q: dict) -> dict:
        """Everything to show after submitting: the key, per-choice feedback, the explanation."""
        return {
            "correct": sorted(self.key(q)),
            "feedback": {i: self.feedback(q, i) for i in range(len(self.choices(q)))},
            "explanation": q.get("explanation", ""),
        }


QUESTION_TYPES: dict[str, QuestionType] = {}


def register(cls: type[QuestionType]) -> type[QuestionType]:
    QUESTION_TYPES[cls.name] = cls()
    return cls


def _option_problems(q: dict, minimum: int = 2) -> list[str]:
    options = q.get("options")
    if not isinstance(options, list) or len(options) < minimum:
        return [f"needs at least {minimum} options"]
    found = []
    seen: dict[str, int] = {}
    for number, option in enumerate(options, start=1):
        if not isinstance(option, dict) or not str(option.get("text", "")).strip():
            found.append(f"option {number} has no text")
            continue
        text = str(option["text"]).strip().lower()
        if text in seen:
            found.append(f"option {number} repeats option {seen[text]}: make each one different")
        seen.setdefault(text, number)
    return found


@register
class SingleChoice(QuestionType):
    name = "single_choice"
    label = "Single choice"

    def problems(self, q: dict) -> list[str]:
        found = super().problems(q) + _option_problems(q)
        if not found and len(self.key(q)) != 1:
            found.append("single choice needs exactly one correct option")
        return found


@register
class BestReply(SingleChoice):
    name = "best_reply"
    label = "Best reply"

    def problems(self, q: dict) -> list[str]:
        found = super().problems(q)
        found = [f.replace("single choice", "best reply") for f in found]
        if not str(q.get("comment", "")).strip():
            found.append("best reply needs the comment or complaint being answered")
        for number, option in enumerate(q.get("options") or [], start=1):
            if isinstance(option, dict) and not str(option.get("feedback", "")).strip():
                found.append(f"reply {number} needs its own feedback")
        return found


@register
class MultipleResponse(QuestionType):
    name = "multiple_response"
    label = "Multiple response"
    multiple = True

    def problems(self, q: dict) -> list[str]:
        found = super().problems(q) + _option_problems(q)
        if not found and not self.key(q):
            found.append("multiple response needs at least one correct option")
        return found

    def grade(self, q: dict, response: Any) -> Graded:
        chosen = set(self.parse(q, response))
        key = self.key(q)
        if chosen == key:
            return Graded(1.0, True, tuple(sorted(chosen)))
        if not q.get("partial_credit"):
            return Graded(0.0, False, tuple(sorted(chosen)))
        # Each right pick earns a share; each wrong pick costs a share; never below zero.
        return Graded(_partial(chosen, key, len(self.choices(q))), False, tuple(sorted(chosen)))


@register
class TrueFalse(QuestionType):
    name = "true_false"
    label = "True or false"
    shuffles = False

    def choices(self, q: dict) -> list[str]:
        return ["True", "False"]

    def key(self, q: dict) -> set[int]:
        return {0 if q.get("answer") else 1}

    def problems(self, q: dict) -> list[str]:
        found = super().problems(q)
        if not isinstance(q.get("answer"), bool):
            found.append("true or false needs 'answer' set to true or false")
        return found

    def feedback(self, q: dict, index: int) -> str:
        return str(q.get("feedback_true" if index == 0 else "feedback_false", ""))


@register
class SpotTheProblem(QuestionType):
    name = "spot_the_problem"
    label = "Spot the problem"
    multiple = True
    shuffles = False  # the segments are a post: their order is its meaning

    def choices(self, q: dict) -> list[str]:
        return [str(s["text"]) for s in q.get("segments", [])]

    def key(self, q: dict) -> set[int]:
        return {i for i, s in enumerate(q.get("segments", [])) if s.get("problem")}

    def feedback(self, q: dict, index: int) -> str:
        segments = q.get("segments", [])
        return str(segments[index].get("feedback", "")) if 0 <= index < len(segments) else ""

    def problems(self, q: dict) -> list[str]:
        found = super().problems(q)
        segments = q.get("segments")
        if not isinstance(segments, list) or len(segments) < 2:
            return found + ["spot the problem needs the post split into at least 2 segments"]
        for number, segment in enumerate(segments, start=1):
            if not isinstance(segment, dict) or not str(segment.get("text", "")).strip():
                found.append(f"segment {number} has no text")
        if len(found) > len(super().problems(q)):
            return found
        if not self.key(q):
            found.append("spot the problem needs at least one segment marked as a problem")
        return found

    def grade(self, q: dict, response: Any) -> Graded:
        chosen = set(self.parse(q, response))
        key = self.key(q)
        if chosen == key:
            return Graded(1.0, True, tuple(sorted(chosen)))
        # A share for each problem found, minus a share for each harmless part flagged, so
        # selecting nothing (or everything) earns nothing.
        return Graded(_partial(chosen, key, len(self.choices(q))), False, tuple(sorted(chosen)))


def _partial(chosen: set[int], key: set[int], total: int) -> float:
    wrong = total - len(key)
    gained = len(chosen & key) / len(key) if key else 0.0
    lost = len(chosen - key) / wrong if wrong else 0.0
    return max(0.0, gained - lost)


def _type_of(q: dict) -> QuestionType:
    kind = q.get("type")
    if kind not in QUESTION_TYPES:
        raise KeyError(f"unknown question type {kind!r}")
    return QUESTION_TYPES[kind]


def authoring_problems(q: dict) -> list[str]:
    if q.get("type") not in QUESTION_TYPES:
        return [f"unknown question type {q.get('type')!r}: choose from {', '.join(QUESTION_TYPES)}"]
    return _type_of(q).problems(q)


def public_view(q: dict, rng: random.Random | None = None) -> dict:
    return _type_of(q).public(q, rng)


def grade(q: dict, response: Any) -> Graded:
    return _type_of(q).grade(q, response)


def explain(q: dict) -> dict:
    return _type_of(q).explain(q)
