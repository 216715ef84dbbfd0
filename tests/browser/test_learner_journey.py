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


def test_demo_learner_completes_the_course_and_gets_a_certificate(live_app, live_server, page):
    with live_app.app_context():
        seed_demo()
    key = answer_key(live_app)

    page.goto(live_server.url + "/")
    page.get_by_label("E-mail").fill("learner@demo.test")
    page.get_by_label("Password").fill("demo-password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="My training").wait_for()

    modules = page.locator("ol.list-group a.fw-bold")
    count = modules.count()
    assert count >= 1
    for index in range(count):
        page.locator("ol.list-group a.fw-bold").nth(index).click()
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

    page.get_by_role("link", name="Public verification page").click()
    assert page.get_by_text("Valid.").is_visible()
