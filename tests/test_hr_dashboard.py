"""The HR dashboard, the people table and a person's timeline, each for one organisation only."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from course.models import Enrollment
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Role, User

from .hr_helpers import STAFF, hr_org


def set_due(app, email: str, due: datetime, completed: datetime | None = None) -> None:
    with app.app_context():
        user = db.session.execute(select(User).filter_by(email=email)).scalar_one()
        for enrollment in db.session.execute(
                select(Enrollment).filter_by(user_id=user.id)).scalars():
            enrollment.due_at = due
            enrollment.completed_at = completed
        db.session.commit()


def acme(app, make):
    """Sales: Lee (completed, certified) and Sam (overdue); Support: Ana (in progress)."""
    org, hr, course = hr_org(make)
    make.rule(org, course, "everyone", due_days=30)
    make.roster(org, STAFF)
    now = datetime.now(UTC)
    set_due(app, "sam@acme.test", now - timedelta(days=3))
    with app.app_context():
        lee = db.session.execute(select(User).filter_by(email="lee@acme.test")).scalar_one()
        db.session.delete(db.session.execute(
            select(Enrollment).filter_by(user_id=lee.id)).scalar_one())
        db.session.commit()
    with app.app_context():
        lee = db.session.execute(select(User).filter_by(email="lee@acme.test")).scalar_one()
        db.session.expunge(lee)
    make.certificate(lee, course, expires_at=now + timedelta(days=10))
    return org, hr, course


def headline(page: str, name: str) -> str:
    match = re.search(rf'id="{name}">([^<]+)<', page)
    assert match, name
    return match.group(1)


def test_dashboard_answers_at_a_glance_with_charts_readable_without_colour(app, client, auth,
                                                                          make):
    org, hr, _ = acme(app, make)
    auth.login(hr.email)
    page = client.get("/hr/")
    assert page.status_code == 200
    text = page.text
    assert headline(text, "completion-rate") == "33.3%"
    assert headline(text, "overdue") == "1"
    assert headline(text, "expiring") == "1"
    assert headline(text, "eligible") == "1"  # Lee holds a valid certificate
    # SVG charts: titled, described with every value, patterns and printed values.
    svgs = re.findall(r"<svg.*?</svg>", text, re.S)
    assert len(svgs) >= 3
    status_chart = next(s for s in svgs if "Enrolments by status" in s)
    assert 'role="img"' in status_chart and "<desc" in status_chart
    assert "Completed: 1; In progress: 1; Overdue: 1" in html.unescape(status_chart)
    assert "url(#chart-status-hatch)" in status_chart  # a pattern, not only a colour
    assert ">Overdue</text>" in status_chart and ">1</text>" in status_chart
    assert "Cleared to post: 1" in html.unescape(next(s for s in svgs if "Posting rights" in s))


def test_dashboard_filters_by_department_location_manager_cohort_course_and_status(
        app, client, auth, make):
    org, hr, course = acme(app, make)
    auth.login(hr.email)
    sales = client.get("/hr/?department=Sales")
    assert headline(sales.text, "completion-rate") == "50.0%"
    lisbon = client.get("/hr/?location=Lisbon")
    assert headline(lisbon.text, "overdue") == "0"
    with app.app_context():
        lee_id = db.session.execute(select(User.id).filter_by(email="lee@acme.test")).scalar()
    managed = client.get(f"/hr/?manager={lee_id}")
    assert headline(managed.text, "completion-rate") == "0.0%"  # Sam and Ana report to Lee
    cohort = client.get("/hr/?cohort=2026-11")
    assert headline(cohort.text, "overdue") == "1"  # Sam, hired November 2026
    assert headline(client.get("/hr/?cohort=2020").text, "completion-rate") == "100.0%"
    overdue = client.get(f"/hr/?status=overdue&course={course.id}")
    assert headline(overdue.text, "overdue") == "1"
    assert "Completed: 0; In progress: 0; Overdue: 1" in html.unescape(overdue.text)
    nonsense = client.get("/hr/?manager=abc&cohort=last-year&status=lost", follow_redirects=True)
    assert nonsense.status_code == 200
    assert "is not valid and was ignored" in nonsense.text
    assert "is not YYYY or YYYY-MM" in nonsense.text


def test_people_table_sorts_and_paginates(app, client, auth, make):
    org, hr, _ = acme(app, make)
    make.roster(org, STAFF + [{"email": f"p{i:02d}@acme.test", "name": f"Person {i:02d}",
                               "department": "Ops"} for i in range(60)])
    auth.login(hr.email)
    first = client.get("/hr/people")
    assert first.status_code == 200
    assert "Page 1 of 2" in first.text
    assert "Ana Lima" in first.text
    second = client.get("/hr/people?page=2")
    assert "Person 59" in second.text and "Ana Lima" not in second.text
    by_overdue = client.get("/hr/people?sort=overdue&order=desc")
    names = re.findall(r'<th scope="row"><a href="/hr/people/\d+">([^<]+)</a>', by_overdue.text)
    assert names[0] == "Sam Okafor"
    assert 'aria-sort="descending"' in by_overdue.text
    sales_overdue = client.get("/hr/people?department=Sales&status=overdue")
    names = re.findall(r'<th scope="row"><a href="/hr/people/\d+">([^<]+)</a>',
                       sales_overdue.text)
    assert names == ["Sam Okafor"]
    assert client.get("/hr/people?page=99&sort=bogus").status_code == 200


def test_timeline_shows_enrolment_lessons_attempts_policy_and_certificates(app, client, auth,
                                                                          make):
    from course import services as course_services

    org, hr, course = acme(app, make)
    with app.app_context():
        from course.models import Course
        from lms_plugin.core.models import Organization

        ana = db.session.execute(select(User).filter_by(email="ana@acme.test")).scalar_one()
        enrollment = db.session.execute(select(Enrollment).filter_by(user_id=ana.id)).scalar_one()
        version = course_services.course_modules(db.session.get(Course, course.id))[0]
        course_services.mark_lesson_read(enrollment, version, "01-first")
        policy = course_services.publish_policy(db.session.get(Organization, org.id),
                                                "Social media policy", "Be kind.")
        course_services.acknowledge_policy(ana, policy, "Ana Lima")
        # Lee is certified; with a policy published, Lee must acknowledge it to be cleared.
        lee = db.session.execute(select(User).filter_by(email="lee@acme.test")).scalar_one()
        course_services.acknowledge_policy(lee, policy, lee.name)
        from quizzes import services as quiz_services

        quiz_services.start_attempt(ana, version.quiz_version)
        db.session.commit()
        ana_id = ana.id
    auth.login(hr.email)
    page = client.get(f"/hr/people/{ana_id}")
    assert page.status_code == 200
    timeline = page.text.split('id="timeline"')[1]
    for expected in ("Enrolled in Onboarding", "Read lesson 01-first",
                     "Acknowledged policy version 1", "started, not submitted"):
        assert expected in html.unescape(timeline), expected
    with app.app_context():
        lee_id = db.session.execute(select(User.id).filter_by(email="lee@acme.test")).scalar()
    lee_page = html.unescape(client.get(f"/hr/people/{lee_id}").text)
    assert "Certificate for Onboarding issued" in lee_page
    assert "Cleared to post" in lee_page


def test_hr_of_one_organisation_sees_only_its_own(app, client, auth, make):
    acme(app, make)
    other, other_hr, _ = hr_org(make, "globex")
    make.roster(other, [{"email": "zed@globex.test", "name": "Zed Other",
                         "department": "Globex Sales"}])
    auth.login(other_hr.email)
    dashboard = client.get("/hr/")
    assert headline(dashboard.text, "completion-rate") == "0.0%"
    assert "Sales</option>" not in dashboard.text.replace("Globex Sales</option>", "")
    people = client.get("/hr/people")
    assert "Zed Other" in people.text
    for name in ("Sam Okafor", "Ana Lima", "Lee Manager"):
        assert name not in people.text
    with app.app_context():
        sam_id = db.session.execute(select(User.id).filter_by(email="sam@acme.test")).scalar()
    assert client.get(f"/hr/people/{sam_id}").status_code == 404
    # A filter naming another organisation's manager matches nobody.
    with app.app_context():
        lee_id = db.session.execute(select(User.id).filter_by(email="lee@acme.test")).scalar()
    assert "Nobody matches" in client.get(f"/hr/people?manager={lee_id}").text


def test_every_hr_page_requires_the_hr_role(app, client, auth, make):
    org, _, _ = hr_org(make)
    learner = make.user(org, "kim@acme.test")
    trainer = make.user(org, "tara@acme.test", roles=(Role.TRAINER,))
    pages = ["/hr/", "/hr/people", "/hr/roster", "/hr/rules", "/hr/reports/",
             "/hr/reports/completion.csv", "/hr/reminders", f"/hr/people/{learner.id}"]
    for user in (learner, trainer):
        auth.login(user.email)
        for url in pages:
            assert client.get(url).status_code == 403, url
        auth.logout()
    for url in pages:
        assert client.get(url).status_code == 302, url  # to the sign-in page


def test_trend_matches_counting_enrolments_at_each_weekly_point(app, make):
    """The grouped-by-week query agrees with counting state at each point by hand."""
    from hr import dashboard

    org, _, course = hr_org(make)
    make.rule(org, course, "everyone", due_days=14)
    make.roster(org, [{"email": f"t{i}@acme.test", "name": f"Trend {i}"} for i in range(12)])
    now = datetime.now(UTC)
    with app.app_context():
        enrollments = list(db.session.execute(
            select(Enrollment).where(Enrollment.organization_id == org.id)).scalars())
        for i, enrollment in enumerate(enrollments):
            enrollment.enrolled_at = now - timedelta(days=80 - 6 * i)
            enrollment.due_at = enrollment.enrolled_at + timedelta(days=14)
            enrollment.completed_at = (enrollment.enrolled_at + timedelta(days=3 * (i % 7))
                                       if i % 3 else None)
        db.session.commit()
        result = dashboard.trend(org.id, dashboard.Filters(), now)
        rows = [(e.enrolled_at, e.due_at, e.completed_at) for e in enrollments]
        # The trend's last point is "now": the headline numbers can come from it.
        scanned = dashboard.summary(org.id, dashboard.Filters(), now)
        reused = dashboard.summary(org.id, dashboard.Filters(), now, result)
        assert (reused.enrollments, reused.completed, reused.overdue) == (
            scanned.enrollments, scanned.completed, scanned.overdue) == (12, 8, result.overdue[-1])
    for i, label in enumerate(result.labels):
        t = now - timedelta(weeks=11 - i)
        enrolled = sum(1 for e, _, _ in rows if e < t)
        completed = sum(1 for _, _, c in rows if c is not None and c < t)
        overdue = sum(1 for _, d, c in rows if d < t and (c is None or c >= t))
        assert result.completed[i] == completed, label
        assert result.overdue[i] == overdue, label
        expected_rate = round(100.0 * completed / enrolled, 1) if enrolled else 0
        assert result.completion_rate[i] == expected_rate, label
    assert max(result.overdue) > 0 and result.completed[-1] > result.completed[0]
