"""The demo learner, in a real browser: sign in, complete the course, see the certificate."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from lms_plugin.cli import seed_demo
from lms_plugin.core.extensions import db
from quizzes.models import QuizVersion

pytestmark = pytest.mark.browser


def answer_key(app) -> dict[str, list[str]]:
    """The right choice indexes for every question of the demo quizzes (the test's own copy)."""
    key = {}
    with app.app_context():
        for quiz in db.session.execute(select(QuizVersion)).scalars():
            for q in quiz.questions:
                if q["type"] == "true_false":
                    key[q["id"]] = ["0" if q["answer"] else "1"]
                else:
                    items = q.get("options") or q.get("segments")
                    key[q["id"]] = [str(i) for i, item in enumerate(items)
                                    if item.get("correct") or item.get("problem")]
    return key


def wrong_answer(right: list[str]) -> list[str]:
    return ["1"] if right != ["1"] else ["0"]


def test_demo_learner_completes_the_course_and_gets_a_certificate(live_app, live_server, page):
    with live_app.app_context():
        seed_demo()
        # The demo policy asks for 20 s of reading; the journey does not need to wait for it.
        from course.models import PolicyVersion

        db.session.execute(select(PolicyVersion)).scalar_one().min_read_seconds = 0
        db.session.commit()
    key = answer_key(live_app)

    page.goto(live_server.url + "/")
    page.get_by_label("E-mail").fill("learner@demo.test")
    page.get_by_label("Password").fill("demo-password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="My training").wait_for()

    # The policy first: read it and acknowledge it with the typed full name.
    page.get_by_role("link", name="Acknowledge the social media policy").click()
    page.get_by_label("Type your full name").fill("Lee Learner")
    page.get_by_label("I have read this version of the policy").check()
    page.get_by_role("button", name="Acknowledge version 1").click()
    page.get_by_text("You acknowledged version 1").wait_for()
    page.get_by_role("link", name="My training").click()

    modules = page.locator("ol.list-group a.fw-bold", has_not_text="Acknowledge the")
    count = modules.count()
    assert count == 7
    for index in range(count):
        page.locator("ol.list-group a.fw-bold", has_not_text="Acknowledge the").nth(index).click()
        # Read every lesson: the module page offers "Start"/"Continue" until all are read.
        while page.get_by_role("link", name="Take the quiz").count() == 0:
            page.locator("a.btn-primary", has_text=":").first.click()
            while True:
                page.locator("article.lesson-body h1").wait_for()
                button = page.get_by_role("button", name="Done")
                back_to_module = "back to the module" in button.inner_text()
                button.click()
                if back_to_module:
                    break
        page.get_by_role("link", name="Take the quiz").click()
        start_url = page.url
        if index == 0:
            # The first try fails: the result says what to review and when to retry.
            page.get_by_text("Pass mark: 80%").wait_for()
            page.get_by_role("button", name="Start the quiz").click()
            for fieldset in page.locator("fieldset.question").all():
                qid = fieldset.get_attribute("data-question")
                for choice in wrong_answer(key[qid]):
                    fieldset.locator(f"input[name='q-{qid}'][value='{choice}']").check()
            page.get_by_role("button", name="Submit answers").click()
            page.get_by_text("Not passed this time").wait_for()
            assert page.get_by_text("you can try again after").count() == 1
            assert page.get_by_text("Not quite").count() >= 1
            # Ten minutes later (the demo's cooldown), the retry is allowed.
            with live_app.app_context():
                from datetime import timedelta

                from quizzes.models import Attempt

                attempt = db.session.execute(select(Attempt)).scalar_one()
                attempt.submitted_at -= timedelta(minutes=11)
                db.session.commit()
            page.goto(start_url)
        page.get_by_role("button", name="Start the quiz").click()
        for fieldset in page.locator("fieldset.question").all():
            qid = fieldset.get_attribute("data-question")
            for choice in key[qid]:
                fieldset.locator(f"input[name='q-{qid}'][value='{choice}']").check()
        page.get_by_role("button", name="Submit answers").click()
        page.get_by_text("You passed").wait_for()
        page.get_by_role("link", name="Back to the module").click()
        page.get_by_text("You have completed this module.").wait_for()
        page.get_by_role("link", name="Back to my training").click()

    page.get_by_role("link", name="My certificates").click()
    page.get_by_role("heading", name="Social media onboarding").wait_for()
    code = page.locator(".code-display").first.inner_text()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download PDF").click()
    pdf = PdfReader(io.BytesIO(Path(download_info.value.path()).read_bytes()))
    text = pdf.pages[0].extract_text()
    assert "Lee Learner" in text and code in text
    linkedin = page.get_by_role("link", name="Add to LinkedIn profile")
    assert "linkedin.com/profile/add" in linkedin.get_attribute("href")

    page.get_by_role("link", name="Public verification page").click()
    assert page.get_by_text("Valid.").is_visible()
