"""The Open edX XBlock in the XBlock test runtime, talking to the real service over HTTP."""

from __future__ import annotations

import html
import itertools
import json
import threading

import pytest
from sqlalchemy import select
from webob import Request
from werkzeug.serving import make_server
from xblock.fields import ScopeIds
from xblock.reference.user_service import UserService, XBlockUser
from xblock.runtime import DictKeyValueStore, KvsFieldData
from xblock.test.tools import TestRuntime

from certificates.models import Certificate
from content_modules import LIBRARY, load_module
from course import services as course_services
from course.models import Enrollment
from lms_plugin.core.api import Scope
from lms_plugin.core.extensions import db
from lms_plugin.core.models import User
from lms_plugin.xblock import content
from lms_plugin.xblock.block import ClearedToPostBlock
from quizzes.core import grade

from .factories import FIXTURE_MODULES
from .test_lti_browser import chromium_fixture  # noqa: F401 - the fixture is used by name

POLICY = "our-policy"  # the shipped library's module: lessons and a quiz
PRACTICE = "xblock-practice"  # a test module with a practice exercise


@pytest.fixture(autouse=True)
def _test_modules(monkeypatch):
    monkeypatch.setenv("CLEARED_MODULE_DIRS", str(FIXTURE_MODULES))


class AnonymousUsers(UserService):
    """Open edX's user service hands blocks the learner's anonymous id in ``opt_attrs``."""

    def __init__(self, anonymous_id: str):
        super().__init__()
        self.anonymous_id = anonymous_id

    def get_current_user(self):
        user = XBlockUser(is_current_user=True)
        user.opt_attrs["edx-platform.anonymous_user_id"] = self.anonymous_id
        return user


class RecordingRuntime(TestRuntime):
    """XBlock's test runtime with in-memory field data and the user service, remembering
    what the block publishes to Open edX (grade, completion)."""

    def __init__(self, user_id="student-1", anonymous_id="anon-7f3a"):
        super().__init__(services={"field-data": KvsFieldData(DictKeyValueStore()),
                                   "user": AnonymousUsers(anonymous_id)})
        self.student = user_id
        self.published: list[tuple[str, dict]] = []

    def publish(self, block, event_type, event_data):
        self.published.append((event_type, event_data))

    def handler_url(self, block, handler_name, suffix="", query="", thirdparty=False):
        return f"/handler/{handler_name}"

    def local_resource_url(self, block, uri):
        return f"/resource/{uri}"

    def resource_url(self, resource):
        return f"/resource/{resource}"


def make_block(runtime: RecordingRuntime, **settings) -> ClearedToPostBlock:
    def_id = runtime.id_generator.create_definition("cleared_to_post")
    usage_id = runtime.id_generator.create_usage(def_id)
    block = runtime.construct_xblock_from_class(
        ClearedToPostBlock, ScopeIds(runtime.student, "cleared_to_post", def_id, usage_id))
    for name, value in settings.items():
        setattr(block, name, value)
    return block


def call(block, handler: str, data: dict | None = None) -> dict:
    request = Request.blank("/", method="POST", body=json.dumps(data or {}).encode(),
                            content_type="application/json")
    response = block.runtime.handle(block, handler, request)
    assert response.status_code == 200, response.body
    return json.loads(response.body)


def right_answer(question: dict) -> list[int]:
    count = len(question.get("options") or question.get("segments") or [0, 1])
    for size in range(count + 1):
        for combo in itertools.combinations(range(max(count, 2)), size):
            if grade(question, list(combo)).correct:
                return list(combo)
    raise AssertionError(f"no right answer for {question['id']}")


def take_quiz(block, correct: bool) -> dict:
    started = call(block, "start_quiz")
    bank = content.questions_by_id(block.module)
    responses = {q["id"]: right_answer(bank[q["id"]]) if correct else [] for q in
                 started["questions"]}
    return call(block, "submit_quiz", {"responses": responses})


