"""Lifecycle: revocation, corrected reissue, expiry, recertification, retraining, ZIP export."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import select

from certificates import codes, services
from certificates.models import Certificate
from content_modules import load_module
from course import services as course_services
from course.models import Enrollment, ModuleVersion
from lms_plugin.core.extensions import db
from lms_plugin.core.models import AuditEntry, Organization, Role, User
from lms_plugin.core.timeutil import utcnow

from .conftest import submit_form
from .factories import FIXTURE_MODULES


def changed_module(title: str):
    """The fixture module as a trainer's edit of it: new title, so a new content hash."""
    module = load_module(FIXTURE_MODULES / "tiny-module")
    return type(module).from_dict({**module.to_dict(), "title": title,
                                   "content_hash": f"edited-{title}"})


@pytest.fixture
def staffed(app, make):
    """An organisation with HR, and a learner holding a certificate valid for 12 months."""
    org = make.org(name="Acme Ltd", recertification_months=12, reenroll_days_before_expiry=30)
    hr = make.user(org, name="Harriet HR", roles=(Role.HR,))
    learner = make.user(org, name="Sam Okafr")
    course = make.course(org, title="Posting basics")
    make.completion(learner, course)
    with app.app_context():
        certificate = db.session.execute(select(Certificate)).scalar_one()
        db.session.expunge(certificate)
    return org, hr, learner, course, certificate


def test_hr_revokes_with_a_reason_and_verification_says_revoked(app, client, auth, staffed):
    org, hr, _, _, certificate = staffed
    received = []
    services.certificate_revoked.connect(received.append, weak=False)
    try:
        auth.login(hr.email)
        url = f"/certificates/{certificate.id}/revoke"
        empty = submit_form(client, url, url, {"reason": "   "})
        assert empty.status_code == 400 and "Give a reason" in empty.text
        done = submit_form(client, url, url, {"reason": "Shared confidential results"})
        assert done.status_code == 302
    finally:
        services.certificate_revoked.disconnect(received.append)
    assert [c.id for c in received] == [certificate.id]
    page = client.get(f"/verify/{codes.display(certificate.code)}")
    assert "Revoked." in page.text
    assert client.get(f"/api/v1/certificates/{certificate.code}").json["status"] == "revoked"
    with app.app_context():
        entry = db.session.execute(
            select(AuditEntry).filter_by(action="certificate.revoked")).scalar_one()
        assert entry.reason == "Shared confidential results"
        assert entry.actor_id == hr.id and entry.subject_id == str(certificate.id)


def test_a_learner_cannot_revoke(client, auth, staffed):
    _, _, learner, _, certificate = staffed
    auth.login(learner.email)
    assert client.get(f"/certificates/{certificate.id}/revoke").status_code == 403


def test_hr_of_another_organisation_cannot_revoke(client, auth, make, staffed):
    _, _, _, _, certificate = staffed
    outsider = make.user(make.org(), roles=(Role.HR,))
    auth.login(outsider.email)
    assert client.get(f"/certificates/{certificate.id}/revoke").status_code == 404


