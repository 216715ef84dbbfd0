"""The framework-free heart of quizzes: question types, drawing, shuffling and scoring."""

from .types import (
    QUESTION_TYPES,
    Graded,
    QuestionType,
    authoring_problems,
    explain,
    grade,
    public_view,
)

__all__ = [
    "QUESTION_TYPES",
    "Graded",
    "QuestionType",
    "authoring_problems",
    "explain",
    "grade",
    "public_view",
]
