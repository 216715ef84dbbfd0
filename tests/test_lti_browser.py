"""The LTI launch in a real Chromium, inside the LMS's iframe, across two sites."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from .lti_platform import acme_fixture, platform_fixture  # noqa: F401 - fixtures by name



@pytest.fixture(name="chromium")
def chromium_fixture(browser):
    """The session's shared Chromium (tests/conftest.py)."""
    return browser


@pytest.fixture
def tool(app):
    """Our application on its own site: http://localhost:<port> (the LMS is 127.0.0.1)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://localhost:{server.server_port}"
    app.config["PUBLIC_BASE_URL"] = base
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.mark.browser
def test_a_learner_opens_the_training_inside_the_lms_without_signing_in(
        chromium, tool, platform, acme):
    platform.tool_login_url = tool + "/lti/login"
    platform.tool_launch_url = tool + "/lti/launch"
    page = chromium.new_page()
    page.goto(platform.base + "/course")
    frame = page.frame_locator("#tool")
    # Either the iframe keeps our cookies (SameSite=None; Secure) and shows the course, or the
    # browser blocks third-party cookies and we offer the one-time link to a window of our own.
    landed = frame.locator("text=Posting basics (test)").or_(
        frame.locator("text=Open the training in a new window"))
    landed.first.wait_for(timeout=20000)
    [auth] = platform.auth_requests
    assert auth["redirect_uri"] == tool + "/lti/launch"
    cookieless = frame.locator("text=Open the training in a new window").count() > 0
    print("LTI iframe path:", "cookie-less one-time link" if cookieless else "cookies in iframe")
    if cookieless:
        with page.context.expect_page() as opened:
            frame.locator("text=Open the training in a new window").click()
        window = opened.value
        window.wait_for_load_state()
        assert "Posting basics (test)" in window.content()
        assert "Ngozi Adeyemi" in window.content()
    else:
        assert "Ngozi Adeyemi" in frame.locator("body").inner_text()
        # Moving on inside the iframe keeps the session: the module page opens.
        frame.locator("a[href*='/tiny-module/']").first.click()
        frame.locator("text=Think before you post").first.wait_for(timeout=10000)
    page.close()