def test_reissue_after_a_correction_keeps_the_codes_history(app, client, auth, staffed):
    _, hr, _, _, certificate = staffed
    auth.login(hr.email)
    url = f"/certificates/{certificate.id}/reissue"
    too_long = submit_form(client, url, url, {"holder_name": "x" * 300, "reason": "typo"})
    assert too_long.status_code == 400 and "at most 120" in too_long.text
    done = submit_form(client, url, url, {"holder_name": "Sam Okafor",
                                          "reason": "Name misspelled"})
    assert done.status_code == 302
    with app.app_context():
        new = db.session.execute(
            select(Certificate).filter_by(replaces_id=certificate.id)).scalar_one()
        old = db.session.get(Certificate, certificate.id)
        assert old.status() == "replaced" and new.status() == "valid"
        assert new.holder_name == "Sam Okafor" and new.code != old.code
        assert (new.issued_at, new.expires_at) == (old.issued_at, old.expires_at)
        assert [c.id for c in services.history_of(new)] == [old.id, new.id]
        assert "Sam Okafor" in __import__("pypdf").PdfReader(
            io.BytesIO(new.pdf)).pages[0].extract_text()
        new_code = new.code
    old_page = client.get(f"/verify/{codes.display(certificate.code)}")
    assert "Replaced." in old_page.text and codes.display(new_code) in old_page.text
    assert "Sam Okafr" not in old_page.text  # the old, wrong name is not shown
    body = client.get(f"/api/v1/certificates/{certificate.code}").json
    assert body["status"] == "replaced" and body["replaced_by"] == codes.display(new_code)
    assert "holder_name" not in body
    assert "Valid." in client.get(f"/verify/{codes.display(new_code)}").text
    # Correcting the old one again is refused; the newest one is the one to correct.
    again = submit_form(client, "/certificates/manage", url, {"holder_name": "X",
                                                              "reason": "again"})
    assert again.status_code == 400 and "already replaced" in again.text


def test_expired_certificate_is_shown_as_expired_to_everyone(app, client, auth, staffed):
    _, hr, learner, _, certificate = staffed
    with app.app_context():
        row = db.session.get(Certificate, certificate.id)
        row.expires_at = utcnow() - timedelta(days=1)
        db.session.commit()
    assert "Expired." in client.get(f"/verify/{certificate.code}").text
    auth.login(learner.email)
    assert "This certificate has expired" in client.get("/certificates/").text
    auth.logout()
    auth.login(hr.email)
    expired = client.get("/certificates/manage?status=expired")
    assert codes.display(certificate.code) in expired.text
    assert codes.display(certificate.code) not in client.get(
        "/certificates/manage?status=valid").text


def test_learner_and_hr_see_a_certificate_expiring_soon(app, client, auth, staffed):
    _, hr, learner, _, certificate = staffed
    with app.app_context():
        row = db.session.get(Certificate, certificate.id)
        row.expires_at = utcnow() + timedelta(days=10)
        db.session.commit()
    auth.login(learner.email)
    assert "Expires soon" in client.get("/certificates/").text
    auth.logout()
    auth.login(hr.email)
    page = client.get("/certificates/manage?status=expiring")
    assert codes.display(certificate.code) in page.text and "Expiring soon" in page.text


def test_sweep_reenrols_n_days_before_expiry_into_the_current_version(app, make, staffed):
    org, _, learner, course, certificate = staffed
    with app.app_context():
        row = db.session.get(Certificate, certificate.id)
        # 31 days before expiry: not yet (the setting says 30).
        row.expires_at = utcnow() + timedelta(days=31)
        db.session.commit()
        assert services.sweep().reenrolled == 0
        row = db.session.get(Certificate, certificate.id)
        row.expires_at = utcnow() + timedelta(days=29)
        db.session.commit()
        # The course changed meanwhile: a new module version is current.
        course_services.import_module(db.session.get(Organization, org.id),
                                      changed_module("Posting basics v2"))
        db.session.commit()
        assert services.sweep().reenrolled == 1
        db.session.commit()
        assert services.sweep().reenrolled == 0  # once only
        enrollments = db.session.execute(
            select(Enrollment).filter_by(user_id=learner.id).order_by(Enrollment.cycle)
        ).scalars().all()
        assert [e.cycle for e in enrollments] == [1, 2]
        assert enrollments[1].completed_at is None
        row = db.session.get(Certificate, certificate.id)
        assert row.recertification_enrollment_id == enrollments[1].id
        current = course_services.course_modules(enrollments[1].course)
        assert [v.title for v in current] == ["Posting basics v2"]
    # Retaking the course issues a new certificate; the old one stays in the history.
    make.completion(learner, course)
    with app.app_context():
        rows = services.certificates_of(db.session.get(User, learner.id))
        assert len(rows) == 2
        assert rows[0].enrollment.cycle == 2 and rows[1].id == certificate.id
        newest_version = db.session.execute(
            select(ModuleVersion).order_by(ModuleVersion.number.desc())).scalars().first()
        assert rows[0].module_versions == {"tiny-module": newest_version.id}


