"""The HR partner's journey in a real Chromium: import, dashboard, filter, timeline, reminder."""

from __future__ import annotations

import threading

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from .hr_helpers import STAFF, hr_org


pytestmark = pytest.mark.browser


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


def test_hr_partner_imports_joiners_filters_and_sends_a_reminder(app, make, live_server, page,
                                                                 tmp_path):
    org, hr, course = hr_org(make)
    make.rule(org, course, "new_hire", value="2026-01-01", due_days=14)
    make.roster(org, STAFF)  # Sam (Sales) is due 15 Nov 2026
    joiners = tmp_path / "joiners.csv"
    joiners.write_text("email,name,department,hire_date\n"
                       "kim@acme.test,Kim Park,Sales,2026-13-01\n"
                       "li@acme.test,Li Wei,Sales,01/12/2026\n"
                       "max@acme.test,Max Roe,Support,2026-11-20\n")

    page.goto(f"{live_server}/login")
    page.get_by_label("E-mail").fill(hr.email)
    page.get_by_label("Password").fill("correct-horse-battery")
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server}/hr/")
    expect(page.get_by_role("heading", name="HR dashboard")).to_be_visible()

    # 4. The joiners file: the preview flags the two bad dates before anything is written.
    page.get_by_role("link", name="Roster import", exact=True).click()
    page.get_by_label("Roster file (CSV)").set_input_files(str(joiners))
    page.get_by_role("button", name="Check the file").click()
    errors = page.locator("#roster-errors tbody tr")
    expect(errors).to_have_count(2)  # waits for the preview page
    assert "hire_date" in errors.nth(0).inner_text() and "YYYY-MM-DD" in errors.nth(1).inner_text()
    assert page.get_by_role("button", name="Import").count() == 0

    # 2. "Sales, overdue", then one person's timeline and a reminder.
    page.get_by_role("link", name="Dashboard", exact=True).click()
    page.get_by_label("Department", exact=True).select_option("Sales")
    page.get_by_label("Status", exact=True).select_option("overdue")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("#overdue")).to_have_text("1")
    assert page.locator("svg[role=img] title", has_text="Enrolments by status").count() == 1
    page.get_by_role("link", name="People with these filters").click()
    page.get_by_role("link", name="Sam Okafor").click()
    expect(page.locator("#timeline")).to_contain_text("Enrolled in Onboarding")
    page.get_by_role("button", name="Send a reminder about Onboarding").click()
    expect(page.get_by_role("status").filter(has_text="is queued")).to_be_visible()

    # 3. The completion report downloads as XLSX and as PDF.
    page.get_by_role("link", name="Reports", exact=True).click()
    for fmt in ("XLSX", "PDF"):
        with page.expect_download() as download:
            page.get_by_role("link", name=f"{fmt} of Completion").click()
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.stat().st_size > 1000
        assert saved.read_bytes()[:4] in (b"PK\x03\x04", b"%PDF")