@pytest.fixture
def service(app, make):
    """The real application on 127.0.0.1 with an organisation that teaches POLICY."""
    org = make.org("acme", "Acme Ltd")
    with app.app_context():
        from lms_plugin.core.models import Organization

        org_row = db.session.get(Organization, org.id)
        course_services.import_module(org_row, load_module(LIBRARY / "02-our-policy"))
        course_services.create_course(org_row, "onboarding", "Onboarding", [POLICY],
                                      required_for_posting=True)
        db.session.commit()
    key = make.api_key(org, [Scope.COMPLETIONS_WRITE])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_port}", "key": key, "org": org}
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_the_block_renders_the_module_without_revealing_answers():
    block = make_block(RecordingRuntime(), module_slug=POLICY)
    page = html.unescape(block.student_view().content)
    module = content.module(POLICY)
    for lesson in module.lessons:
        assert lesson.title in page
    assert f"Pass mark {module.quiz['pass_mark']}%" in page
    assert "Start the quiz" in page
    for question in module.questions:
        assert question.get("explanation", "@@absent@@") not in page
    # Starting the quiz shows questions, never their key or feedback.
    started = call(block, "start_quiz")
    assert len(started["questions"]) == module.quiz["questions"]
    text = json.dumps(started)
    for question in module.questions:
        for option in question.get("options", []):
            assert option.get("feedback", "@@absent@@") not in text
        assert '"correct"' not in text


def test_practice_says_right_away_whether_and_why():
    block = make_block(RecordingRuntime(), module_slug=PRACTICE)
    lesson = next(lesson for lesson in block.module.lessons if lesson.practice)
    item = lesson.practice[0]
    page = html.unescape(block.student_view().content)
    assert item["prompt"] in page and "Check my answer" in page
    right = call(block, "check_practice", {"lesson": lesson.slug, "id": item["id"],
                                           "response": right_answer(
                                               content.practice_question(item))})
    assert right["is_correct"] is True
    wrong_index = next(i for i, o in enumerate(item["options"]) if not o.get("correct"))
    wrong = call(block, "check_practice", {"lesson": lesson.slug, "id": item["id"],
                                           "response": [wrong_index]})
    assert wrong["is_correct"] is False
    assert wrong["correct"] == [i for i, o in enumerate(item["options"]) if o["correct"]]
    assert wrong["feedback"][str(wrong_index)] == item["options"][wrong_index]["feedback"]
    assert call(block, "check_practice", {"lesson": "nope", "id": "x"})["error"]


def test_lessons_quiz_grade_completion_and_certificate_end_to_end(app, service):
    runtime = RecordingRuntime()
    block = make_block(runtime, module_slug=POLICY, service_url=service["url"],
                       api_key=service["key"])
    module = block.module
    for lesson in module.lessons:
        summary = call(block, "mark_read", {"lesson": lesson.slug})
    assert summary["lessons_read"] == [lesson.slug for lesson in module.lessons]
    assert block.lessons_read == summary["lessons_read"]  # Scope.user_state

    failed = take_quiz(block, correct=False)
    assert failed["passed"] is False and failed["review"]
    assert runtime.published == [("grade", {"value": failed["percent"], "max_value": 100.0})]
    assert not block.completed
    # The module's cooldown: a retry waits, and the learner is told until when.
    assert failed["retry_at"] is not None
    refused = call(block, "start_quiz")
    assert "you can try again in 10 minutes" in refused["error"]
    assert "review the lessons, then try again after" in block.student_view().content
    block.last_attempt_at = "2000-01-01T00:00:00+00:00"  # the cooldown has passed

    passed = take_quiz(block, correct=True)
    assert passed["passed"] is True and passed["percent"] == 100.0
    assert ("grade", {"value": 100.0, "max_value": 100.0}) in runtime.published
    assert ("completion", {"completion": 1.0}) in runtime.published
    assert passed["completed"] and passed["reported"]
    # The link uses the service's public address (PUBLIC_BASE_URL), not how the block reached it.
    assert passed["certificate_url"].startswith("http://localhost/verify/")

    # The service now knows the learner by the anonymous id, with a completed enrolment and
    # a certificate; the learner sees the link.
    with app.app_context():
        user = db.session.execute(select(User).filter_by(external_id="openedx:anon-7f3a")
                                  ).scalar_one()
        enrollment = db.session.execute(select(Enrollment).filter_by(user_id=user.id)
                                        ).scalar_one()
        assert enrollment.completed_at is not None
        assert db.session.execute(select(Certificate).filter_by(
            enrollment_id=enrollment.id)).scalar_one()
    assert "See your certificate" in block.student_view().content
    # Attempts are exhausted only by trying; a passed quiz cannot be retaken for a better grade.
    assert "error" in call(block, "start_quiz")


