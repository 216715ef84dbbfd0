"""Roster import: a preview listing every row problem before anything is written, then upsert."""

from __future__ import annotations

import io
import re

from sqlalchemy import func, select

from hr.models import EmployeeProfile, RosterUpload
from lms_plugin.core.extensions import db
from lms_plugin.core.models import AuditEntry, User

from .conftest import csrf_from
from .hr_helpers import STAFF, hr_org

HEADER = "email,name,department,manager_email,location,hire_date,external_id\n"
GOOD = HEADER + (
    "lee@acme.test,Lee Manager,Sales,,Berlin,2020-01-15,E1\n"
    "sam@acme.test,Sam Okafor,Sales,lee@acme.test,Berlin,2026-11-01,E2\n"
)


def upload(client, content: str | bytes, deactivate_missing: bool = False):
    page = client.get("/hr/roster")
    data = {"csrf_token": csrf_from(page.text),
            "roster": (io.BytesIO(content.encode() if isinstance(content, str) else content),
                       "joiners.csv")}
    if deactivate_missing:
        data["deactivate_missing"] = "y"
    return client.post("/hr/roster", data=data, content_type="multipart/form-data")


def confirm(client, preview_url: str):
    page = client.get(preview_url)
    return client.post(preview_url + "/apply", data={"csrf_token": csrf_from(page.text)})


def count_people(app, org) -> int:
    with app.app_context():
        return db.session.execute(select(func.count(EmployeeProfile.id)).where(
            EmployeeProfile.organization_id == org.id)).scalar()


def test_preview_lists_every_row_error_by_row_and_column_and_writes_nothing(app, client, auth,
                                                                           make):
    org, hr, _ = hr_org(make)
    auth.login(hr.email)
    content = HEADER + (
        "lee@acme.test,Lee Manager,Sales,,Berlin,2020-01-15,E1\n"
        "sam@acme.test,Sam Okafor,Sales,lee@acme.test,Berlin,31/02/2025,E2\n"
        "not-an-address,Kim,Sales,,Berlin,2025-01-01,E3\n"
        "ana@acme.test,,Support,boss@nowhere.test,Lisbon,2025-13-01,E4\n"
        "lee@acme.test,Lee Again,Sales,,Berlin,,E5\n"
    )
    response = upload(client, content)
    assert response.status_code == 302
    preview = client.get(response.headers["Location"])
    assert preview.status_code == 200
    errors = re.findall(r"<tr><td>(\d+)</td><td><code>(\w+)</code></td><td>(.*?)</td></tr>",
                        preview.text)
    found = {(int(row), column) for row, column, _ in errors}
    assert found == {(3, "hire_date"), (4, "email"), (5, "name"), (5, "hire_date"),
                     (6, "email")}
    assert "write it as YYYY-MM-DD" in preview.text
    assert "nothing has been written" in preview.text
    assert "/apply" not in preview.text  # no button to import a file with problems
    assert count_people(app, org) == 0
    # Confirming anyway is refused: still nothing written.
    upload_url = response.headers["Location"]
    page = client.get(upload_url)
    refused = client.post(upload_url + "/apply", data={"csrf_token": csrf_from(page.text)})
    assert refused.status_code == 400
    assert count_people(app, org) == 0


def test_manager_missing_from_file_and_organisation_is_a_row_error(app, client, auth, make):
    org, hr, _ = hr_org(make)
    auth.login(hr.email)
    response = upload(client, HEADER + "sam@acme.test,Sam,Sales,boss@nowhere.test,,,\n")
    preview = client.get(response.headers["Location"])
    assert "boss@nowhere.test is neither in this file nor an existing employee" in preview.text


