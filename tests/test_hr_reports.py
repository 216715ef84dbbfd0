"""Reports as CSV, XLSX and PDF: Excel-friendly, formula-safe, and one organisation only."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta

import openpyxl
import pytest
from pypdf import PdfReader
from sqlalchemy import select

from hr import reports
from lms_plugin.core.extensions import db
from lms_plugin.core.models import AuditEntry

from .hr_helpers import STAFF, hr_org

# The classic spreadsheet-injection payloads, as names an employee could be given.
PAYLOADS = ["=cmd|' /C calc'!A0", "+SUM(1)", "-1+1", "@SUM(A1)", "\t=1", "\r=1"]


def hostile_roster(make):
    org, hr, course = hr_org(make)
    make.rule(org, course, "everyone", due_days=30)
    records = STAFF + [{"email": f"x{i}@acme.test", "name": payload, "department": payload}
                       for i, payload in enumerate(PAYLOADS)]
    make.roster(org, records)
    # The roster squeezes whitespace, so a leading tab or CR cannot arrive that way; names
    # also come from LMS launches, so put the exact payloads in place as such a source would.
    with make.app.app_context():
        from hr.models import EmployeeProfile
        from lms_plugin.core.models import User

        for i, payload in enumerate(PAYLOADS):
            user = db.session.execute(select(User).filter_by(email=f"x{i}@acme.test")
                                      ).scalar_one()
            user.name = payload
            db.session.execute(select(EmployeeProfile).filter_by(user_id=user.id)
                               ).scalar_one().department = payload
        db.session.commit()
    return org, hr, course


def read_csv(response) -> list[list[str]]:
    data = b"".join(response.response) if response.is_streamed else response.data
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 with a BOM, so Excel reads the accents"
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_completion_csv_is_streamed_utf8_with_bom_and_neutralises_formulas(app, client, auth,
                                                                           make):
    org, hr, _ = hostile_roster(make)
    auth.login(hr.email)
    response = client.get("/hr/reports/completion.csv")
    assert response.status_code == 200
    assert response.is_streamed
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = read_csv(response)
    header, body = rows[0], rows[1:]
    assert header[:2] == ["Name", "E-mail"] and header[-1] == "Status"
    assert len(body) == len(STAFF) + len(PAYLOADS)
    names = {row[0] for row in body}
    for payload in PAYLOADS:
        assert "'" + payload in names, payload
        assert payload not in names
    sam = next(row for row in body if row[1] == "sam@acme.test")
    assert sam[6] == "2026-11-01" and sam[-1] == "In progress"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", sam[9]), sam[9]  # enrolled
    assert re.fullmatch(r"\d{4}-\d\d-\d\d 23:59:59", sam[10]), sam[10]  # due, end of day
    assert sam[11] == ""  # not completed


def test_xlsx_has_frozen_header_filters_real_dates_and_text_for_formulas(app, client, auth,
                                                                        make):
    org, hr, _ = hostile_roster(make)
    auth.login(hr.email)
    response = client.get("/hr/reports/completion.xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    sheet = book.active
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:M{len(STAFF) + len(PAYLOADS) + 1}"
    header = [c.value for c in sheet[1]]
    assert header[6] == "Hire date" and header[9] == "Enrolled (UTC)"
    rows = list(sheet.iter_rows(min_row=2))
    sam = next(r for r in rows if r[1].value == "sam@acme.test")
    assert sam[6].is_date and sam[6].value.date() == date(2026, 11, 1)
    assert sam[9].is_date and isinstance(sam[9].value, datetime)
    assert sam[8].data_type == "n" and sam[8].value == 1  # the round is a number
    hostile = {r[1].value: r[0] for r in rows if r[1].value.startswith("x")}
    for i, payload in enumerate(PAYLOADS):
        cell = hostile[f"x{i}@acme.test"]
        assert cell.data_type == "s", payload  # a string, never a formula ("f")
        # A carriage return is stored as OOXML's escape _x000D_ (Excel shows it as a CR);
        # openpyxl hands the escape back as written. Either way the quote comes first.
        assert cell.value == "'" + payload.replace("\r", "_x000D_"), payload
    departments = [r[3] for r in rows if r[1].value.startswith("x")]
    assert all(c.data_type == "s" and c.value.startswith("'") for c in departments)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_neutralise_prefixes_a_quote_only_when_a_formula_could_start(payload):
    assert reports.neutralise(payload) == "'" + payload
    assert reports.neutralise("Sam " + payload) == "Sam " + payload
    assert reports.neutralise("") == ""


def test_pdf_report_has_the_charts_and_the_rows(app, client, auth, make):
    org, hr, _ = hostile_roster(make)
    auth.login(hr.email)
    response = client.get("/hr/reports/completion.pdf?department=Sales")
    assert response.status_code == 200 and response.data.startswith(b"%PDF")
    text = " ".join(" ".join(page.extract_text()
                             for page in PdfReader(io.BytesIO(response.data)).pages).split())
    assert "Completion report" in text and "Sam Okafor" in text
    assert "Enrolments by status" in text and "Posting rights" in text  # the SVG charts
    assert "Ana Lima" not in text  # Support, filtered out


def test_pdf_report_loads_nothing_external(app, client, auth, make):
    org, hr, course = hr_org(make)
    make.rule(org, course, "everyone")
    make.roster(org, [{"email": "evil@acme.test",
                       "name": '<img src="http://127.0.0.1:9/x.png"> Eve',
                       "department": "<link rel=stylesheet href=file:///etc/passwd>"}])
    auth.login(hr.email)
    response = client.get("/hr/reports/completion.pdf")
    assert response.status_code == 200
    text = PdfReader(io.BytesIO(response.data)).pages[0].extract_text()
    assert "Eve" in text and "<img" in text  # shown as text, escaped, not fetched
    with pytest.raises(ValueError, match="load nothing external"):
        from hr.pdf import NothingExternal

        NothingExternal().fetch("file:///etc/passwd")


def test_overdue_certificates_posting_rights_and_audit_reports(app, client, auth, make):
    org, hr, course = hostile_roster(make)
    now = datetime.now(UTC)
    with app.app_context():
        from course.models import Enrollment
        from lms_plugin.core.models import User

        sam = db.session.execute(select(User).filter_by(email="sam@acme.test")).scalar_one()
        enrollment = db.session.execute(select(Enrollment).filter_by(user_id=sam.id)).scalar_one()
        enrollment.due_at = now - timedelta(days=4, hours=1)
        db.session.commit()
        lee = db.session.execute(select(User).filter_by(email="lee@acme.test")).scalar_one()
        db.session.expunge(lee)
    make.certificate(lee, course, expires_at=now + timedelta(days=200))
    auth.login(hr.email)
    overdue = read_csv(client.get("/hr/reports/overdue.csv"))
    assert [row[1] for row in overdue[1:]] == ["sam@acme.test"]
    assert overdue[0][-2] == "Days overdue" and overdue[1][-2] == "4"
    certificates = read_csv(client.get("/hr/reports/certificates.csv"))
    assert [(r[1], r[-2]) for r in certificates[1:]] == [("lee@acme.test", "Valid")]
    rights = read_csv(client.get("/hr/reports/posting-rights.csv?department=Sales"))
    by_email = {r[1]: r for r in rights[1:]}
    assert by_email["lee@acme.test"][6:8] == ["eligible", "Yes"]
    assert by_email["sam@acme.test"][6:8] == ["in training", "No"]
    log = read_csv(client.get("/hr/reports/audit-log.csv"))
    actions = [r[2] for r in log[1:]]
    assert "roster.imported" in actions and "report.exported" in actions
    for fmt in ("xlsx", "pdf"):
        for name in reports.REPORTS:
            assert client.get(f"/hr/reports/{name}.{fmt}").status_code == 200, (name, fmt)
    assert client.get("/hr/reports/salaries.csv").status_code == 404
    assert client.get("/hr/reports/completion.docx").status_code == 404


def test_every_export_is_recorded_in_the_audit_log(app, client, auth, make):
    org, hr, _ = hr_org(make)
    auth.login(hr.email)
    client.get("/hr/reports/completion.xlsx?department=Sales")
    with app.app_context():
        entry = db.session.execute(select(AuditEntry).filter_by(action="report.exported")
                                   ).scalar_one()
        assert entry.actor_id == hr.id
        assert entry.detail == {"report": "completion", "format": "xlsx",
                                "filters": {"department": "Sales"}}


def test_reports_only_ever_contain_the_hr_users_own_organisation(app, client, auth, make):
    hostile_roster(make)
    other, other_hr, other_course = hr_org(make, "globex")
    make.rule(other, other_course, "everyone")
    make.roster(other, [{"email": "zed@globex.test", "name": "Zed Other"}])
    auth.login(other_hr.email)
    for name in reports.REPORTS:
        rows = read_csv(client.get(f"/hr/reports/{name}.csv"))
        flat = "\n".join(",".join(r) for r in rows)
        assert "acme.test" not in flat and "Sam Okafor" not in flat, name
        book = openpyxl.load_workbook(io.BytesIO(client.get(f"/hr/reports/{name}.xlsx").data))
        cells = [str(c.value) for row in book.active.iter_rows() for c in row]
        assert not [c for c in cells if "acme.test" in c], name
    completion = read_csv(client.get("/hr/reports/completion.csv"))
    assert [r[1] for r in completion[1:]] == ["zed@globex.test"]
    pdf = client.get("/hr/reports/completion.pdf")
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages
                             ).split())
    assert "Zed Other" in text and "Sam Okafor" not in text


def test_csv_memory_does_not_depend_on_the_row_count(app, make):
    """The CSV generator yields chunks as it goes: the first arrives before the query ends."""
    org, _, course = hr_org(make)
    make.rule(org, course, "everyone")
    make.roster(org, [{"email": f"p{i}@acme.test", "name": f"Person {i}"} for i in range(1200)])
    with app.app_context():
        from hr.dashboard import Filters

        chunks = reports.csv_chunks(reports.REPORTS["completion"], org.id, Filters(),
                                    datetime.now(UTC), rows_per_chunk=500)
        sizes = [len(chunk) for chunk in chunks]
    assert len(sizes) == 3  # 500 rows, 500 rows, then the last 200
    assert max(sizes) < 60_000 and sizes[2] < sizes[1]
