"""Practice exercises inside lessons: the answer and its feedback. Never part of a grade."""

from __future__ import annotations

from dataclasses import dataclass

from .loader import Lesson


class PracticeNotFound(LookupError):
    """The lesson has no such exercise."""


class InvalidChoice(ValueError):
    """The choice is not one of the exercise's options."""


@dataclass(frozen=True)
class PracticeFeedback:
    practice_id: str
    choice: int
    correct: bool
    feedback: str
    best: list[str]  # the text of the right option(s), shown when the choice was wrong

    def as_json(self) -> dict:
        return {"practice_id": self.practice_id, "choice": self.choice, "correct": self.correct,
                "feedback": self.feedback, "best": self.best}


def find_practice(lesson: Lesson, practice_id: str) -> dict:
    for item in lesson.practice:
        if item.get("id") == practice_id:
            return item
    raise PracticeNotFound(f"lesson {lesson.slug!r} has no practice exercise {practice_id!r}")


def answer_practice(lesson: Lesson, practice_id: str, choice: int) -> PracticeFeedback:
    """The feedback for choosing option ``choice`` (0-based) in one of the lesson's exercises."""
    item = find_practice(lesson, practice_id)
    options = item.get("options") or []
    if not 0 <= choice < len(options):
        raise InvalidChoice(f"choose one of the {len(options)} options")
    picked = options[choice]
    return PracticeFeedback(
        practice_id=practice_id, choice=choice, correct=bool(picked.get("correct")),
        feedback=str(picked.get("feedback", "")),
        best=[] if picked.get("correct") else [o["text"] for o in options if o.get("correct")],
    )
