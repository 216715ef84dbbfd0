"""In a real Chromium: answers survive a reload (autosave), one question per page, the result;
and a trainer writes a best-reply question and previews it as a learner would."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from lms_plugin.core.models import Role

pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def sign_in(page, base: str, email: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def test_learner_answers_survive_a_reload_and_the_quiz_is_graded(live_server, page, make):
    org = make.org()
    make.user(org, "sam@example.test")
    quiz = make.quiz(org, bank=[
        {"id": "tf", "type": "true_false", "prompt": "Say you work here when praising us.",
         "answer": True, "explanation": "Readers deserve to know."},
        {"id": "sc", "type": "single_choice", "prompt": "Which roadmap post is fine?",
         "options": [{"text": "Nothing until it is announced.", "correct": True},
                     {"text": "A teaser about Q3.", "correct": False}]},
    ], one_per_page=True, pass_mark=100, attempts=2)
    sign_in(page, live_server, "sam@example.test")
    page.goto(f"{live_server}/quiz/{quiz.id}/")
    assert page.get_by_text("Pass mark: 100%").is_visible()
    page.get_by_role("button", name="Start the quiz").click()
    page.wait_for_url("**/attempt/*")
    first = page.locator("fieldset.question").get_attribute("data-question")
    answer = "True" if first == "tf" else "Nothing until it is announced."
    page.get_by_label(answer, exact=True).check()
    page.get_by_text("Saved.").wait_for()
    page.reload()
    assert page.get_by_label(answer, exact=True).is_checked()
    page.get_by_role("button", name="Next question").click()
    page.wait_for_url("**page=2")
    second = "True" if first == "sc" else "Nothing until it is announced."
    # The connection drops while answering: the answer is kept and saved once back online.
    page.context.set_offline(True)
    page.get_by_label(second, exact=True).check()
    page.get_by_text("Offline: not saved yet.", exact=False).wait_for()
    page.context.set_offline(False)
    page.get_by_text("Saved.").wait_for()
    page.reload()
    assert page.get_by_label(second, exact=True).is_checked()
    page.get_by_role("button", name="Submit answers").click()
    page.wait_for_url("**/result")
    assert page.get_by_role("heading", name="Your result: 100%").is_visible()
    assert page.get_by_text("Readers deserve to know.").is_visible()


def test_trainer_writes_a_best_reply_question_and_previews_it(live_server, page, make):
    org = make.org()
    make.user(org, "tess@example.test", roles=(Role.TRAINER,))
    sign_in(page, live_server, "tess@example.test")
    page.goto(f"{live_server}/quiz/manage/")
    page.get_by_role("link", name="New bank").click()
    page.get_by_label("Title").fill("Tone of voice")
    page.get_by_label("Short name").fill("tone")
    page.get_by_role("button", name="Create the bank").click()
    page.get_by_role("link", name="New best reply").click()
    page.get_by_label("Question id").fill("angry-customer")
    page.get_by_label("Question", exact=True).fill("Which reply has the right tone?")
    page.get_by_label("Comment or complaint being answered (best reply)").fill(
        "Your app lost my data. Worst company ever.")
    replies = [("Sorry to hear that; please DM us so we can fix it.", True, "Calm and helpful."),
               ("Works fine for everyone else.", False, "Dismissive.")]
    for n, (text, right, feedback) in enumerate(replies):
        page.locator(f"#options-{n}-text").fill(text)
        if right:
            page.locator(f"#options-{n}-correct").check()
        page.locator(f"#options-{n}-feedback").fill(feedback)
    # Forget the second reply's feedback first: the page says which reply needs it.
    page.locator("#options-1-feedback").fill("")
    page.get_by_role("button", name="Save the question").click()
    assert page.locator("#options-1-text-error").inner_text() == "Reply 2 needs its own feedback."
    page.locator("#options-1-feedback").fill("Dismissive.")
    page.get_by_role("button", name="Save the question").click()
    page.get_by_text("Question 'angry-customer' saved.").wait_for()
    page.get_by_role("link", name="Preview angry-customer").click()
    assert page.get_by_text("This is what a learner sees").is_visible()
    assert page.get_by_label("Works fine for everyone else.").is_visible()
    assert page.get_by_text("Your app lost my data. Worst company ever.").is_visible()


def test_when_time_runs_out_the_answers_on_screen_are_submitted(app, live_server, page, make):
    from datetime import timedelta

    from lms_plugin.core.extensions import db
    from lms_plugin.core.timeutil import utcnow
    from quizzes.models import Attempt

    org = make.org()
    make.user(org, "sam@example.test")
    quiz = make.quiz(org, bank=[
        {"id": "tf", "type": "true_false", "prompt": "Say you work here when praising us.",
         "answer": True}], time_limit_minutes=5)
    sign_in(page, live_server, "sam@example.test")
    page.goto(f"{live_server}/quiz/{quiz.id}/")
    assert page.get_by_text("Time limit: 5 minutes").is_visible()
    page.get_by_role("button", name="Start the quiz").click()
    page.wait_for_url("**/attempt/*")
    with app.app_context():
        attempt = db.session.execute(db.select(Attempt)).scalar_one()
        attempt.deadline_at = utcnow() + timedelta(seconds=4)
        db.session.commit()
    page.reload()
    assert "s left" in page.locator("#time-left").inner_text()
    page.context.set_offline(True)  # the answer is only on screen, not saved yet
    page.get_by_label("True", exact=True).check()
    page.context.set_offline(False)
    page.wait_for_url("**/result", timeout=15_000)
    assert page.get_by_role("heading", name="Your result: 100%").is_visible()
