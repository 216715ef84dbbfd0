"""A determined learner cannot cheat: no answers before submitting, server-side grading only,
one graded attempt per submit, limits that hold under concurrency, and private attempts."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

from sqlalchemy import func, select

from lms_plugin.core.extensions import db
from lms_plugin.core.timeutil import utcnow
from quizzes.core.grades import grade_published
from quizzes.models import Attempt

from .conftest import AuthActions, csrf_from
from .quiz_samples import BY_ID, QUESTIONS, right_answer, wrong_answer

# Any hint of a key: the sample's secrets, or the words the answer data is stored under. The
# start page's own heading "Feedback:" (when feedback is given) is the one allowed use.
SECRETS = re.compile(r"SECRET-|correct|explanation|feedback(?!:)|\"key\"", re.IGNORECASE)


def start(client, quiz) -> tuple[int, str]:
    page = client.get(f"/quiz/{quiz.id}/")
    assert page.status_code == 200
    started = client.post(f"/quiz/{quiz.id}/start", data={"csrf_token": csrf_from(page.text)})
    assert started.status_code == 302, started.text
    url = started.headers["Location"]
    return int(re.search(r"/attempt/(\d+)", url).group(1)), url


def answers(pick) -> dict:
    return {f"q-{q['id']}": pick(q) for q in QUESTIONS}


def test_quiz_page_and_autosave_responses_reveal_no_answers(client, auth, make):
    org = make.org()
    make.user(org, "sam@example.test")
    quiz = make.quiz(org)
    auth.login("sam@example.test")
    start_page = client.get(f"/quiz/{quiz.id}/")
    attempt_id, url = start(client, quiz)
    page = client.get(url)
    assert page.status_code == 200
    for question in QUESTIONS:
        assert question["prompt"] in page.text
    for text in (start_page.text, page.text):
        assert not SECRETS.search(text), SECRETS.search(text)
    saved = client.post(f"/quiz/attempt/{attempt_id}/save",
                        json={"responses": {"sc": ["1"], "tf": ["0"]}},
                        headers={"X-CSRFToken": csrf_from(page.text)})
    assert saved.status_code == 200
    assert saved.json == {"saved": ["sc", "tf"]}
    # The reloaded page keeps the saved answers, still without secrets.
    reloaded = client.get(url)
    assert re.search(r'id="q-sc-1" value="1" checked', reloaded.text)
    assert not SECRETS.search(reloaded.text)


def test_per_question_check_reveals_only_that_question_and_locks_it(client, auth, make):
    org = make.org()
    make.user(org, "sam@example.test")
    quiz = make.quiz(org, feedback="after_each")
    auth.login("sam@example.test")
    attempt_id, url = start(client, quiz)
    token = csrf_from(client.get(url).text)
    headers = {"X-CSRFToken": token}
    checked = client.post(f"/quiz/attempt/{attempt_id}/check/sc", json={"response": ["1"]},
                          headers=headers)
    assert checked.status_code == 200
    body = checked.get_data(as_text=True)
    assert checked.json["correct"] is False and checked.json["key"] == [0]
    assert "SECRET-EXPL-sc" in body
    assert not re.search(r"SECRET-[A-Z]+-(mr|tf|sp|br)", body)
    page = client.get(url).text
    assert "SECRET-FB-sc-1" in page and "SECRET-EXPL-sc" in page
    assert not re.search(r"SECRET-[A-Z]+-(mr|tf|sp|br)", page)
    # The locked answer cannot be changed, by autosave or by the final submit.
    client.post(f"/quiz/attempt/{attempt_id}/save", json={"responses": {"sc": ["0"]}},
                headers=headers)
    client.post(f"/quiz/attempt/{attempt_id}/submit",
                data={"csrf_token": token, "q-sc": ["0"]})
    with client.application.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        assert attempt.results["sc"]["correct"] is False
        assert attempt.responses["sc"] == ["1"]


def test_check_is_refused_when_feedback_comes_after_submitting(client, auth, make):
    org = make.org()
    make.user(org, "sam@example.test")
    quiz = make.quiz(org)  # feedback after submitting (the default)
    auth.login("sam@example.test")
    attempt_id, url = start(client, quiz)
    refused = client.post(f"/quiz/attempt/{attempt_id}/check/sc", json={"response": ["0"]},
                          headers={"X-CSRFToken": csrf_from(client.get(url).text)})
    assert refused.status_code == 409
    assert not SECRETS.search(refused.get_data(as_text=True).replace("feedback after", ""))


def test_forged_score_passed_and_keys_are_ignored(client, auth, make):
    org = make.org()
    make.user(org, "sam@example.test")
    quiz = make.quiz(org)
    auth.login("sam@example.test")
    attempt_id, url = start(client, quiz)
    token = csrf_from(client.get(url).text)
    saved = client.post(f"/quiz/attempt/{attempt_id}/save", headers={"X-CSRFToken": token},
                        json={"responses": {"sc": ["1"], "not-shown": ["0"], "tf": {"x": 1}},
                              "score": 100, "passed": True, "key": {"sc": [1]}})
    assert saved.json == {"saved": ["sc", "tf"]}
    result = client.post(f"/quiz/attempt/{attempt_id}/submit", follow_redirects=True, data={
        **answers(wrong_answer), "csrf_token": token, "score": "100", "passed": "true",
        "percent": "100", "key": "0", "correct": "0", "q-not-shown": "0"})
    assert "Your result: 0%" in result.text
    with client.application.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        assert attempt.passed is False and attempt.percent == 0.0
        assert set(attempt.responses) == set(BY_ID)
        assert attempt.responses["sc"] == wrong_answer(BY_ID["sc"])


def test_double_submit_grades_once_and_publishes_one_grade(client, auth, make):
    org = make.org()
    make.user(org, "sam@example.test")
    quiz = make.quiz(org)
    auth.login("sam@example.test")
    events = []

    def receiver(event):
        events.append(event)

    grade_published.connect(receiver)
    try:
        attempt_id, url = start(client, quiz)
        token = csrf_from(client.get(url).text)
        first = client.post(f"/quiz/attempt/{attempt_id}/submit",
                            data={**answers(right_answer), "csrf_token": token})
        second = client.post(f"/quiz/attempt/{attempt_id}/submit",
                             data={**answers(wrong_answer), "csrf_token": token},
                             follow_redirects=True)
    finally:
        grade_published.disconnect(receiver)
    assert first.status_code == 302
    assert "already been submitted" in second.text and "Your result: 100%" in second.text
    assert [e.reference for e in events] == [f"attempt:{attempt_id}"]
    assert events[0].kind == "attempt" and events[0].passed is True and events[0].score == 100.0


def _logged_in_clients(app, email: str, count: int) -> list:
    clients = []
    for _ in range(count):
        client = app.test_client()
        AuthActions(client).login(email)
        clients.append(client)
    return clients


def _run_together(functions) -> list:
    barrier = threading.Barrier(len(functions))
    results: list = [None] * len(functions)
    errors: list = []

    def run(index, function):
        try:
            barrier.wait()
            results[index] = function()
        except Exception as exc:  # noqa: BLE001 - re-raised below in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    return results


def test_concurrent_submits_produce_exactly_one_graded_attempt(app, make):
    org = make.org()
    make.user(org, "sam@example.test")
    quiz = make.quiz(org)
    clients = _logged_in_clients(app, "sam@example.test", 4)
    attempt_id, url = start(clients[0], quiz)
    tokens = [csrf_from(c.get(url).text) for c in clients]
    events = []
    lock = threading.Lock()

    def receiver(event):
        with lock:
            events.append(event)

    grade_published.connect(receiver)
    try:
        statuses = _run_together([
            (lambda c=c, t=t: c.post(f"/quiz/attempt/{attempt_id}/submit",
                                     data={**answers(right_answer), "csrf_token": t}).status_code)
            for c, t in zip(clients, tokens, strict=True)])
    finally:
        grade_published.disconnect(receiver)
    assert statuses == [302] * 4
    assert len(events) == 1
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        assert attempt.state == Attempt.GRADED and attempt.percent == 100.0


def test_concurrent_starts_never_exceed_the_attempt_limit(app, make):
    org = make.org()
    make.user(org, "sam@example.test")
    quiz = make.quiz(org, attempts=1)
    clients = _logged_in_clients(app, "sam@example.test", 4)
    tokens = [csrf_from(c.get(f"/quiz/{quiz.id}/").text) for c in clients]
    statuses = _run_together([
        (lambda c=c, t=t: c.post(f"/quiz/{quiz.id}/start", data={"csrf_token": t}).status_code)
        for c, t in zip(clients, tokens, strict=True)])
    assert statuses == [302] * 4
    with app.app_context():
        assert db.session.scalar(select(func.count(Attempt.id))) == 1


def test_cooldown_and_attempt_limit_refuse_a_new_start(client, auth, make):
    org = make.org()
    make.user(org, "sam@example.test")
    quiz = make.quiz(org, attempts=2, cooldown_minutes=10)
    auth.login("sam@example.test")
    attempt_id, url = start(client, quiz)
    client.post(f"/quiz/attempt/{attempt_id}/submit",
                data={**answers(wrong_answer), "csrf_token": csrf_from(client.get(url).text)})
    page = client.get(f"/quiz/{quiz.id}/")
    assert "You can try again after" in page.text
    refused = client.post(f"/quiz/{quiz.id}/start", data={"csrf_token": csrf_from(page.text)},
                          follow_redirects=True)
    assert "You can try again after" in refused.text
    with client.application.app_context():
        assert db.session.scalar(select(func.count(Attempt.id))) == 1
        # The cooldown passes; the second (last) attempt is allowed, a third is not.
        first = db.session.get(Attempt, attempt_id)
        first.submitted_at = utcnow() - timedelta(minutes=11)
        db.session.commit()
    second_id, url = start(client, quiz)
    client.post(f"/quiz/attempt/{second_id}/submit",
                data={**answers(wrong_answer), "csrf_token": csrf_from(client.get(url).text)})
    with client.application.app_context():
        second = db.session.get(Attempt, second_id)
        second.submitted_at = utcnow() - timedelta(minutes=11)
        db.session.commit()
    page = client.get(f"/quiz/{quiz.id}/")
    assert "Attempts left: <strong>0</strong>" in page.text
    refused = client.post(f"/quiz/{quiz.id}/start", data={"csrf_token": csrf_from(page.text)},
                          follow_redirects=True)
    assert "used every attempt" in refused.text


def test_late_submission_is_graded_with_answers_saved_before_the_deadline(client, auth, make):
    org = make.org()
    make.user(org, "sam@example.test")
    quiz = make.quiz(org, time_limit_minutes=5)
    auth.login("sam@example.test")
    attempt_id, url = start(client, quiz)
    page = client.get(url)
    assert "Time limit" in page.text
    token = csrf_from(page.text)
    client.post(f"/quiz/attempt/{attempt_id}/save", json={"responses": {"sc": ["0"]}},
                headers={"X-CSRFToken": token})
    with client.application.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        attempt.deadline_at = utcnow() - timedelta(minutes=1)  # time ran out a minute ago
        db.session.commit()
    late_save = client.post(f"/quiz/attempt/{attempt_id}/save",
                            json={"responses": {"tf": ["0"]}}, headers={"X-CSRFToken": token})
    assert late_save.status_code == 409 and "time limit" in late_save.json["error"]
    client.post(f"/quiz/attempt/{attempt_id}/submit",
                data={**answers(right_answer), "csrf_token": token})
    with client.application.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        assert attempt.state == Attempt.GRADED
        assert attempt.responses["sc"] == ["0"] and attempt.responses["tf"] == []
        assert attempt.results["sc"]["correct"] and not attempt.results["tf"]["correct"]


def test_an_expired_attempt_is_graded_when_the_learner_returns(client, auth, make):
    org = make.org()
    make.user(org, "sam@example.test")
    quiz = make.quiz(org, time_limit_minutes=5)
    auth.login("sam@example.test")
    attempt_id, url = start(client, quiz)
    with client.application.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        attempt.deadline_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    back = client.get(url, follow_redirects=True)
    assert "time limit has passed" in back.text and "Your result: 0%" in back.text
    with client.application.app_context():
        assert db.session.get(Attempt, attempt_id).state == Attempt.GRADED


def test_learner_sees_only_their_own_attempts(client, auth, make):
    org = make.org()
    make.user(org, "sam@example.test")
    make.user(org, "kim@example.test")
    quiz = make.quiz(org)
    auth.login("sam@example.test")
    attempt_id, url = start(client, quiz)
    client.post(f"/quiz/attempt/{attempt_id}/submit",
                data={**answers(right_answer), "csrf_token": csrf_from(client.get(url).text)})
    assert client.get("/quiz/mine").text.count("Sample quiz") == 1
    auth.logout()
    auth.login("kim@example.test")
    for path in (url, f"/quiz/attempt/{attempt_id}/result"):
        assert client.get(path).status_code == 404
    assert "Sample quiz" not in client.get("/quiz/mine").text
    page = client.get(f"/quiz/{quiz.id}/")
    assert client.post(f"/quiz/attempt/{attempt_id}/submit",
                       data={"csrf_token": csrf_from(page.text)}).status_code == 404


def test_checking_an_unanswered_question_reveals_nothing(client, auth, make):
    org = make.org()
    make.user(org, "sam@example.test")
    quiz = make.quiz(org, feedback="after_each")
    auth.login("sam@example.test")
    attempt_id, url = start(client, quiz)
    headers = {"X-CSRFToken": csrf_from(client.get(url).text)}
    refused = client.post(f"/quiz/attempt/{attempt_id}/check/sc", json={"response": []},
                          headers=headers)
    assert refused.status_code == 409
    assert refused.json == {"error": "Choose an answer before checking it."}
    unknown = client.post(f"/quiz/attempt/{attempt_id}/check/nope", json={"response": ["0"]},
                          headers=headers)
    assert unknown.status_code == 409 and "not part of this attempt" in unknown.json["error"]
    assert "SECRET" not in client.get(url).text
    with client.application.app_context():
        assert db.session.get(Attempt, attempt_id).locked == []


def test_a_draft_quiz_cannot_be_started_by_learners(app, client, auth, make):
    from quizzes import authoring

    org = make.org()
    make.user(org, "sam@example.test")
    make.quiz(org, slug="tone")
    with app.app_context():
        bank = authoring.create_bank(org.id, "tone", "Tone")
        draft = authoring.save_draft(org.id, "tone", "Tone v2", {"banks": [bank.slug]})
        db.session.commit()
        draft_id = draft.id
    auth.login("sam@example.test")
    page = client.get(f"/quiz/{draft_id}/")
    assert page.status_code == 302 and not page.headers["Location"].endswith(f"/{draft_id}/")
    token = csrf_from(client.get(page.headers["Location"]).text)
    refused = client.post(f"/quiz/{draft_id}/start", data={"csrf_token": token},
                          follow_redirects=True)
    assert "This quiz is a draft" in refused.text
    with app.app_context():
        assert db.session.scalar(select(func.count(Attempt.id))) == 0


def test_autosaves_racing_a_submit_never_change_a_graded_attempt(app, make):
    org = make.org()
    make.user(org, "sam@example.test")
    quiz = make.quiz(org)
    clients = _logged_in_clients(app, "sam@example.test", 4)
    attempt_id, url = start(clients[0], quiz)
    tokens = [csrf_from(c.get(url).text) for c in clients]

    def submit():
        return clients[0].post(f"/quiz/attempt/{attempt_id}/submit",
                               data={**answers(right_answer), "csrf_token": tokens[0]}).status_code

    def autosave(n):
        return clients[n].post(f"/quiz/attempt/{attempt_id}/save",
                               json={"responses": {"sc": ["2"]}},
                               headers={"X-CSRFToken": tokens[n]}).status_code

    statuses = _run_together([submit] + [lambda n=n: autosave(n) for n in (1, 2, 3)])
    assert statuses[0] == 302 and set(statuses[1:]) <= {200, 409}
    with app.app_context():
        attempt = db.session.get(Attempt, attempt_id)
        # Whatever won the race, the graded responses are exactly what was graded.
        expected_sc = attempt.results["sc"]["correct"]
        assert attempt.responses["sc"] == (["0"] if expected_sc else ["2"])
        assert attempt.state == Attempt.GRADED
    late = autosave(1)
    assert late == 409


def test_concurrent_starts_during_a_cooldown_are_all_refused(app, make):
    org = make.org()
    make.user(org, "sam@example.test")
    quiz = make.quiz(org, cooldown_minutes=30)
    clients = _logged_in_clients(app, "sam@example.test", 3)
    attempt_id, url = start(clients[0], quiz)
    token = csrf_from(clients[0].get(url).text)
    clients[0].post(f"/quiz/attempt/{attempt_id}/submit",
                    data={**answers(wrong_answer), "csrf_token": token})
    tokens = [csrf_from(c.get(f"/quiz/{quiz.id}/").text) for c in clients]
    _run_together([
        (lambda c=c, t=t: c.post(f"/quiz/{quiz.id}/start", data={"csrf_token": t}).status_code)
        for c, t in zip(clients, tokens, strict=True)])
    with app.app_context():
        assert db.session.scalar(select(func.count(Attempt.id))) == 1


def test_per_question_check_keeps_the_key_hidden_when_answers_are_not_shown(client, auth, make):
    org = make.org()
    make.user(org, "sam@example.test")
    quiz = make.quiz(org, feedback="after_each", show_answers=False)
    auth.login("sam@example.test")
    attempt_id, url = start(client, quiz)
    checked = client.post(f"/quiz/attempt/{attempt_id}/check/sc", json={"response": ["1"]},
                          headers={"X-CSRFToken": csrf_from(client.get(url).text)})
    assert checked.json["correct"] is False and checked.json["key"] == []
    body = checked.get_data(as_text=True)
    assert "SECRET-FB-sc-1" in body  # feedback on the learner's own choice
    assert "SECRET-FB-sc-0" not in body and "SECRET-EXPL" not in body