def test_a_failed_report_is_shown_and_can_be_sent_again(app, service):
    runtime = RecordingRuntime(anonymous_id="anon-retry")
    block = make_block(runtime, module_slug=POLICY, service_url="http://127.0.0.1:9",
                       api_key=service["key"])
    for lesson in block.module.lessons:
        call(block, "mark_read", {"lesson": lesson.slug})
    result = take_quiz(block, correct=True)
    assert result["retry_at"] is None  # passed: no cooldown
    assert result["completed"] and not result["reported"]
    assert "could not be sent yet" in result["report_error"]
    assert "Send my completion again" in block.student_view().content
    block.service_url = service["url"]
    again = call(block, "retry_report")
    assert again["reported"] and again["report_error"] == ""
    assert again["certificate_url"]


def test_a_wrong_key_is_reported_to_the_learner_not_swallowed(app, service):
    block = make_block(RecordingRuntime(anonymous_id="anon-key"), module_slug=POLICY,
                       service_url=service["url"], api_key="ctp_nope_nope")
    for lesson in block.module.lessons:
        call(block, "mark_read", {"lesson": lesson.slug})
    result = take_quiz(block, correct=True)
    assert "answered 401" in result["report_error"]


def test_studio_edits_are_checked_field_by_field():
    block = make_block(RecordingRuntime(), module_slug=POLICY)
    studio = block.studio_view().content
    assert 'name="module_slug"' in studio and 'name="api_key"' in studio
    bad = call(block, "studio_submit", {"module_slug": "nope", "pass_mark": "150",
                                        "service_url": "train.example.com", "api_key": ""})
    assert bad["result"] == "error"
    assert set(bad["errors"]) == {"module_slug", "pass_mark", "service_url", "api_key"}
    assert block.module_slug == POLICY  # nothing saved
    missing_key = call(block, "studio_submit", {"module_slug": PRACTICE,
                                                "service_url": "https://train.example.com"})
    assert set(missing_key["errors"]) == {"api_key"}
    ok = call(block, "studio_submit", {"display_name": "Tone", "module_slug": PRACTICE,
                                       "pass_mark": "70", "service_url":
                                       "https://train.example.com/", "api_key": "ctp_a_b"})
    assert ok == {"result": "success"}
    assert (block.module_slug, block.pass_mark, block.service_url, block.api_key) == (
        PRACTICE, 70, "https://train.example.com", "ctp_a_b")
    assert "ctp_a_b" not in block.studio_view().content  # the key is never shown back
    call(block, "studio_submit", {"module_slug": PRACTICE, "service_url":
                                  "https://train.example.com", "api_key": ""})
    assert block.api_key == "ctp_a_b"  # an empty box keeps it


def test_the_pass_mark_set_in_studio_decides():
    block = make_block(RecordingRuntime(), module_slug=POLICY, pass_mark=0)
    assert take_quiz(block, correct=False)["passed"] is True


def test_the_block_is_registered_for_open_edx():
    from importlib.metadata import entry_points

    [entry] = [e for e in entry_points(group="xblock.v1") if e.name == "cleared_to_post"]
    assert entry.load() is ClearedToPostBlock
    scenarios = ClearedToPostBlock.workbench_scenarios()
    assert len(scenarios) == 2 and all("<cleared_to_post" in xml for _, xml in scenarios)


# -- the service side: POST /api/v1/completions ---------------------------------------------

def test_completion_api_checks_the_key_scope_and_fields(app, client, service, make):
    url = "/api/v1/completions"
    assert client.post(url, json={"learner_id": "a", "module": POLICY}).status_code == 401
    reader = make.api_key(service["org"], [Scope.RIGHTS_READ])
    denied = client.post(url, json={"learner_id": "a", "module": POLICY},
                         headers={"Authorization": f"Bearer {reader}"})
    assert denied.status_code == 403
    bearer = {"Authorization": f"Bearer {service['key']}"}
    for body, field in [({"module": POLICY}, "learner_id"),
                        ({"learner_id": "a"}, "module"),
                        ({"learner_id": "a", "module": POLICY, "score": 101}, "score"),
                        ({"learner_id": "a", "module": POLICY, "score": "high"}, "score"),
                        ({"learner_id": "a", "module": "01-why-your-voice-matters"}, "module")]:
        response = client.post(url, json=body, headers=bearer)
        assert response.status_code == 422, body
        assert response.json["error"]["field"] == field
    assert client.post(url, data="nope", headers=bearer).status_code == 400
    with app.app_context():
        assert db.session.execute(select(User).filter(
            User.external_id.like("openedx:%"))).first() is None


