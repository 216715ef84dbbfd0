"""Learner journey 7 in a real Chromium: the hub unlocks, a post is personalised and shared."""

from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)
    server.server_close()


@pytest.mark.browser
def test_certified_learner_personalises_and_shares_a_post(app, make, live_server, page):
    from advocacy import services
    from lms_plugin.core.extensions import db
    from lms_plugin.core.models import Organization

    org = make.org(name="Acme")
    course = make.course(org)
    learner = make.user(org, "sam@acme.test", name="Sam Okafor")
    make.certified_for_posting(learner, course)
    with app.app_context():
        services.publish_post(
            db.session.get(Organization, org.id),
            title="Leeds office",
            suggested_text="We opened an office in Leeds.",
            disclosure="I work at Acme",
            link="https://acme.example/leeds",
            networks=["linkedin"],
        )
        db.session.commit()

    page.goto(f"{live_server}/login")
    page.get_by_label("E-mail").fill("sam@acme.test")
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server}/advocacy/")
    assert page.get_by_text("You are cleared to post").is_visible()
    page.get_by_role("link", name="Personalise and share “Leeds office”").click()

    text = page.get_by_label("Your text")
    text.fill("Proud of our new Leeds office! Come and see us.")
    page.get_by_role("button", name="Share").click()
    error = page.locator("#text-error")
    assert "Keep the required disclosure 'I work at Acme'" in error.inner_text()
    assert page.get_by_label("Your text").get_attribute("aria-invalid") == "true"

    page.get_by_label("Your text").fill("Proud of our new Leeds office! I work at Acme")
    page.get_by_role("button", name="Share").click()
    link = page.get_by_role("link", name="Open LinkedIn")
    assert link.get_attribute("href").startswith(
        "https://www.linkedin.com/sharing/share-offsite/?url=https%3A%2F%2Facme.example%2Fleeds"
    )
    assert "I work at Acme" in page.get_by_label("Your text").input_value()
