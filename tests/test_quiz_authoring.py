"""Trainer authoring through the pages: banks, questions of every type, validation tied to
fields, preview, drafts, publishing immutable versions, and who may do it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from lms_plugin.core.extensions import db
from lms_plugin.core.models import Role
from quizzes.models import BankQuestion, PublishedQuizIsImmutable, QuestionBank, QuizVersion

from .conftest import csrf_from
from .quiz_samples import QUESTIONS, right_answer
from .test_quiz_integrity import answers, start


@pytest.fixture
def trainer(make, auth):
    org = make.org()
    make.user(org, "tess@example.test", name="Tess Trainer", roles=(Role.TRAINER,))
    auth.login("tess@example.test")
    return org


def create_bank(client, slug="tone", title="Tone of voice") -> int:
    response = client.post("/quiz/manage/banks/new", data={
        "csrf_token": csrf_from(client.get("/quiz/manage/banks/new").text),
        "slug": slug, "title": title})
    assert response.status_code == 302, response.text
    return int(re.search(r"/banks/(\d+)/", response.headers["Location"]).group(1))


def question_form(question: dict) -> dict:
    """The form fields a trainer fills in for ``question``."""
    data = {"type": question["type"], "key": question["id"], "prompt": question["prompt"],
            "tags": ", ".join(question.get("tags", [])), "points": "1",
            "explanation": question.get("explanation", ""), "comment": question.get("comment", "")}
    if question["type"] == "true_false":
        data.update(answer="true" if question["answer"] else "false",
                    feedback_true=question.get("feedback_true", ""),
                    feedback_false=question.get("feedback_false", ""))
    for n, item in enumerate(question.get("options") or question.get("segments") or []):
        data[f"options-{n}-text"] = item["text"]
        data[f"options-{n}-feedback"] = item.get("feedback", "")
        if item.get("correct") or item.get("problem"):
            data[f"options-{n}-correct"] = "y"
    if question.get("partial_credit"):
        data["partial_credit"] = "y"
    return data


def post_question(client, bank_id: int, question: dict, url: str | None = None):
    url = url or f"/quiz/manage/banks/{bank_id}/questions/new?type={question['type']}"
    page = client.get(url)
    return client.post(url, data={**question_form(question), "csrf_token": csrf_from(page.text)})


def test_trainer_authors_every_type_with_per_option_feedback(app, client, trainer):
    bank_id = create_bank(client)
    for question in QUESTIONS:
        response = post_question(client, bank_id, question)
        assert response.status_code == 302, response.text
    with app.app_context():
        stored = {q.key: q.data for q in db.session.execute(select(BankQuestion)).scalars()}
    assert set(stored) == {q["id"] for q in QUESTIONS}
    for question in QUESTIONS:
        assert stored[question["id"]] == {k: v for k, v in question.items()}, question["id"]
    page = client.get(f"/quiz/manage/banks/{bank_id}/?tag=disclosure").text
    assert "<code>mr</code>" in page and "<code>tf</code>" in page and "<code>sc</code>" not in page


def test_validation_messages_are_tied_to_their_fields_and_nothing_is_saved(app, client, trainer):
    bank_id = create_bank(client)
    two_right = question_form(QUESTIONS[0])
    two_right["options-1-correct"] = "y"
    url = f"/quiz/manage/banks/{bank_id}/questions/new?type=single_choice"
    response = client.post(url, data={**two_right, "csrf_token": csrf_from(client.get(url).text)})
    assert response.status_code == 400
    assert "Single choice needs exactly one correct option." in response.text
    assert 'id="options-error"' in response.text
    reply = question_form(QUESTIONS[4])
    reply["options-2-feedback"] = ""
    reply["comment"] = ""
    reply["prompt"] = ""
    response = client.post(url, data={**reply, "csrf_token": csrf_from(client.get(url).text)})
    assert response.status_code == 400
    text = response.text
    assert re.search(r'id="prompt-error">The question has no prompt', text)
    assert 'aria-describedby="prompt-error"' in text
    assert re.search(r'id="comment-error">Best reply needs the comment', text)
    assert re.search(r'id="options-2-text-error">Reply 3 needs its own feedback', text)
    with app.app_context():
        assert db.session.execute(select(BankQuestion)).first() is None


def test_edit_duplicate_and_delete_a_question(app, client, trainer):
    bank_id = create_bank(client)
    post_question(client, bank_id, QUESTIONS[0])
    with app.app_context():
        qid = db.session.execute(select(BankQuestion.id)).scalar_one()
    edit_url = f"/quiz/manage/questions/{qid}/edit"
    form = client.get(edit_url).text
    assert "Which post about the roadmap is fine?" in form and "SECRET-FB-sc-1" in form
    changed = dict(QUESTIONS[0], prompt="Which roadmap post is fine now?")
    assert post_question(client, bank_id, changed, url=edit_url).status_code == 302
    page = client.get(f"/quiz/manage/banks/{bank_id}/")
    duplicated = client.post(f"/quiz/manage/questions/{qid}/duplicate",
                             data={"csrf_token": csrf_from(page.text)})
    assert duplicated.status_code == 302
    deleted = client.post(f"/quiz/manage/questions/{qid}/delete",
                          data={"csrf_token": csrf_from(page.text)})
    assert deleted.status_code == 302
    with app.app_context():
        rows = db.session.execute(select(BankQuestion)).scalars().all()
        assert [(r.key, r.data["prompt"]) for r in rows] == [
            ("sc-copy", "Which roadmap post is fine now?")]


def test_preview_a_question_as_a_learner_would_see_it(client, trainer):
    bank_id = create_bank(client)
    post_question(client, bank_id, QUESTIONS[4])
    page = client.get(f"/quiz/manage/banks/{bank_id}/").text
    preview_url = re.search(r'href="(/quiz/manage/questions/\d+/preview)"', page).group(1)
    preview = client.get(preview_url).text
    assert "Your app lost my data" in preview and "This is what a learner sees" in preview
    # The trainer's preview also shows what the learner sees after answering.
    assert "SECRET-FB-br-1" in preview


def test_quiz_draft_preview_publish_and_a_new_version_on_edit(app, client, auth, make, trainer):
    bank_id = create_bank(client)
    for question in QUESTIONS:
        post_question(client, bank_id, question)
    page = client.get("/quiz/manage/quizzes/new")
    settings = {"csrf_token": csrf_from(page.text), "title": "Tone check", "slug": "tone-check",
                "banks": ["tone"], "tags": "", "questions": "3", "pass_mark": "60",
                "attempts": "2", "cooldown_minutes": "0", "time_limit_minutes": "0",
                "feedback": "after_submit", "show_answers": "y"}
    created = client.post("/quiz/manage/quizzes/new", data=settings)
    assert created.status_code == 302, created.text
    manage = client.get("/quiz/manage/quizzes/tone-check/").text
    assert "Version 1 is a draft drawing from 5 question(s)" in manage
    preview = client.get("/quiz/manage/quizzes/tone-check/preview").text
    assert preview.count('class="card mb-3 question"') == 3 and "SECRET" not in preview
    published = client.post("/quiz/manage/quizzes/tone-check/publish",
                            data={"csrf_token": csrf_from(manage)}, follow_redirects=True)
    assert "Version 1 is published" in published.text
    with app.app_context():
        v1 = db.session.execute(select(QuizVersion).filter_by(slug="tone-check")).scalar_one()
        assert v1.published and len(v1.questions) == 5 and v1.settings["questions"] == 3
        v1.title = "Changed behind the service's back"
        with pytest.raises(PublishedQuizIsImmutable):
            db.session.flush()
        db.session.rollback()
        v1_id = v1.id
    # A learner starts version 1.
    make.user(trainer, "sam@example.test")
    auth.logout()
    auth.login("sam@example.test")
    v1_quiz = type("Q", (), {"id": v1_id})
    attempt_id, url = start(client, v1_quiz)
    first_prompts = re.findall(r"<p>(Which[^<]*)</p>", client.get(url).text)
    # The trainer edits a bank question and the settings: a new draft, then version 2.
    auth.logout()
    auth.login("tess@example.test")
    with app.app_context():
        sc = db.session.execute(select(BankQuestion).filter_by(key="sc")).scalar_one().id
    edited = dict(QUESTIONS[0], prompt="Which roadmap post is fine (v2)?")
    post_question(client, bank_id, edited, url=f"/quiz/manage/questions/{sc}/edit")
    manage = client.get("/quiz/manage/quizzes/tone-check/").text
    assert "is published and cannot change" in manage
    client.post("/quiz/manage/quizzes/tone-check/", data={
        **settings, "csrf_token": csrf_from(manage), "pass_mark": "70"})
    manage = client.get("/quiz/manage/quizzes/tone-check/").text
    assert "Version 2 is a draft" in manage
    client.post("/quiz/manage/quizzes/tone-check/publish", data={"csrf_token": csrf_from(manage)})
    with app.app_context():
        versions = db.session.execute(select(QuizVersion).filter_by(slug="tone-check")
                                      .order_by(QuizVersion.version)).scalars().all()
        assert [(v.version, v.published, v.pass_mark) for v in versions] == [
            (1, True, 60), (2, True, 70)]
        assert versions[0].questions_by_id()["sc"]["prompt"] == QUESTIONS[0]["prompt"]
        assert versions[1].questions_by_id()["sc"]["prompt"] == "Which roadmap post is fine (v2)?"
        v2_id = versions[1].id
    # The learner's attempt on version 1 is still graded and reviewed as version 1.
    auth.logout()
    auth.login("sam@example.test")
    client.post(f"/quiz/attempt/{attempt_id}/submit",
                data={**answers(right_answer), "csrf_token": csrf_from(client.get(url).text)})
    review = client.get(f"/quiz/attempt/{attempt_id}/result").text
    assert "(v2)" not in review and "Your result: 100%" in review
    for prompt in first_prompts:
        assert prompt in review
    # Learners who open the old version's start page are sent to the new one.
    assert client.get(f"/quiz/{v1_id}/").headers["Location"].endswith(f"/quiz/{v2_id}/")


def test_publishing_refuses_a_quiz_with_too_few_questions(app, client, trainer):
    create_bank(client)
    page = client.get("/quiz/manage/quizzes/new")
    client.post("/quiz/manage/quizzes/new", data={
        "csrf_token": csrf_from(page.text), "title": "Empty", "slug": "empty", "banks": ["tone"],
        "questions": "3", "pass_mark": "80", "attempts": "0", "cooldown_minutes": "0",
        "time_limit_minutes": "0", "feedback": "after_submit"})
    manage = client.get("/quiz/manage/quizzes/empty/").text
    refused = client.post("/quiz/manage/quizzes/empty/publish",
                          data={"csrf_token": csrf_from(manage)}, follow_redirects=True)
    assert "Not published: no questions to draw" in refused.text
    with app.app_context():
        assert db.session.execute(select(QuizVersion.published)).scalar_one() is False


def test_quiz_settings_errors_are_tied_to_fields(client, trainer):
    create_bank(client)
    page = client.get("/quiz/manage/quizzes/new")
    response = client.post("/quiz/manage/quizzes/new", data={
        "csrf_token": csrf_from(page.text), "title": "", "slug": "Bad Slug!", "banks": ["tone"],
        "questions": "0", "pass_mark": "140", "attempts": "0", "cooldown_minutes": "0",
        "time_limit_minutes": "0", "feedback": "after_submit"})
    assert response.status_code == 400
    assert re.search(r'id="title-error">Give the quiz a title', response.text)
    assert re.search(r'id="pass_mark-error">A percentage from 0 to 100', response.text)


def test_learners_cannot_author_and_trainers_cannot_reach_other_organisations(
        app, client, auth, make, trainer):
    bank_id = create_bank(client)
    post_question(client, bank_id, QUESTIONS[0])
    other = make.org()
    make.user(other, "otto@other.test", roles=(Role.TRAINER,))
    make.user(trainer, "sam@example.test")
    with app.app_context():
        qid = db.session.execute(select(BankQuestion.id)).scalar_one()
    paths = [f"/quiz/manage/banks/{bank_id}/", f"/quiz/manage/questions/{qid}/edit",
             f"/quiz/manage/questions/{qid}/preview", f"/quiz/manage/banks/{bank_id}/export.gift"]
    auth.logout()
    auth.login("otto@other.test")
    for path in paths:
        assert client.get(path).status_code == 404, path
    page = client.get("/quiz/manage/")
    assert client.post(f"/quiz/manage/questions/{qid}/delete",
                       data={"csrf_token": csrf_from(page.text)}).status_code == 404
    auth.logout()
    auth.login("sam@example.test")
    assert client.get("/quiz/manage/").status_code == 403
    for path in paths:
        assert client.get(path).status_code == 403, path
    with app.app_context():
        assert db.session.execute(select(QuestionBank)).scalar_one() is not None
        assert db.session.execute(select(BankQuestion)).scalar_one() is not None
