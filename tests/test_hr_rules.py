"""Enrolment rules: new hires due hire date + N days; departments and locations; run once."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from course.models import Enrollment
from lms_plugin.core.extensions import db
from lms_plugin.core.models import User
from lms_plugin.core.outbox import OutboxMessage

from .conftest import submit_form
from .hr_helpers import STAFF, hr_org


def enrollments(app, org) -> dict[tuple[str, str], Enrollment]:
    with app.app_context():
        rows = db.session.execute(
            select(User.email, Enrollment).join(User, User.id == Enrollment.user_id)
            .where(Enrollment.organization_id == org.id)).all()
        result = {}
        for email, enrollment in rows:
            db.session.expunge(enrollment)
            result[(email, enrollment.course_id)] = enrollment
        return result


def test_new_hires_are_enrolled_on_import_with_due_date_hire_plus_n_days(app, make):
    org, _, course = hr_org(make)
    make.rule(org, course, "new_hire", value="2026-01-01", due_days=14)
    make.roster(org, STAFF)
    found = enrollments(app, org)
    # Lee was hired in 2020, before the rule's first hire date: not a new hire.
    assert set(found) == {("sam@acme.test", course.id), ("ana@acme.test", course.id)}
    assert found[("sam@acme.test", course.id)].due_at.date() == date(2026, 11, 15)
    assert found[("ana@acme.test", course.id)].due_at.date() == date(2026, 10, 15)
    with app.app_context():
        welcomes = db.session.execute(select(OutboxMessage).filter_by(topic="hr.email")).scalars()
        assert sorted(m.payload["to"] for m in welcomes) == ["ana@acme.test", "sam@acme.test"]


def test_department_and_location_rules_and_no_second_enrolment(app, make, runner):
    org, _, onboarding = hr_org(make)
    sales = make.course(org, slug="sales-disclosure", title="Disclosure for sales")
    lisbon = make.course(org, slug="lisbon", title="Portuguese law", required_for_posting=False)
    make.rule(org, sales, "department", value="sales", due_days=30)
    make.rule(org, lisbon, "location", value="Lisbon", due_days=10)
    make.roster(org, STAFF)
    found = enrollments(app, org)
    assert {k for k in found if k[1] == sales.id} == {("lee@acme.test", sales.id),
                                                      ("sam@acme.test", sales.id)}
    assert {k for k in found if k[1] == lisbon.id} == {("ana@acme.test", lisbon.id)}
    # Applying again (import or command) never enrols twice.
    make.roster(org, STAFF)
    result = runner.invoke(args=["hr", "apply-rules", "--org", org.slug])
    assert result.exit_code == 0 and "0 new enrolment(s)" in result.output
    assert len(enrollments(app, org)) == 3
    assert not [k for k in found if k[1] == onboarding.id]


def test_rules_command_enrols_people_imported_before_the_rule(app, make, runner):
    org, _, course = hr_org(make)
    make.roster(org, STAFF)
    assert enrollments(app, org) == {}
    make.rule(org, course, "everyone", due_days=7)
    result = runner.invoke(args=["hr", "apply-rules", "--org", org.slug])
    assert result.exit_code == 0 and "3 new enrolment(s)" in result.output


def test_rules_page_adds_a_rule_and_explains_bad_values(app, client, auth, make):
    org, hr, course = hr_org(make)
    auth.login(hr.email)
    bad = submit_form(client, "/hr/rules", "/hr/rules", {
        "course": course.id, "kind": "department", "value": "", "due_days": "30"})
    assert bad.status_code == 400
    assert "a department rule needs the department" in bad.text.lower()
    bad_days = submit_form(client, "/hr/rules", "/hr/rules", {
        "course": course.id, "kind": "everyone", "due_days": "-3"})
    assert bad_days.status_code == 400 and "from 0 to 3650" in bad_days.text
    good = submit_form(client, "/hr/rules", "/hr/rules", {
        "course": course.id, "kind": "department", "value": "Sales", "due_days": "30"})
    assert good.status_code == 302
    assert "Department = Sales" in client.get("/hr/rules").text
    make.roster(org, STAFF)
    assert len(enrollments(app, org)) == 2


def test_a_rule_cannot_point_at_another_organisations_course(client, auth, make):
    org, hr, _ = hr_org(make)
    _, _, their_course = hr_org(make, "globex")
    auth.login(hr.email)
    response = submit_form(client, "/hr/rules", "/hr/rules", {
        "course": their_course.id, "kind": "everyone", "due_days": "30"})
    assert response.status_code == 400  # not among the choices offered: refused by the form
    assert "No rules yet." in client.get("/hr/rules").text