def test_confirmed_import_upserts_idempotently_and_keeps_records_of_leavers(app, client, auth,
                                                                           make):
    org, hr, _ = hr_org(make)
    auth.login(hr.email)
    first = upload(client, GOOD)
    preview = client.get(first.headers["Location"])
    assert "2 new employee(s)" in preview.text
    done = confirm(client, first.headers["Location"])
    assert done.status_code == 302
    assert "2 new" in client.get(done.headers["Location"]).text
    with app.app_context():
        sam = db.session.execute(select(User).filter_by(email="sam@acme.test")).scalar_one()
        profile = db.session.execute(select(EmployeeProfile).filter_by(user_id=sam.id)).scalar_one()
        assert profile.manager.email == "lee@acme.test"
        assert profile.hire_date.isoformat() == "2026-11-01" and sam.external_id == "E2"
        assert sam.password_hash is None  # signs in through the LMS or a reset, never a default

    # The same file again changes nothing.
    again = upload(client, GOOD)
    assert "0 new employee(s)" in client.get(again.headers["Location"]).text
    assert "2 unchanged" in client.get(again.headers["Location"]).text
    confirm(client, again.headers["Location"])
    assert count_people(app, org) == 2

    # Sam moves to Support (matched by external id even with a new address); Lee has left.
    moved = HEADER + "sam.okafor@acme.test,Sam Okafor,Support,,Lisbon,2026-11-01,E2\n"
    third = upload(client, moved, deactivate_missing=True)
    preview = client.get(third.headers["Location"])
    assert "1 updated" in preview.text and "1 deactivated" in preview.text
    assert "lee@acme.test" in preview.text
    confirm(client, third.headers["Location"])
    with app.app_context():
        lee = db.session.execute(select(User).filter_by(email="lee@acme.test")).scalar_one()
        assert lee.active is False  # deactivated, not deleted
        sam = db.session.execute(select(User).filter_by(external_id="E2")).scalar_one()
        assert sam.email == "sam.okafor@acme.test"
        actions = set(db.session.execute(select(AuditEntry.action)).scalars())
        assert {"roster.imported", "employee.deactivated", "employee.email_changed"} <= actions
    # Lee comes back: reactivated by the next roster.
    fourth = upload(client, GOOD)
    assert "1 reactivated" in client.get(fourth.headers["Location"]).text


def test_file_that_is_not_utf8_gets_a_clear_message(client, auth, make):
    _, hr, _ = hr_org(make)
    auth.login(hr.email)
    response = upload(client, (HEADER + "zoë@acme.test,Zoë,Sales,,,,\n").encode("latin-1"))
    preview = client.get(response.headers["Location"])
    assert "not UTF-8" in preview.text and "CSV UTF-8" in preview.text


def test_semicolon_csv_and_a_missing_required_column(client, auth, make):
    _, hr, _ = hr_org(make)
    auth.login(hr.email)
    ok = upload(client, "email;name;department\nkim@acme.test;Kim Park;Sales\n")
    assert "1 new employee(s)" in client.get(ok.headers["Location"]).text
    bad = upload(client, "mail,name\nkim@acme.test,Kim\n")
    text = client.get(bad.headers["Location"]).text
    assert "the header lacks email" in text


def test_upload_form_without_a_file_says_what_to_do(client, auth, make):
    _, hr, _ = hr_org(make)
    auth.login(hr.email)
    page = client.get("/hr/roster")
    response = client.post("/hr/roster", data={"csrf_token": csrf_from(page.text)},
                           content_type="multipart/form-data")
    assert response.status_code == 400
    assert "Choose the CSV file" in response.text


def test_another_organisations_upload_is_not_found(app, client, auth, make):
    org, hr, _ = hr_org(make)
    other, other_hr, _ = hr_org(make, "globex")
    auth.login(other_hr.email)
    theirs = upload(client, GOOD).headers["Location"]
    auth.logout()
    auth.login(hr.email)
    assert client.get(theirs).status_code == 404
    page = client.get("/hr/roster")
    assert client.post(theirs + "/apply",
                       data={"csrf_token": csrf_from(page.text)}).status_code == 404
    with app.app_context():
        assert db.session.execute(select(func.count(RosterUpload.id))).scalar() == 1
    assert count_people(app, org) == 0


def test_learners_cannot_reach_roster_import(client, auth, make):
    org, _, _ = hr_org(make)
    learner = make.user(org, "kim@acme.test")
    auth.login(learner.email)
    assert client.get("/hr/roster").status_code == 403
    assert client.get("/hr/").status_code == 403


# -- the JSON API ---------------------------------------------------------------------------

