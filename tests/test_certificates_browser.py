"""The learner's certificate journey in a real Chromium: PDF, LinkedIn, verification by code."""

from __future__ import annotations

import threading
from urllib.parse import parse_qs, urlparse

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from certificates import codes
from certificates.models import Certificate
from lms_plugin.core.extensions import db

from .factories import PASSWORD



@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


@pytest.mark.browser
def test_learner_downloads_adds_to_linkedin_and_anyone_verifies(app, make, live_server, tmp_path,
                                                                browser):

    org = make.org(name="Acme Ltd", recertification_months=12)
    learner = make.user(org, "sam@acme.test", name="Sam Okafor")
    make.completion(learner, make.course(org, title="Posting basics"))
    with app.app_context():
        certificate = db.session.execute(select(Certificate)).scalar_one()
        code, pdf_bytes = codes.display(certificate.code), certificate.pdf

    # The session's shared Chromium (tests/conftest.py), in a context of this test's own.
    context = browser.new_context(accept_downloads=True)
    try:
        page = context.new_page()
        page.goto(f"{live_server}/login")
        page.get_by_label("E-mail").fill("sam@acme.test")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"{live_server}/certificates/")
        assert page.get_by_role("heading", name="Posting basics").is_visible()
        assert page.get_by_text(code).is_visible()

        with page.expect_download() as download_info:
            page.get_by_role("link", name="Download PDF").click()
        saved = tmp_path / "certificate.pdf"
        download_info.value.save_as(saved)
        assert saved.read_bytes() == pdf_bytes

        linkedin = page.get_by_role("link", name="Add to LinkedIn profile")
        query = parse_qs(urlparse(linkedin.get_attribute("href")).query)
        assert query["certId"] == [code] and query["name"] == ["Posting basics"]
        assert linkedin.get_attribute("target") == "_blank"

        # A stranger (new browser context, not signed in) checks the code as typed.
        stranger = browser.new_context().new_page()
        stranger.goto(f"{live_server}/verify/")
        stranger.get_by_label("Certificate code").fill(code.lower().replace("-", " "))
        stranger.get_by_role("button", name="Check").click()
        assert stranger.get_by_text("Valid.").is_visible()
        assert stranger.get_by_text("Sam Okafor").is_visible()
        # And uploads the PDF they were sent to check it is the issued document.
        stranger.get_by_label("The PDF you were given").set_input_files(str(saved))
        stranger.get_by_role("button", name="Check the document").click()
        assert stranger.get_by_text("Match.").is_visible()
        stranger.context.close()
    finally:
        context.close()
