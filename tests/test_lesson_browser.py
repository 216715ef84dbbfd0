"""In a real Chromium: a learner completes a whole module and the policy by keyboard alone,
and the lesson pages pass axe-core (no critical or serious violation), fit a phone and 200%
zoom without sideways scrolling."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from course.models import Enrollment, PolicyAcknowledgment
from lms_plugin.app import create_app
from lms_plugin.config import TestConfig
from lms_plugin.core.extensions import db

from .factories import Factory

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
MODULE = "practice-module"
# The right choice for each question of the fixture bank (the test's own answer key).
ANSWERS = {"teaser-post": "1", "complaint-reply": "0"}


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium",
                      shutil.which("chromium")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def axe_script() -> Path:
    import axe_playwright_python

    return Path(axe_playwright_python.__file__).parent / "axe.min.js"


@pytest.fixture(scope="session")
def chromium(request):
    """The suite's shared browser when tests/conftest.py provides one (a second sync
    Playwright cannot start beside it), else one of this module's own."""
    try:
        shared = request.getfixturevalue("browser")
    except pytest.FixtureLookupError:
        shared = None
    if shared is not None:
        yield shared
        return
    path = chromium_path()
    if path is None:
        message = "Chromium is not installed: 'apt-get install chromium' (CI installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def lesson_site(tmp_path):
    """The app on a SQLite file, served by werkzeug in a thread, with a learner enrolled."""
    config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    app = create_app(config)
    with app.app_context():
        db.create_all()
    make = Factory(app)
    org = make.org()
    learner = make.user(org, "sam@example.test", name="Sam Okafor")
    course = make.course(org, modules=(MODULE,), due_days=14)
    enrollment = make.enrollment(learner, course)
    make.policy(org, text="## Our policy\n\nSay that you work here.", min_read_seconds=0)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}", enrollment, org
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    with app.app_context():
        db.engine.dispose()


def focused(page, selector: str, text: str = "") -> bool:
    return page.evaluate(
        "([s, t]) => { const e = document.activeElement;"
        " return !!e && e.matches(s) && e.textContent.includes(t); }", [selector, text])


