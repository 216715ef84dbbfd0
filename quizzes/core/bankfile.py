"""The module YAML question-bank format (docs/module-format.md) read and written, framework-free."""

from __future__ import annotations

import yaml


def load(text: str) -> tuple[list[tuple[int, dict]], list[str]]:
    """The questions of a ``quiz.yaml`` text as (number in the file, question) pairs, and
    every problem found (with line numbers for syntax errors)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        reason = getattr(exc, "problem", None) or "the file is not valid YAML"
        return [], [f"{where}{reason}"]
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        return [], ["the file must be a mapping with a 'questions:' list "
                    "(see docs/module-format.md)"]
    questions, problems = [], []
    for number, question in enumerate(data["questions"], start=1):
        if not isinstance(question, dict):
            problems.append(f"question {number}: each question must be a mapping "
                            "with id, type and prompt")
            continue
        questions.append((number, question))
    return questions, problems


def dump(questions: list[dict]) -> str:
    """A ``quiz.yaml`` text that ``load`` (and the module loader) reads back unchanged."""
    return yaml.safe_dump({"questions": questions}, sort_keys=False, allow_unicode=True,
                          width=100)
