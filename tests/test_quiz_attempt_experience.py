"""The learner's side: start page, one question per page, answers kept, review as it was."""

from __future__ import annotations

import re

from sqlalchemy import update

from lms_plugin.core.extensions import db
from quizzes.models import Attempt, QuizVersion

from .conftest import csrf_from
from .quiz_samples import QUESTIONS, right_answer, wrong_answer
from .test_quiz_integrity import answers, start


def test_start_page_says_questions_pass_mark_attempts_and_time_limit(client, auth, make):
    org = make.org()
    make.user(org, "sam@example.test")
    quiz = make.quiz(org, attempts=3, time_limit_minutes=20, pass_mark=70)
    auth.login("sam@example.test")
    page = client.get(f"/quiz/{quiz.id}/").text
    assert "<strong>5</strong> questions" in page
    assert "Pass mark: <strong>70%</strong>" in page
    assert "Attempts left: <strong>3</strong>" in page
    assert "20 minutes" in page


def test_one_question_per_page_keeps_answers_across_pages_and_reloads(client, auth, make):
    org = make.org()
    make.user(org, "sam@example.test")
    quiz = make.quiz(org, one_per_page=True)
    auth.login("sam@example.test")
    attempt_id, url = start(client, quiz)
    first = client.get(url).text
    assert "Question 1 of 5" in first and "Question 2 of 5" not in first
    order = []
    page_text = first
    for number in range(1, 6):
        qid = re.search(r'data-question="([^"]+)"', page_text).group(1)
        order.append(qid)
        go = "submit" if number == 5 else "next"
        response = client.post(f"/quiz/attempt/{attempt_id}/save", data={
            "csrf_token": csrf_from(page_text), "page": str(number), "go": go,
            f"shown-{qid}": "1", f"q-{qid}": right_answer(next(q for q in QUESTIONS
                                                             if q["id"] == qid))})
        assert response.status_code == 302
        if go == "next":
            assert response.headers["Location"].endswith(f"page={number + 1}")
            # Going back shows the answer already saved.
            back = client.get(f"{url}?page={number}").text
            assert " checked" in back
            page_text = client.get(response.headers["Location"]).text
    result = client.get(f"/quiz/attempt/{attempt_id}/result").text
    assert "Your result: 100%" in result
    # The review shows the questions in the order the attempt showed them.
    positions = [result.index(q["prompt"]) for qid in order for q in QUESTIONS if q["id"] == qid]
    assert positions == sorted(positions)


def test_review_is_the_attempt_as_it_was_even_after_the_quiz_changes(client, auth, make):
    org = make.org()
    make.user(org, "sam@example.test")
    quiz = make.quiz(org)
    auth.login("sam@example.test")
    attempt_id, url = start(client, quiz)
    shown_page = client.get(url).text
    shown_order = re.findall(r'id="q-(\w+)-(\d+)"', shown_page)
    client.post(f"/quiz/attempt/{attempt_id}/submit",
                data={**answers(right_answer), "csrf_token": csrf_from(shown_page)})
    with client.application.app_context():
        # Even a direct change to the stored row, past the ORM's guard, cannot change a review.
        changed = [dict(q, prompt="CHANGED " + q["prompt"]) for q in QUESTIONS]
        db.session.execute(update(QuizVersion).where(QuizVersion.id == quiz.id)
                           .values(questions=changed))
        db.session.commit()
    review = client.get(f"/quiz/attempt/{attempt_id}/result").text
    assert "CHANGED" not in review
    # Same questions, same option order as the attempt page.
    review_items = re.findall(r"<li>([^<]+?)(?: <strong>| <span|\s*</li>|\s*<br>)", review)
    shown_texts = []
    by_id = {q["id"]: q for q in QUESTIONS}
    for qid, index in shown_order:
        q = by_id[qid]
        items = q.get("options") or q.get("segments") or [{"text": "True"}, {"text": "False"}]
        shown_texts.append(items[int(index)]["text"])
    assert [t.strip() for t in review_items] == shown_texts


def test_review_shows_answers_and_feedback_after_submitting(client, auth, make):
    org = make.org()
    make.user(org, "sam@example.test")
    quiz = make.quiz(org)
    auth.login("sam@example.test")
    attempt_id, url = start(client, quiz)
    client.post(f"/quiz/attempt/{attempt_id}/submit",
                data={**answers(wrong_answer), "csrf_token": csrf_from(client.get(url).text)})
    review = client.get(f"/quiz/attempt/{attempt_id}/result").text
    assert "right answer" in review and "SECRET-FB-br-0" in review and "SECRET-EXPL-sp" in review
    assert "Try again" in review


def test_review_hides_the_key_when_the_trainer_says_so(client, auth, make):
    org = make.org()
    make.user(org, "sam@example.test")
    quiz = make.quiz(org, show_answers=False)
    auth.login("sam@example.test")
    attempt_id, url = start(client, quiz)
    client.post(f"/quiz/attempt/{attempt_id}/submit",
                data={**answers(wrong_answer), "csrf_token": csrf_from(client.get(url).text)})
    review = client.get(f"/quiz/attempt/{attempt_id}/result").text
    assert "right answer" not in review and "SECRET-EXPL" not in review
    # Feedback on the learner's own (wrong) choice still helps; other options' stays hidden.
    assert "SECRET-FB-br-1" in review
    assert "SECRET-FB-br-0" not in review and "SECRET-FB-sc-0" not in review


def test_feedback_after_passing_is_withheld_until_the_learner_passes(client, auth, make):
    org = make.org()
    make.user(org, "sam@example.test")
    quiz = make.quiz(org, feedback="after_pass")
    auth.login("sam@example.test")
    attempt_id, url = start(client, quiz)
    client.post(f"/quiz/attempt/{attempt_id}/submit",
                data={**answers(wrong_answer), "csrf_token": csrf_from(client.get(url).text)})
    failed = client.get(f"/quiz/attempt/{attempt_id}/result").text
    assert "SECRET-" not in failed and "right answer" not in failed
    assert "shown once you have passed" in failed and "Not quite" in failed
    second_id, url = start(client, quiz)
    client.post(f"/quiz/attempt/{second_id}/submit",
                data={**answers(right_answer), "csrf_token": csrf_from(client.get(url).text)})
    passed = client.get(f"/quiz/attempt/{second_id}/result").text
    assert "SECRET-EXPL-sc" in passed and "Your certificates" in passed
    # Once passed, the earlier attempt's review opens up too.
    assert "SECRET-EXPL-sc" in client.get(f"/quiz/attempt/{attempt_id}/result").text


def test_a_graded_attempt_records_its_version_and_snapshot(app, client, auth, make):
    org = make.org()
    make.user(org, "sam@example.test")
    quiz = make.quiz(org, questions=3)
    auth.login("sam@example.test")
    attempt_id, _ = start(client, quiz)
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        assert attempt.quiz_version_id == quiz.id
        assert len(attempt.snapshot) == 3
        assert [s["question"]["id"] for s in attempt.snapshot] == attempt.question_ids
        for item in attempt.snapshot:
            assert sorted(item["order"]) == list(range(len(item["order"])))