def test_reporting_twice_issues_one_certificate(app, client, service):
    bearer = {"Authorization": f"Bearer {service['key']}"}
    body = {"learner_id": "anon-twice", "module": POLICY, "score": 90}
    first = client.post("/api/v1/completions", json=body, headers=bearer)
    assert first.status_code == 200, first.json
    assert first.json["course_completed"] is True and first.json["certificate_url"]
    second = client.post("/api/v1/completions", json=body, headers=bearer)
    assert second.json["certificate_url"] == first.json["certificate_url"]
    with app.app_context():
        assert len(db.session.execute(select(Certificate)).scalars().all()) == 1
    assert "/completions" in client.get("/api/v1/openapi.json").json["paths"]


# -- xblock-sdk's workbench (Django), as `make workbench` serves it -------------------------

@pytest.fixture(scope="module")
def workbench(tmp_path_factory):
    """The SDK's workbench as `make workbench` runs it: migrate, then serve, in a process of
    its own (Django configures logging and settings process-wide)."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    folder = tmp_path_factory.mktemp("workbench")
    (folder / "var").mkdir()  # the SDK's settings log to var/workbench.log
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="workbench.settings",
               WORKBENCH_DATABASES=json.dumps({"default": {
                   "ENGINE": "django.db.backends.sqlite3",
                   "NAME": str(folder / "workbench.sqlite3")}}))
    admin = [sys.executable, "-m", "django"]
    subprocess.run([*admin, "migrate", "--run-syncdb", "--verbosity", "0"], cwd=folder,
                   env=env, check=True, timeout=300)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([*admin, "runserver", "--noreload", f"127.0.0.1:{port}"],
                              cwd=folder, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(base + "/", timeout=5).close()
            break
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                pytest.fail("the workbench did not start within 60 seconds")
            time.sleep(0.3)
    yield base
    server.terminate()
    server.wait(10)


def _browser():
    """A urllib opener that keeps cookies, as a browser would (Django's CSRF cookie)."""
    import http.cookiejar
    import urllib.request

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.jar = jar
    return opener


def _get(url: str, opener=None) -> str:
    import urllib.request

    with (opener or urllib.request.build_opener()).open(url, timeout=30) as response:
        assert response.status == 200
        return html.unescape(response.read().decode())


def test_the_workbench_lists_and_serves_our_scenarios(workbench):
    import urllib.request

    browser = _browser()
    assert "Cleared to Post: our policy (quiz)" in _get(workbench + "/", browser)
    body = _get(workbench + "/scenario/cleared_to_post.0/", browser)
    module = content.module(POLICY)
    assert all(lesson.title in body for lesson in module.lessons)
    assert "Start the quiz" in body and "ClearedToPostBlock" in body

    import re

    usage_id = next(u for u in re.findall(r"data-usage=['\"]([^'\"]+)", body)
                    if "cleared_to_post" in u)
    lesson = module.lessons[0].slug
    request = urllib.request.Request(
        f"{workbench}/handler/{usage_id}/mark_read/", method="POST",
        data=json.dumps({"lesson": lesson}).encode(),
        headers={"Content-Type": "application/json", "X-CSRFToken": next(
            c.value for c in browser.jar if c.name == "csrftoken")})
    with browser.open(request, timeout=30) as answer:
        assert json.loads(answer.read())["lessons_read"] == [lesson]
    # Learner state persisted in the workbench's store: the page now shows the lesson read.
    again = _get(workbench + "/scenario/cleared_to_post.0/", browser)
    assert "1</span> of" in again


@pytest.mark.browser
def test_a_learner_uses_the_block_in_a_real_browser(workbench, chromium):
    """block.js against the SDK's JavaScript runtime: read a lesson, take the quiz."""
    page = chromium.new_page()
    page.goto(workbench + "/scenario/cleared_to_post.0/?student=browser-learner")
    total = len(content.module(POLICY).lessons)
    assert page.locator(".ctp-progress").inner_text() == f"0 of {total} lessons read."
    page.locator(".ctp-mark-read").first.click()
    page.wait_for_function("document.querySelector('.ctp-read-count').textContent === '1'")
    page.get_by_role("button", name="Start the quiz").click()
    page.locator(".ctp-quiz-form fieldset").first.wait_for()
    for fieldset in page.locator(".ctp-quiz-form fieldset").all():
        fieldset.locator("input").first.check()
    page.get_by_role("button", name="Submit my answers").click()
    result = page.locator(".ctp-quiz-result")
    result.filter(has_text="Your result:").wait_for(timeout=10000)
    assert "%" in result.inner_text()
    page.close()
