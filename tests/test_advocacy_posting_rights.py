"""The posting-rights rule in every state, and every transition audited and queued for webhooks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from advocacy import services, webhooks
from advocacy.models import PostingRightsState, Share
from certificates.models import Certificate
from lms_plugin.core.extensions import db
from lms_plugin.core.models import AuditEntry, Organization, Role, User
from lms_plugin.core.outbox import OutboxMessage
from lms_plugin.core.timeutil import utcnow


def rights(app, user):
    with app.app_context():
        return services.posting_rights_for(db.session.get(User, user.id))


def transitions(app, user) -> list[str]:
    with app.app_context():
        return [
            e.action
            for e in db.session.execute(
                select(AuditEntry)
                .where(
                    AuditEntry.subject_type == "User",
                    AuditEntry.subject_id == str(user.id),
                    AuditEntry.action.like("posting_rights.%"),
                )
                .order_by(AuditEntry.id)
            ).scalars()
        ]


def queued_events(app) -> list[dict]:
    with app.app_context():
        return [
            m.payload["event"]
            for m in db.session.execute(
                select(OutboxMessage)
                .where(OutboxMessage.topic == services.WEBHOOK_TOPIC)
                .order_by(OutboxMessage.id)
            ).scalars()
        ]


def with_endpoint(app, org):
    with app.app_context():
        endpoint = webhooks.register_endpoint(
            db.session.get(Organization, org.id), "http://127.0.0.1:9/hook"
        )
        db.session.commit()
        return endpoint.id


@pytest.fixture
def org(make):
    return make.org(allow_private_webhooks=True)


@pytest.fixture
def hr(make, org):
    return make.user(org, "hr@example.test", name="Harper HR", roles=(Role.HR,))


def test_not_enrolled_employee_has_not_started(app, make, org):
    make.course(org)
    person = make.user(org)
    answer = rights(app, person)
    assert (answer.eligible, answer.status) == (False, "not_started")
    assert "Not enrolled in 'Onboarding'" in answer.reasons[0]
    assert answer.steps[0].kind == "course"


def test_enrolled_employee_is_in_training(app, make, org):
    course = make.course(org)
    person = make.user(org)
    make.enrollment(person, course)
    answer = rights(app, person)
    assert (answer.eligible, answer.status) == (False, "in_training")
    assert answer.reasons == ["'Onboarding' is not completed yet."]


def test_certificate_grants_rights_in_the_same_transaction_with_audit_and_webhook(app, make, org):
    course = make.course(org)
    person = make.user(org)
    with_endpoint(app, org)
    make.certified_for_posting(person, course)
    assert rights(app, person).status == "eligible"
    assert rights(app, person).eligible is True
    assert transitions(app, person) == ["posting_rights.granted"]
    [event] = queued_events(app)
    assert event["type"] == "posting_rights.granted"
    assert event["data"]["email"] == person.email
    assert event["data"]["previous_status"] == "not_started"
    assert event["id"].startswith("evt_")


def test_every_required_course_must_be_certified(app, make, org):
    first = make.course(org, slug="onboarding")
    second = make.course(org, slug="refresher", title="Refresher")
    optional = make.course(org, slug="extra", title="Extra", required_for_posting=False)
    person = make.user(org)
    make.certified_for_posting(person, first)
    make.enrollment(person, optional)
    answer = rights(app, person)
    assert answer.status == "not_started"
    assert answer.reasons == [
        "Not enrolled in 'Refresher' yet: ask HR or your trainer to enrol you."
    ]
    make.certified_for_posting(person, second)
    assert rights(app, person).status == "eligible"


def test_new_policy_version_requires_acknowledgment_then_grants_again(app, make, org):
    course = make.course(org)
    person = make.user(org)
    make.certified_for_posting(person, course)
    with_endpoint(app, org)
    policy = make.published_policy(org)
    answer = rights(app, person)
    assert answer.status == "policy_update_required"
    assert "acknowledge the social media policy (version 1" in answer.reasons[0]
    assert transitions(app, person) == [
        "posting_rights.granted",
        "posting_rights.policy_update_required",
    ]
    make.policy_acknowledged(person, policy)
    assert rights(app, person).status == "eligible"
    assert [e["type"] for e in queued_events(app)] == [
        "posting_rights.policy_update_required",
        "posting_rights.granted",
    ]


def test_expiry_is_found_by_the_sweep_and_announced_once(app, make, runner):
    org = make.org(recertification_months=12, allow_private_webhooks=True)
    course = make.course(org)
    person = make.user(org)
    make.certified_for_posting(person, course, issued_at=utcnow() - timedelta(days=360))
    assert rights(app, person).status == "eligible"
    with_endpoint(app, org)
    with app.app_context():
        cert = db.session.execute(select(Certificate)).scalar_one()
        expires_at = cert.expires_at
    # The rule answers for any moment: a minute after expiry the answer is "expired".
    with app.app_context():
        later = expires_at + timedelta(minutes=1)
        assert (
            services.posting_rights_for(db.session.get(User, person.id), later).status == "expired"
        )
    assert transitions(app, person) == ["posting_rights.granted"]  # no one asked yet
    # The clock passes the expiry (moved back rather than waiting a year).
    with app.app_context():
        cert = db.session.execute(select(Certificate)).scalar_one()
        cert.expires_at = utcnow() - timedelta(seconds=1)
        cert.issued_at = cert.expires_at - timedelta(days=365)
        db.session.commit()
    result = runner.invoke(args=["sweep"])
    assert result.exit_code == 0, result.output
    assert "checked" in result.output
    assert rights(app, person).status == "expired"
    assert "has expired: retake the course" in rights(app, person).reasons[0]
    assert transitions(app, person) == ["posting_rights.granted", "posting_rights.expired"]
    assert "posting rights: checked 0, changed 0" in runner.invoke(args=["sweep"]).output
    assert "posting rights: checked 1, changed 0" in runner.invoke(args=["sweep", "--all"]).output
    assert [e["type"] for e in queued_events(app)] == ["posting_rights.expired"]


def test_suspension_and_reinstatement_are_audited_with_reason_and_actor(app, make, org, hr):
    course = make.course(org)
    person = make.user(org)
    make.certified_for_posting(person, course)
    with_endpoint(app, org)
    with app.app_context():
        by = db.session.get(User, hr.id)
        target = db.session.get(User, person.id)
        services.suspend(target, "Posted a customer's complaint with their name", by=by)
        db.session.commit()
    answer = rights(app, person)
    assert (answer.eligible, answer.status) == (False, "suspended")
    assert "customer's complaint" in answer.reasons[0]
    with app.app_context():
        by = db.session.get(User, hr.id)
        target = db.session.get(User, person.id)
        with pytest.raises(services.AdvocacyError, match="already suspended"):
            services.suspend(target, "again", by=by)
        with pytest.raises(services.AdvocacyError, match="reason is required"):
            services.reinstate(target, "  ", by=by)
        services.reinstate(target, "Apologised; retrained", by=by)
        db.session.commit()
        entries = list(
            db.session.execute(
                select(AuditEntry)
                .where(
                    AuditEntry.action.in_(["posting_rights.suspended", "posting_rights.reinstated"])
                )
                .order_by(AuditEntry.id)
            ).scalars()
        )
        assert [(e.action, e.actor_id, e.reason) for e in entries] == [
            ("posting_rights.suspended", hr.id, "Posted a customer's complaint with their name"),
            ("posting_rights.reinstated", hr.id, "Apologised; retrained"),
        ]
    assert rights(app, person).status == "eligible"
    assert [e["type"] for e in queued_events(app)] == [
        "posting_rights.suspended",
        "posting_rights.reinstated",
    ]


def test_suspension_requires_a_reason_and_the_same_organisation(app, make, org, hr):
    person = make.user(make.org())
    with app.app_context():
        by = db.session.get(User, hr.id)
        with pytest.raises(services.AdvocacyError, match="own organisation"):
            services.suspend(db.session.get(User, person.id), "x", by=by)
        same_org = make.user(org)
        with pytest.raises(services.AdvocacyError, match="reason is required"):
            services.suspend(db.session.get(User, same_org.id), "", by=by)


def test_deactivated_account_is_suspended(app, make, org):
    course = make.course(org)
    person = make.user(org)
    make.certified_for_posting(person, course)
    with app.app_context():
        db.session.get(User, person.id).active = False
        db.session.commit()
    assert rights(app, person).reasons == ["The account is deactivated."]
    assert transitions(app, person) == ["posting_rights.granted", "posting_rights.suspended"]


def test_revoked_certificate_revokes_rights(app, make, org):
    course = make.course(org)
    person = make.user(org)
    make.certified_for_posting(person, course)
    with_endpoint(app, org)
    with app.app_context():
        # However the certificates package revokes (its service, a signal, a script), the
        # change is seen at commit.
        cert = db.session.execute(select(Certificate)).scalar_one()
        cert.revoked_at = utcnow()
        cert.revoked_reason = "issued in error"
        db.session.commit()
    assert rights(app, person).status == "in_training"
    assert "was revoked" in rights(app, person).reasons[0]
    assert transitions(app, person)[-1] == "posting_rights.revoked"
    assert queued_events(app)[-1]["data"]["status"] == "in_training"


def test_rolled_back_change_leaves_no_audit_and_no_webhook(app, make, org, hr):
    course = make.course(org)
    person = make.user(org)
    make.certified_for_posting(person, course)
    with_endpoint(app, org)
    with app.app_context():
        services.suspend(db.session.get(User, person.id), "oops", by=db.session.get(User, hr.id))
        db.session.rollback()
    assert rights(app, person).status == "eligible"
    assert queued_events(app) == []
    assert transitions(app, person) == ["posting_rights.granted"]
    with app.app_context():
        assert db.session.get(PostingRightsState, person.id).status == "eligible"


def _share_ids(app, make, org, person, count):
    with app.app_context():
        post = services.publish_post(
            db.session.get(Organization, org.id),
            title="Launch",
            suggested_text="Proud of our launch",
            disclosure="#employee",
            networks=["linkedin"],
        )
        db.session.commit()
        ids = []
        for _ in range(count):
            share = services.share_post(
                db.session.get(User, person.id), post, "linkedin", "Proud of our launch #employee"
            )
            ids.append(share.id)
        db.session.commit()
        return ids


def test_probation_queues_first_shares_and_promotes_after_n_approvals(app, make, hr):
    org = make.org(probation_shares=2, allow_private_webhooks=True)
    reviewer = make.user(org, roles=(Role.TRAINER,))
    course = make.course(org)
    person = make.user(org)
    make.certified_for_posting(person, course)
    answer = rights(app, person)
    assert (answer.eligible, answer.status, answer.probation_remaining) == (False, "probation", 2)
    assert "0 of 2 approved" in answer.reasons[0]
    assert answer.may_share
    ids = _share_ids(app, make, org, person, 3)
    with app.app_context():
        assert [s.status for s in db.session.execute(select(Share)).scalars()] == ["pending"] * 3
        assert len(services.approval_queue(org.id)) == 3
        by = db.session.get(User, reviewer.id)
        with pytest.raises(services.AdvocacyError, match="say why"):
            services.review_share(db.session.get(Share, ids[0]), approve=False, by=by)
        services.review_share(
            db.session.get(Share, ids[0]), approve=False, by=by, note="Names a customer"
        )
        services.review_share(db.session.get(Share, ids[1]), approve=True, by=by)
        db.session.commit()
    assert rights(app, person).probation_remaining == 1  # a rejected share does not count
    with app.app_context():
        services.review_share(
            db.session.get(Share, ids[2]), approve=True, by=db.session.get(User, reviewer.id)
        )
        db.session.commit()
    assert rights(app, person).status == "eligible"
    assert transitions(app, person) == ["posting_rights.granted", "posting_rights.granted"]
    [after] = _share_ids(app, make, org, person, 1)
    with app.app_context():
        assert db.session.get(Share, after).status == "shared"
        assert db.session.get(Share, after).during_probation is False


def test_transition_names_cover_every_change():
    t = services._transition
    assert t("not_started", "eligible") == "granted"
    assert t("probation", "eligible") == "granted"
    assert t("in_training", "probation") == "granted"
    assert t("eligible", "expired") == "expired"
    assert t("eligible", "suspended") == "suspended"
    assert t("suspended", "eligible") == "reinstated"
    assert t("suspended", "expired") == "reinstated"
    assert t("eligible", "policy_update_required") == "policy_update_required"
    assert t("eligible", "not_started") == "revoked"
    assert t("not_started", "in_training") is None
    assert t("eligible", "eligible") is None
