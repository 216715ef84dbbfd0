"""Another organisation's data is never reachable, whatever id is tried."""

from __future__ import annotations

from sqlalchemy import select

from lms_plugin.core.extensions import db
from lms_plugin.core.models import AuditEntry
from lms_plugin.core.scoping import scoped
from quizzes.models import QuizVersion

from .conftest import csrf_from


def test_scoped_query_only_returns_the_organisations_rows(app, make):
    first, second = make.org(), make.org()
    make.course(first)
    make.course(second)
    with app.app_context():
        rows = db.session.execute(scoped(QuizVersion, first.id)).scalars().all()
        assert rows and all(row.organization_id == first.id for row in rows)


def test_learner_cannot_open_another_organisations_enrolment_quiz_or_attempt(
        app, client, auth, make):
    ours, theirs = make.org(), make.org()
    me = make.user(ours, "me@ours.test")
    them = make.user(theirs, "them@theirs.test")
    their_course = make.course(theirs)
    their_enrollment = make.enrollment(them, their_course)
    make.enrollment(me, make.course(ours))
    with app.app_context():
        their_quiz = db.session.execute(scoped(QuizVersion, theirs.id)).scalars().first()

    auth.login("them@theirs.test")
    start = client.get(f"/quiz/{their_quiz.id}/")
    attempt_url = client.post(f"/quiz/{their_quiz.id}/start",
                              data={"csrf_token": csrf_from(start.text)}).headers["Location"]
    auth.logout()

    auth.login("me@ours.test")
    assert client.get(f"/learn/{their_enrollment.id}/tiny-module/").status_code == 404
    assert client.get(f"/learn/{their_enrollment.id}/tiny-module/01-first").status_code == 404
    assert client.get(f"/quiz/{their_quiz.id}/").status_code == 404
    assert client.get(attempt_url).status_code == 404
    page = client.get("/learn/")
    post = client.post(f"/learn/{their_enrollment.id}/tiny-module/01-first/read",
                       data={"csrf_token": csrf_from(page.text)})
    assert post.status_code == 404


def test_learner_cannot_open_a_colleagues_attempt(app, client, auth, make):
    org = make.org()
    make.user(org, "a@org.test")
    make.user(org, "b@org.test")
    make.course(org)
    with app.app_context():
        quiz = db.session.execute(scoped(QuizVersion, org.id)).scalars().first()
    auth.login("a@org.test")
    start = client.get(f"/quiz/{quiz.id}/")
    attempt_url = client.post(f"/quiz/{quiz.id}/start",
                              data={"csrf_token": csrf_from(start.text)}).headers["Location"]
    auth.logout()
    auth.login("b@org.test")
    assert client.get(attempt_url).status_code == 404


def test_audit_log_is_append_only(app, make):
    import pytest

    from lms_plugin.core import audit

    org = make.org()
    with app.app_context():
        audit.record(org.id, "test.event", note="first")
        db.session.commit()
        entry = db.session.execute(select(AuditEntry)).scalar_one()
        entry.action = "rewritten"
        with pytest.raises(audit.AuditLogIsAppendOnly):
            db.session.commit()
        db.session.rollback()
        db.session.delete(db.session.execute(select(AuditEntry)).scalar_one())
        with pytest.raises(audit.AuditLogIsAppendOnly):
            db.session.commit()
