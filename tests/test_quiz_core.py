"""Question types: grading on the server's data and views that never reveal the answer."""

from __future__ import annotations

import random

import pytest

from quizzes.core import authoring_problems, explain, grade, public_view
from quizzes.core.scoring import draw, score_attempt, shown

SINGLE = {"id": "s", "type": "single_choice", "prompt": "Pick",
          "options": [{"text": "A", "correct": False, "feedback": "no-A"},
                      {"text": "B", "correct": True, "feedback": "yes-B"}],
          "explanation": "because B"}
MULTI = {"id": "m", "type": "multiple_response", "prompt": "Pick all", "partial_credit": True,
         "options": [{"text": "A", "correct": True}, {"text": "B", "correct": True},
                     {"text": "C", "correct": False}]}
TF = {"id": "t", "type": "true_false", "prompt": "True?", "answer": False}
SPOT = {"id": "p", "type": "spot_the_problem", "prompt": "Spot",
        "segments": [{"text": "fine", "problem": False}, {"text": "leak", "problem": True},
                     {"text": "fine too", "problem": False}]}
REPLY = {"id": "r", "type": "best_reply", "prompt": "Reply", "comment": "Your app is broken!",
         "options": [{"text": "Calm reply", "correct": True, "feedback": "Kind and helpful."},
                     {"text": "Rude reply", "correct": False, "feedback": "Never argue."}]}
ALL = [SINGLE, MULTI, TF, SPOT, REPLY]


@pytest.mark.parametrize("question", ALL, ids=lambda q: q["type"])
def test_public_view_reveals_no_answer_feedback_or_explanation(question):
    view = public_view(question, random.Random(1))
    assert set(view) <= {"id", "type", "prompt", "multiple", "choices", "post", "comment"}
    assert all(set(choice) == {"index", "text"} for choice in view["choices"])
    flat = repr(view)
    assert "feedback" not in flat and "because" not in flat and "Kind and helpful" not in flat
    assert sorted(c["index"] for c in view["choices"]) == list(range(len(view["choices"])))


def test_grading_uses_the_key_and_ignores_junk():
    assert grade(SINGLE, ["1"]).correct
    assert not grade(SINGLE, ["0"]).correct
    assert not grade(SINGLE, ["0", "1"]).correct  # two picks for a single choice
    assert not grade(SINGLE, ["99", "x", None]).correct
    assert grade(TF, ["1"]).correct and not grade(TF, ["0"]).correct
    assert grade(SPOT, ["1"]).correct
    assert grade(REPLY, ["0"]).correct


def test_partial_credit_rewards_right_picks_and_penalises_wrong_ones():
    assert grade(MULTI, ["0", "1"]).score == 1.0
    assert grade(MULTI, ["0"]).score == 0.5
    assert grade(MULTI, ["0", "2"]).score == 0.0
    strict = {**MULTI, "partial_credit": False}
    assert grade(strict, ["0"]).score == 0.0


def test_explain_gives_key_feedback_and_explanation_after_submitting():
    explained = explain(SINGLE)
    assert explained["correct"] == [1]
    assert explained["feedback"][0] == "no-A"
    assert explained["explanation"] == "because B"


def test_authoring_problems_say_what_is_wrong():
    two_right = {**SINGLE, "options": [{"text": "A", "correct": True},
                                       {"text": "B", "correct": True}]}
    assert authoring_problems(two_right) == ["single choice needs exactly one correct option"]
    assert "needs at least one segment marked as a problem" in " ".join(
        authoring_problems({**SPOT, "segments": [{"text": "a", "problem": False},
                                                 {"text": "b", "problem": False}]}))
    assert "unknown question type" in authoring_problems({"type": "essay"})[0]
    assert all(authoring_problems(q) == [] for q in ALL)


def test_draw_and_order_are_repeatable_for_the_same_seed():
    bank = [{**SINGLE, "id": f"q{i}"} for i in range(10)]
    by_id = {q["id"]: q for q in bank}
    ids = draw(bank, 5, seed=42)
    assert ids == draw(bank, 5, seed=42) and len(set(ids)) == 5
    assert shown(by_id, ids, 42) == shown(by_id, ids, 42)


def test_score_attempt_counts_unanswered_as_wrong():
    by_id = {q["id"]: q for q in ALL}
    result = score_attempt(by_id, ["s", "t"], {"s": ["1"]}, pass_mark=50)
    assert result.percent == 50.0 and result.passed
