"""GIFT (Moodle) and module YAML: every problem reported by line, nothing partial by
accident, and export then import gives the same questions back."""

from __future__ import annotations

import io
import re

from sqlalchemy import select

from lms_plugin.core.extensions import db
from quizzes.core import gift
from quizzes.models import BankQuestion

from .conftest import csrf_from
from .quiz_samples import QUESTIONS
from .test_quiz_authoring import create_bank, trainer  # noqa: F401 - fixture

LAST_YEAR = """\
// Last year's quiz, from Moodle
$CATEGORY: $course$/Social media

::Roadmap::A colleague shows you the roadmap. What can you post? {
\t=Nothing until it is announced.#Right\\: unannounced plans are confidential.
\t~A teaser about Q3.#A teaser still discloses plans.
\t####Unannounced plans stay internal.
}

// [tag:disclosure]
Say you work here when praising our product.{TRUE#You must disclose.#Right.}

::Numbers:: What is 2+2? {#4}

::Essay:: Describe our policy. {}

Who is in the tomb? {=Grant =nobody}

Grant is {~buried =entombed} in the tomb.

A question with no answers at all

::Multi:: Which need disclosure? {
 ~%50%Praise#yes
 ~%50%Job ad
 ~%-100%Cat video
}

::Broken:: Unclosed answers {
 =one
 ~two
"""


def test_gift_parser_reports_every_unsupported_or_malformed_line():
    result = gift.parse(LAST_YEAR)
    assert [str(p) for p in result.problems] == [
        "line 13: numerical questions are not supported",
        "line 15: an empty answer block (essay) is not supported",
        "line 17: short answer questions (only '=' answers) are not supported",
        "line 19: text after the answer block (missing word format) is not supported: "
        "put the answers at the end",
        "line 21: no answer block in braces: description questions are not supported",
        "line 29: the answer block opened with '{' is never closed",
    ]
    roadmap, truth, multi = result.questions
    assert roadmap.pop("tags") == ["social-media"]
    assert roadmap == {
        "id": "roadmap", "type": "single_choice", "explanation": "Unannounced plans stay internal.",
        "prompt": "A colleague shows you the roadmap. What can you post?",
        "options": [
            {"text": "Nothing until it is announced.", "correct": True,
             "feedback": "Right: unannounced plans are confidential."},
            {"text": "A teaser about Q3.", "correct": False,
             "feedback": "A teaser still discloses plans."}]}
    assert truth["type"] == "true_false" and truth["answer"] is True
    # The category "Social media" becomes a tag, beside the question's own [tag:...].
    assert truth["tags"] == ["disclosure", "social-media"]
    assert truth["feedback_true"] == "Right." and truth["feedback_false"] == "You must disclose."
    assert multi["type"] == "multiple_response" and multi["partial_credit"] is True
    assert [o["correct"] for o in multi["options"]] == [True, True, False]


def test_gift_export_then_import_round_trips():
    expressible = [q for q in QUESTIONS if q["type"] in gift.EXPORTABLE]
    strict = dict(QUESTIONS[1], id="mr-strict", partial_credit=False, prompt="Odd {chars} = ~ #")
    text, skipped = gift.export([*QUESTIONS, strict])
    assert skipped == ["sp", "br"]
    again = gift.parse(text)
    assert again.problems == []
    expected = [*expressible, strict]
    assert [_comparable(q) for q in again.questions] == [_comparable(q) for q in expected]


def _comparable(question: dict) -> dict:
    question = dict(question)
    if question["type"] == "multiple_response" and not question.get("partial_credit"):
        question["partial_credit"] = False
    return question


def _import(client, bank_id: int, text: str, kind: str = "gift", **flags):
    url = f"/quiz/manage/banks/{bank_id}/import"
    data = {"csrf_token": csrf_from(client.get(url).text), "kind": kind,
            "upload": (io.BytesIO(text.encode()), f"quiz.{kind}"), **flags}
    return client.post(url, data=data, content_type="multipart/form-data")


def test_import_with_problems_imports_nothing_and_lists_each_line(app, client, trainer):  # noqa: F811
    bank_id = create_bank(client)
    response = _import(client, bank_id, LAST_YEAR)
    assert response.status_code == 400
    assert "Nothing was imported" in response.text
    for line in (13, 15, 17, 19, 21, 29):
        assert f"line {line}: " in response.text
    with app.app_context():
        assert db.session.execute(select(BankQuestion)).first() is None


def test_import_the_valid_ones_when_the_trainer_chooses_to(app, client, trainer):  # noqa: F811
    bank_id = create_bank(client)
    response = _import(client, bank_id, LAST_YEAR, valid_only="y")
    assert response.status_code == 200
    assert "The valid questions were imported; these were not" in response.text
    assert "line 13: numerical" in response.text
    with app.app_context():
        keys = sorted(db.session.execute(select(BankQuestion.key)).scalars())
    assert keys == ["multi", "roadmap", "say-you-work-here-when-praising-our-product"]