def tab_to(page, selector: str, text: str = "", limit: int = 80) -> None:
    """Press Tab until the element matching ``selector`` (and showing ``text``) has the focus,
    as a person would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focused(page, selector, text):
            return
    raise AssertionError(f"Tab never reached {selector} {text!r}")


def choose_radio(page, name: str, value: str) -> None:
    """Tab into a radio group, then arrow to the wanted option and select it with Space."""
    tab_to(page, f"input[type=radio][name='{name}']")
    for _ in range(10):
        if focused(page, f"input[name='{name}'][value='{value}']"):
            page.keyboard.press("Space")
            assert page.evaluate(
                "s => document.querySelector(s).checked",
                f"input[name='{name}'][value='{value}']")
            return
        page.keyboard.press("ArrowDown")
    raise AssertionError(f"option {value} of {name} was never reached")


def assert_accessible(page) -> None:
    page.add_script_tag(path=str(axe_script()))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    serious = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
               for v in result["violations"] if v["impact"] in ("critical", "serious")]
    assert serious == [], f"{page.url}: {serious}"


def assert_no_sideways_scroll(page) -> None:
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"{page.url} scrolls sideways by {overflow}px"


def test_a_learner_completes_a_module_and_the_policy_by_keyboard_only(chromium, lesson_site):
    app, base, enrollment, _ = lesson_site
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        page.goto(f"{base}/login")
        tab_to(page, "input[name=email]")
        page.keyboard.type("sam@example.test")
        tab_to(page, "input[name=password]")
        page.keyboard.type("correct-horse-battery")
        page.keyboard.press("Enter")
        page.get_by_role("heading", name="My training").wait_for()
        assert_accessible(page)

        # Resume takes the learner to the first unread lesson.
        tab_to(page, "a[href$='/resume']")
        page.keyboard.press("Enter")
        page.get_by_role("heading", name="Would you post this?", level=1).wait_for()
        assert_accessible(page)

        # A practice exercise answers in place (fetch), announced in a live region.
        choose_radio(page, "choice", "0")
        tab_to(page, "#practice-teaser button[type=submit]")
        page.keyboard.press("Enter")
        feedback = page.locator("#practice-teaser-feedback")
        feedback.get_by_text("Not quite.").wait_for()
        assert "Hinting at unpublished results" in feedback.inner_text()
        assert "/practice/" not in page.url  # no page load: the answer came back as JSON

        titles = ["Replying to a complaint", "Wrap-up"]
        for title in titles:
            tab_to(page, "button", "Done, next")
            page.keyboard.press("Enter")
            page.get_by_role("heading", name=title, level=1).wait_for()
            assert_accessible(page)
        tab_to(page, "button", "Done, back to the module")
        page.keyboard.press("Enter")
        page.get_by_role("link", name="Take the quiz").wait_for()

        tab_to(page, "a", "Take the quiz")
        page.keyboard.press("Enter")
        page.get_by_role("button", name="Start the quiz").wait_for()
        tab_to(page, "button", "Start the quiz")
        page.keyboard.press("Enter")
        page.get_by_role("button", name="Submit answers").wait_for()
        for question, value in ANSWERS.items():
            choose_radio(page, f"q-{question}", value)
        tab_to(page, "button", "Submit answers")
        page.keyboard.press("Enter")
        page.get_by_text("Your result: 100%").wait_for()

        # Everything is done but the policy: the overview says so and resumes there.
        page.goto(f"{base}/learn/")
        page.get_by_text("Resume: acknowledge the policy").wait_for()
        tab_to(page, "a[href$='/resume']")
        page.keyboard.press("Enter")
        page.get_by_role("heading", name="Acknowledge this version").wait_for()
        assert_accessible(page)
        tab_to(page, "input[name=full_name]")
        page.keyboard.type("Sam Okafor")
        tab_to(page, "input[name=confirm]")
        page.keyboard.press("Space")
        tab_to(page, "button", "Acknowledge version 1")
        page.keyboard.press("Enter")
        page.get_by_text("you acknowledged version 1 of the policy").wait_for()
        page.get_by_text("Completed").first.wait_for()
    finally:
        context.close()

    with app.app_context():
        assert db.session.get(Enrollment, enrollment.id).completed_at is not None
        assert db.session.execute(select(PolicyAcknowledgment)).scalar_one().typed_name == \
            "Sam Okafor"


@pytest.mark.parametrize(("width", "height", "label"), [
    (360, 740, "phone"),
    (640, 400, "a 1280px screen at 200% zoom"),
])
def test_lesson_pages_fit_small_screens_and_zoom(chromium, lesson_site, width, height, label):
    _, base, enrollment, _ = lesson_site
    context = chromium.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        page.goto(f"{base}/login")
        page.get_by_label("E-mail").fill("sam@example.test")
        page.get_by_label("Password").fill("correct-horse-battery")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="My training").wait_for()
        for path in ("/learn/", f"/learn/{enrollment.id}/{MODULE}/",
                     f"/learn/{enrollment.id}/{MODULE}/01-would-you-post-this",
                     f"/learn/{enrollment.id}/{MODULE}/02-reply-to-a-complaint", "/policy/"):
            page.goto(base + path)
            assert_no_sideways_scroll(page)
            assert_accessible(page)
        # The practice options and the lesson buttons stay usable at this width.
        page.goto(f"{base}/learn/{enrollment.id}/{MODULE}/01-would-you-post-this")
        box = page.get_by_role("button", name="Check my answer").bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, label
    finally:
        context.close()


def test_trainer_fixes_a_lesson_with_live_preview_and_publishes(chromium, lesson_site):
    from lms_plugin.core.models import Role

    app, base, _, org = lesson_site
    Factory(app).user(org, "tara@example.test", name="Tara Trainer",
                      roles=(Role.TRAINER, Role.HR))
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(15000)
    try:
        page.goto(f"{base}/login")
        page.get_by_label("E-mail").fill("tara@example.test")
        page.get_by_label("Password").fill("correct-horse-battery")
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"{base}/author/")
        assert_accessible(page)
        page.goto(f"{base}/author/{MODULE}/lessons/03-wrap-up/edit")
        preview = page.locator("#live-preview")
        preview.get_by_text("You are ready for the quiz.").wait_for()  # rendered on load
        body = page.get_by_label("Lesson text (Markdown)")
        body.fill("You are **nearly** ready.<img src=x alt=\"A test\" onerror=\"window.hacked=1\">")
        preview.locator("strong", has_text="nearly").wait_for()
        assert page.evaluate("() => window.hacked") is None
        assert "onerror" not in preview.inner_html()
        assert_accessible(page)
        page.get_by_role("button", name="Save to draft").click()
        page.get_by_text("Saved in the draft").wait_for()
        page.goto(f"{base}/author/{MODULE}/")
        assert_accessible(page)
        page.get_by_role("button", name="Publish version 2").click()
        page.get_by_text("Published version 2. Learners see it now.").wait_for()
        page.goto(f"{base}/policy/publish")
        assert_accessible(page)
        page.goto(f"{base}/policy/acknowledgments")
        page.get_by_role("heading", name="Who acknowledged which policy version").wait_for()
        assert_accessible(page)
    finally:
        context.close()
    with app.app_context():
        from course import services

        current = services.current_module_version(org.id, MODULE)
        assert current.number == 2
        assert "**nearly**" in current.module.lesson("03-wrap-up").body