def test_roster_api_upserts_with_the_same_checks(app, client, make):
    org, _, _ = hr_org(make)
    key = make.api_key(org, ["roster:write"])
    headers = {"Authorization": f"Bearer {key}"}
    bad = client.post("/api/v1/roster", headers=headers, json={"employees": [
        {"email": "sam@acme.test", "name": "Sam", "hire_date": "01/02/2025"},
        {"email": "nope", "name": ""},
    ]})
    assert bad.status_code == 422
    assert {(e["row"], e["field"]) for e in bad.json["errors"]} == {
        (0, "hire_date"), (1, "email"), (1, "name")}
    assert count_people(app, org) == 0

    dry = client.post("/api/v1/roster", headers=headers,
                      json={"employees": STAFF, "dry_run": True})
    assert dry.status_code == 200 and dry.json["counts"]["created"] == 3
    assert count_people(app, org) == 0

    done = client.post("/api/v1/roster", headers=headers, json={"employees": STAFF})
    assert done.status_code == 200 and done.json["counts"]["created"] == 3
    again = client.post("/api/v1/roster", headers=headers, json={"employees": STAFF})
    assert again.json["counts"]["unchanged"] == 3 and again.json["counts"]["created"] == 0
    left = client.post("/api/v1/roster", headers=headers,
                       json={"employees": STAFF[:2], "deactivate_missing": True})
    assert left.json["counts"]["deactivated"] == 1
    with app.app_context():
        ana = db.session.execute(select(User).filter_by(email="ana@acme.test")).scalar_one()
        assert ana.active is False


def test_roster_api_refuses_bad_requests_clearly(client, make):
    org, _, _ = hr_org(make)
    key = make.api_key(org, ["roster:write"])
    headers = {"Authorization": f"Bearer {key}"}
    assert client.post("/api/v1/roster", json={"employees": []}).status_code == 401
    read_only = make.api_key(org, ["rights:read"])
    forbidden = client.post("/api/v1/roster", json={"employees": []},
                            headers={"Authorization": f"Bearer {read_only}"})
    assert forbidden.status_code == 403
    not_json = client.post("/api/v1/roster", data="email,name", headers=headers)
    assert not_json.status_code == 400 and "JSON object" in not_json.json["error"]["message"]
    wrong = client.post("/api/v1/roster", json={"employees": {"a": 1}}, headers=headers)
    assert wrong.status_code == 400 and wrong.json["error"]["field"] == "employees"
    flag = client.post("/api/v1/roster", json={"employees": [], "dry_run": "yes"},
                       headers=headers)
    assert flag.status_code == 400 and flag.json["error"]["field"] == "dry_run"
    typed = client.post("/api/v1/roster", json={"employees": [{"email": 5, "name": "X"}]},
                        headers=headers)
    assert typed.status_code == 422 and typed.json["errors"][0]["field"] == "email"


def test_roster_api_key_only_touches_its_own_organisation(app, client, make):
    ours, _, _ = hr_org(make)
    theirs, _, _ = hr_org(make, "globex")
    make.roster(theirs, [{"email": "sam@acme.test", "name": "Their Sam"}])
    key = make.api_key(ours, ["roster:write"])
    response = client.post("/api/v1/roster", headers={"Authorization": f"Bearer {key}"},
                           json={"employees": [{"email": "sam@acme.test", "name": "Our Sam"}],
                                 "deactivate_missing": True})
    assert response.json["counts"] == {"rows": 1, "created": 1, "updated": 0, "reactivated": 0,
                                       "unchanged": 0, "deactivated": 0}
    with app.app_context():
        names = dict(db.session.execute(select(User.organization_id, User.name).where(
            User.email == "sam@acme.test")).all())
        assert names == {ours.id: "Our Sam", theirs.id: "Their Sam"}


def test_openapi_describes_the_roster_endpoint(client):
    document = client.get("/api/v1/openapi.json").json
    operation = document["paths"]["/roster"]["post"]
    assert operation["security"] == [{"apiKey": []}]
    assert "422" in operation["responses"]
    assert "Employee" in document["components"]["schemas"]


def test_cli_imports_a_roster_file(app, runner, make, tmp_path):
    org, _, _ = hr_org(make)
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "sam@acme.test,Sam,Sales,,,2025-02-30,\n")
    result = runner.invoke(args=["hr", "import-roster", str(bad), "--org", org.slug])
    assert result.exit_code != 0
    assert "row 2, hire_date" in result.output and "nothing was imported" in result.output
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    result = runner.invoke(args=["hr", "import-roster", str(good), "--org", org.slug])
    assert result.exit_code == 0, result.output
    assert count_people(app, org) == 2