def test_import_refuses_questions_our_rules_reject_with_their_line(app, client, trainer):  # noqa: F811
    bank_id = create_bank(client)
    bad = "::Two right:: Pick {\n=a\n=b\n~c\n}\n\n::One:: Fine {=yes ~no}\n"
    response = _import(client, bank_id, bad)
    assert "line 1: a multiple choice question needs exactly one &#39;=&#39;" in response.text
    with app.app_context():
        assert db.session.execute(select(BankQuestion)).first() is None


def test_bank_exports_and_reimports_as_gift_and_yaml(app, client, trainer):  # noqa: F811
    from .test_quiz_authoring import post_question

    bank_id = create_bank(client)
    for question in QUESTIONS:
        post_question(client, bank_id, question)
    exported_gift = client.get(f"/quiz/manage/banks/{bank_id}/export.gift")
    assert exported_gift.status_code == 200
    assert "attachment" in exported_gift.headers["Content-Disposition"]
    assert "Not exported (GIFT cannot express spot the problem or best reply): sp, br" in \
        exported_gift.text
    exported_yaml = client.get(f"/quiz/manage/banks/{bank_id}/export.yaml").text
    copy_id = create_bank(client, slug="copy", title="Copy")
    assert _import(client, copy_id, exported_yaml, kind="yaml").status_code == 302
    gift_id = create_bank(client, slug="from-gift", title="From GIFT")
    assert _import(client, gift_id, exported_gift.text).status_code == 302
    with app.app_context():
        rows = db.session.execute(select(BankQuestion)).scalars().all()
        by_bank: dict[int, dict] = {}
        for row in rows:
            by_bank.setdefault(row.bank_id, {})[row.key] = row.data
    assert by_bank[copy_id] == by_bank[bank_id]
    expressible = {k: v for k, v in by_bank[bank_id].items() if k in ("sc", "mr", "tf")}
    assert by_bank[gift_id] == expressible
    # Importing the same file again is refused (ids exist) unless "replace" is chosen.
    again = _import(client, copy_id, exported_yaml, kind="yaml")
    assert again.status_code == 400 and "already in the bank" in again.text
    assert _import(client, copy_id, exported_yaml, kind="yaml", replace="y").status_code == 302


def test_yaml_import_reports_the_line_of_a_syntax_error(client, trainer):  # noqa: F811
    bank_id = create_bank(client)
    response = _import(client, bank_id, "questions:\n  - id: a\n   type: [oops\n", kind="yaml")
    assert response.status_code == 400
    assert re.search(r"line \d+: ", response.text)
    response = _import(client, bank_id, "just text", kind="yaml")
    assert "must be a mapping with a &#39;questions:&#39; list" in response.text


def test_module_import_creates_a_bank_trainers_can_author_in(app, make):
    org = make.org()
    make.module(org)
    with app.app_context():
        keys = sorted(db.session.execute(
            select(BankQuestion.key).where(BankQuestion.organization_id == org.id)).scalars())
    assert keys == ["disclose-employer", "roadmap-post", "spot-it"]


MALFORMED_YAML = """\
questions:
  - id: 7
    type: spot_the_problem
    prompt: Which part?
    tags: 5
    segments: ["just a string", {problem: true}]
  - id: opts
    type: single_choice
    prompt: Pick
    options: ["a", {text: "b", correct: true}]
  - id: dup
    type: single_choice
    prompt: Pick
    options: [{text: "Same", correct: true}, {text: "same"}]
  - id: noseg
    type: spot_the_problem
    prompt: x
    segments: "not a list"
  - id: tf
    type: true_false
    prompt: x
    answer: "yes"
  - "not a mapping"
  - id: pts
    type: true_false
    prompt: x
    answer: true
    points: -1
"""


def test_malformed_yaml_questions_get_messages_never_a_server_error(app, client, trainer):  # noqa: F811
    bank_id = create_bank(client)
    response = _import(client, bank_id, MALFORMED_YAML, kind="yaml")
    assert response.status_code == 400
    text = response.text.replace("&#39;", "'")
    for message in ("question 6: each question must be a mapping",
                    "question 1 ('7'): segment 1 has no text",
                    "question 1 ('7'): segment 2 has no text",
                    "question 2 ('opts'): option 1 has no text",
                    "question 3 ('dup'): option 2 repeats option 1",
                    "question 4 ('noseg'): spot the problem needs the post split",
                    "question 5 ('tf'): true or false needs 'answer'",
                    "question 7 ('pts'): points must be a positive number"):
        assert message in text, message
    with app.app_context():
        assert db.session.execute(select(BankQuestion)).first() is None
