"""The question-type registry: authoring checks, public views without secrets, grading."""

from __future__ import annotations

import copy
import json
import random

import pytest

from quizzes.core import QUESTION_TYPES, authoring_problems, explain, grade, public_view
from quizzes.core.scoring import draw, score_attempt, shown

from .quiz_samples import BY_ID, QUESTIONS


def test_every_type_is_registered():
    assert set(QUESTION_TYPES) == {"single_choice", "multiple_response", "true_false",
                                   "spot_the_problem", "best_reply"}


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q["type"])
def test_valid_questions_have_no_problems(question):
    assert authoring_problems(question) == []


@pytest.mark.parametrize("question", QUESTIONS, ids=lambda q: q["type"])
def test_public_view_hides_key_feedback_and_explanation(question):
    view = public_view(question, random.Random(3))
    assert "SECRET" not in json.dumps(view)
    assert set(view) <= {"id", "type", "prompt", "multiple", "choices", "comment", "post"}
    for choice in view["choices"]:
        assert set(choice) == {"index", "text"}


def _broken(qid: str, **changes) -> dict:
    question = copy.deepcopy(BY_ID[qid])
    question.update(changes)
    return question


def test_single_choice_needs_exactly_one_correct_option():
    two = _broken("sc")
    two["options"][1]["correct"] = True
    assert authoring_problems(two) == ["single choice needs exactly one correct option"]
    none = _broken("sc")
    none["options"][0]["correct"] = False
    assert authoring_problems(none) == ["single choice needs exactly one correct option"]


def test_authoring_problems_say_what_is_wrong():
    assert "the question has no prompt" in authoring_problems(_broken("sc", prompt=" "))[0]
    assert authoring_problems(_broken("sc", options=[{"text": "only"}])) == [
        "needs at least 2 options"]
    assert authoring_problems(_broken("mr", options=[{"text": "a"}, {"text": "b"}])) == [
        "multiple response needs at least one correct option"]
    assert authoring_problems(_broken("tf", answer="yes")) == [
        "true or false needs 'answer' set to true or false"]
    assert authoring_problems(_broken("sp", segments=[{"text": "a", "problem": False},
                                                      {"text": "b"}])) == [
        "spot the problem needs at least one segment marked as a problem"]
    reply = _broken("br", comment="")
    reply["options"][2]["feedback"] = ""
    assert authoring_problems(reply) == [
        "best reply needs the comment or complaint being answered",
        "reply 3 needs its own feedback"]
    assert "unknown question type 'essay'" in authoring_problems({"type": "essay"})[0]


def test_multiple_response_partial_credit_is_optional():
    partial = BY_ID["mr"]
    assert grade(partial, ["0", "1"]).score == 1.0
    assert grade(partial, ["0"]).score == 0.5
    assert grade(partial, ["0", "2"]).score == 0.0  # one right, one wrong: cancels out
    assert grade(partial, ["0", "1", "2", "3"]).score == 0.0  # ticking everything earns nothing
    strict = _broken("mr", partial_credit=False)
    assert grade(strict, ["0"]).score == 0.0


def test_spot_the_problem_credits_problems_found_and_costs_false_alarms():
    question = BY_ID["sp"]
    assert grade(question, ["1"]).correct
    assert grade(question, []).score == 0.0
    assert grade(question, ["0", "1", "2"]).score == 0.0
    assert grade(question, ["1", "2"]).score == 0.5


def test_grading_ignores_junk_and_out_of_range_choices():
    assert grade(BY_ID["sc"], ["0", "99", "x", None]).correct
    assert not grade(BY_ID["sc"], ["0", "1"]).correct  # two picks on a single choice
    assert grade(BY_ID["tf"], "0").correct


def test_explain_gives_per_option_feedback_and_explanation():
    detail = explain(BY_ID["br"])
    assert detail["correct"] == [0]
    assert detail["feedback"] == {0: "SECRET-FB-br-0", 1: "SECRET-FB-br-1", 2: "SECRET-FB-br-2"}
    assert detail["explanation"] == "SECRET-EXPL-br"
    assert explain(BY_ID["tf"])["feedback"] == {0: "SECRET-FB-tf-0", 1: "SECRET-FB-tf-1"}


def test_draw_by_tag_and_seeded_shuffle_are_repeatable():
    ids = draw(QUESTIONS, 2, seed=7, tags=["confidentiality"])
    assert sorted(ids) == ["sc", "sp"]
    assert draw(QUESTIONS, 2, seed=7, tags=["confidentiality"]) == ids
    assert shown(BY_ID, ["sc", "br"], 11) == shown(BY_ID, ["sc", "br"], 11)
    orders = {tuple(c["index"] for c in shown(BY_ID, ["sc"], seed)[0]["choices"])
              for seed in range(30)}
    assert len(orders) > 1  # options really are shuffled between attempts
    # Spot the problem keeps the post in order: its order is its meaning.
    assert [c["index"] for c in shown(BY_ID, ["sp"], 5)[0]["choices"]] == [0, 1, 2]


def test_score_attempt_weights_points_and_counts_unanswered_as_wrong():
    bank = {"sc": dict(BY_ID["sc"], points=3), "tf": BY_ID["tf"]}
    result = score_attempt(bank, ["sc", "tf"], {"sc": ["0"]}, pass_mark=75)
    assert result.percent == 75.0 and result.passed
    assert not result.per_question["tf"].correct