def test_sweep_command_reports_what_it_did(app, runner, staffed):
    _, _, _, _, certificate = staffed
    with app.app_context():
        row = db.session.get(Certificate, certificate.id)
        row.expires_at = utcnow() + timedelta(days=5)
        db.session.commit()
    result = runner.invoke(args=["certificates", "sweep"])
    assert result.exit_code == 0, result.output
    assert "re-enrolled 1 learner(s)" in result.output
    with app.app_context():
        assert db.session.get(Certificate, certificate.id).recertification_enrollment_id


def test_a_change_requiring_retraining_sets_a_deadline_for_older_certificates(app, make):
    org = make.org(retraining_grace_days=14)
    learner = make.user(org)
    course = make.course(org)
    make.completion(learner, course)
    with app.app_context():
        certificate = db.session.execute(select(Certificate)).scalar_one()
        assert certificate.expires_at is None
        # A trainer publishes a changed module and marks it as requiring retraining.
        version, created = course_services.import_module(
            db.session.get(Organization, org.id), changed_module("Basics, new rules"),
            requires_retraining=True)
        assert created
        db.session.commit()
        report = services.sweep()
        db.session.commit()
        assert report.retraining_deadlines == 1
        certificate = db.session.get(Certificate, certificate.id)
        deadline = version.created_at + timedelta(days=14)
        assert certificate.expires_at == deadline and certificate.expiry_reason == "retraining"
        assert certificate.status() == "valid"
        assert certificate.status(deadline + timedelta(seconds=1)) == "expired"
        # The learner is enrolled into the new version at once (the deadline is near).
        assert report.reenrolled == 1
        assert services.sweep().retraining_deadlines == 0  # idempotent
        assert db.session.execute(select(AuditEntry).filter_by(
            action="certificate.retraining_deadline")).scalar_one()
    # A certificate earned with the new version is not touched.
    make.completion(learner, course)
    with app.app_context():
        assert services.sweep().retraining_deadlines == 0
        newest = services.certificates_of(db.session.get(User, learner.id))[0]
        assert newest.expires_at is None


def test_hr_downloads_a_streamed_zip_of_a_filtered_group(app, client, auth, make, staffed):
    org, hr, _, course, first = staffed
    other = make.user(org, name="Kim Lee")
    make.completion(other, course)
    outsider_org = make.org()
    make.completion(make.user(outsider_org, name="Not Ours"), make.course(outsider_org))
    auth.login(hr.email)
    response = client.get("/certificates/manage/certificates.zip?status=all")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.is_streamed
    chunks = list(response.response)
    assert len([c for c in chunks if c]) >= 2  # written as it goes, one PDF per chunk
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    names = archive.namelist()
    assert len(names) == 2 and all(name.endswith(".pdf") for name in names)
    with app.app_context():
        pdfs = {c.pdf for c in db.session.execute(
            select(Certificate).filter_by(organization_id=org.id)).scalars()}
    assert {archive.read(name) for name in names} == pdfs
    filtered = client.get("/certificates/manage/certificates.zip?q=kim")
    only = zipfile.ZipFile(io.BytesIO(filtered.get_data()))
    assert [n.startswith("Kim-Lee-") for n in only.namelist()] == [True]
    with app.app_context():
        assert db.session.execute(select(AuditEntry).filter_by(
            action="certificates.exported")).scalars().first() is not None
    auth.logout()
    learner = make.user(org)
    auth.login(learner.email)
    assert client.get("/certificates/manage/certificates.zip").status_code == 403
    assert first.id
