"""Reminder e-mail through the outbox and a real SMTP server (aiosmtpd) started by the tests."""

from __future__ import annotations

import email
import email.policy
import html
import logging
import socket
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from course.models import Enrollment
from hr import reminders
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Role, User
from lms_plugin.core.outbox import OutboxMessage

from .conftest import csrf_from, submit_form
from .hr_helpers import STAFF, hr_org


class Mailbox:
    """An aiosmtpd handler that keeps every message it accepts."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append(email.message_from_bytes(envelope.content,
                                                      policy=email.policy.default))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    mailbox.port = controller.port
    yield mailbox
    controller.stop()


@pytest.fixture
def app_config(app_config, smtp):
    return app_config | {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port,
                         "MAIL_DEFAULT_SENDER": "training@acme.test"}


def deliver(runner) -> str:
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    return result.output


def new_hires(make, due_days: int = 14):
    org, hr, course = hr_org(make)
    make.rule(org, course, "new_hire", value="2026-01-01", due_days=due_days)
    make.roster(org, STAFF)
    return org, hr, course


def sweep(app, org, now: datetime) -> dict[str, int]:
    with app.app_context():
        counts = reminders.schedule_due(org.id, now).as_dict()
        db.session.commit()
        return counts


def test_welcome_mail_with_the_link_is_sent_once_by_the_worker(app, make, runner, smtp):
    org, _, _ = new_hires(make)
    assert smtp.messages == []  # queued in the transaction, not sent inline
    assert "delivered 2" in deliver(runner)
    welcome = smtp.to("sam@acme.test")
    assert len(welcome) == 1
    assert welcome[0]["Subject"] == "Welcome: your social media training, 'Onboarding'"
    assert "http://localhost/learn/" in welcome[0].get_content()
    assert "15 November 2026" in welcome[0].get_content()
    assert welcome[0]["From"] == "Cleared to Post <training@acme.test>"
    # Importing the same roster again and running the worker again sends nothing new.
    make.roster(org, STAFF)
    deliver(runner)
    assert len(smtp.messages) == 2


def test_reminders_before_and_after_the_due_date_and_escalation_never_twice(app, make, runner,
                                                                           smtp):
    org, _, _ = new_hires(make)
    deliver(runner)
    smtp.messages.clear()
    due = datetime(2026, 11, 15, 23, 59, 59, tzinfo=UTC)  # Sam: hired 1 Nov + 14 days
    assert sweep(app, org, due - timedelta(days=3))["due_soon"] == 1  # the 7-day reminder
    assert sweep(app, org, due - timedelta(days=3))["due_soon"] == 0  # never twice
    assert sweep(app, org, due - timedelta(hours=12))["due_soon"] == 1  # the 1-day reminder
    after = sweep(app, org, due + timedelta(days=2))
    assert after == {"due_soon": 0, "overdue": 1, "escalation": 0, "expiry": 0}
    late = sweep(app, org, due + timedelta(days=15))
    assert late["overdue"] == 1 and late["escalation"] == 1
    assert sweep(app, org, due + timedelta(days=16)) == {"due_soon": 0, "overdue": 0,
                                                         "escalation": 0, "expiry": 0}
    deliver(runner)
    subjects = [m["Subject"] for m in smtp.to("sam@acme.test")]
    assert subjects == ["Reminder: 'Onboarding' is due on 15 November 2026"] * 2 + \
        ["Overdue: 'Onboarding' was due on 15 November 2026"] * 2
    # Lee manages Sam and Ana (due a month earlier): one escalation for each, never more.
    escalation = {m["Subject"]: m for m in smtp.to("lee@acme.test")}
    assert set(escalation) == {"Sam Okafor has not finished 'Onboarding'",
                               "Ana Lima has not finished 'Onboarding'"}
    assert len(smtp.to("lee@acme.test")) == 2
    assert "sam@acme.test" in escalation["Sam Okafor has not finished 'Onboarding'"].get_content()


def test_completed_or_deactivated_people_get_no_reminders(app, make, smtp):
    org, _, _ = new_hires(make)
    with app.app_context():
        sam = db.session.execute(select(User).filter_by(email="sam@acme.test")).scalar_one()
        enrollment = db.session.execute(select(Enrollment).filter_by(user_id=sam.id)).scalar_one()
        enrollment.completed_at = datetime(2026, 11, 5, tzinfo=UTC)
        ana = db.session.execute(select(User).filter_by(email="ana@acme.test")).scalar_one()
        ana.active = False
        db.session.commit()
    counts = sweep(app, org, datetime(2026, 12, 30, tzinfo=UTC))
    assert counts == {"due_soon": 0, "overdue": 0, "escalation": 0, "expiry": 0}


def test_notice_before_a_certificate_expires_unless_already_renewed(app, make, runner, smtp):
    org, _, course = hr_org(make)
    sam = make.user(org, "sam@acme.test", name="Sam Okafor")
    kim = make.user(org, "kim@acme.test", name="Kim Park")
    now = datetime.now(UTC)
    make.certificate(sam, course, expires_at=now + timedelta(days=20))
    make.certificate(kim, course, issued_at=now - timedelta(days=300),
                     expires_at=now + timedelta(days=20))
    make.certificate(kim, course, expires_at=now + timedelta(days=400))  # renewed already
    assert sweep(app, org, now)["expiry"] == 1
    assert sweep(app, org, now)["expiry"] == 0
    assert sweep(app, org, now + timedelta(days=14))["expiry"] == 1  # the 7-day notice
    deliver(runner)
    notices = smtp.to("sam@acme.test")
    assert len(notices) == 2 and smtp.to("kim@acme.test") == []
    assert "expires on" in notices[0]["Subject"]


def test_reminders_command_queues_what_is_due_now(app, make, runner, smtp):
    org, _, course = hr_org(make)
    make.rule(org, course, "new_hire", due_days=0)
    today = datetime.now(UTC).date()
    make.roster(org, [{"email": "sam@acme.test", "name": "Sam Okafor",
                       "hire_date": (today - timedelta(days=3)).isoformat()}])
    result = runner.invoke(args=["reminders", "--org", org.slug])
    assert result.exit_code == 0 and "overdue 1" in result.output
    again = runner.invoke(args=["reminders"])
    assert "overdue 0" in again.output
    deliver(runner)
    assert [m["Subject"].split(":")[0] for m in smtp.to("sam@acme.test")] == ["Welcome",
                                                                               "Overdue"]


def test_an_unreachable_smtp_server_means_a_retry_not_a_lost_mail(app, make, runner, smtp):
    app.config["MAIL_PORT"] = free_port()  # nothing listens there
    new_hires(make)
    output = deliver(runner)
    assert "retry 2" in output
    with app.app_context():
        message = db.session.execute(select(OutboxMessage).limit(1)).scalar_one()
        assert message.status == "pending" and message.attempts == 1
        assert "Connection" in message.last_error or "refused" in message.last_error.lower()


def test_without_mail_server_the_mail_is_written_to_the_log(app, make, runner, smtp, caplog):
    app.config["MAIL_SERVER"] = None
    new_hires(make)
    with caplog.at_level(logging.WARNING, logger="hr.mail"):
        assert "delivered 2" in deliver(runner)
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "hr.mail")
    assert "MAIL_SERVER is not set" in logged and "To: sam@acme.test" in logged
    assert smtp.messages == []


def test_admin_sets_the_organisations_schedule_and_templates(app, client, auth, make, runner,
                                                           smtp):
    org, hr, course = hr_org(make)
    admin = make.user(org, "admin@acme.test", roles=(Role.ADMIN,))
    auth.login(hr.email)
    assert client.get("/hr/reminders").status_code == 403  # an admin page
    auth.logout()
    auth.login(admin.email)
    page = client.get("/hr/reminders")
    assert page.status_code == 200 and "Welcome: your social media training" in page.text
    form = {"enabled": "y", "before_due_days": "3", "after_due_days": "2, 9",
            "escalate_after_days": "", "expiry_notice_days": "30"}
    for kind in reminders.KINDS:
        form[f"{kind}_subject"] = reminders.DEFAULT_TEMPLATES[kind]["subject"]
        form[f"{kind}_body"] = reminders.DEFAULT_TEMPLATES[kind]["body"]
    form["welcome_subject"] = "Hi $name, $course awaits"
    form["welcome_body"] = "Costs $$0. Go to $bogus"
    bad = submit_form(client, "/hr/reminders", "/hr/reminders", form)
    assert bad.status_code == 400 and "$bogus is not a placeholder" in bad.text
    form["welcome_body"] = "Costs $$0. Go to $link"
    form["before_due_days"] = "three"
    bad_days = submit_form(client, "/hr/reminders", "/hr/reminders", form)
    assert bad_days.status_code == 400
    assert "'three' is not a number of days" in html.unescape(bad_days.text)
    form["before_due_days"] = "3"
    saved = submit_form(client, "/hr/reminders", "/hr/reminders", form)
    assert saved.status_code == 302
    with app.app_context():
        settings = reminders.settings_for(org.id)
        assert settings.before_due_days == [3] and settings.after_due_days == [9, 2]
        assert settings.escalate_after_days is None
        assert set(settings.templates) == {"welcome"}  # only what differs from the defaults
    make.rule(org, course, "everyone", due_days=10)
    make.roster(org, [{"email": "sam@acme.test", "name": "Sam Okafor"}])
    deliver(runner)
    (welcome,) = smtp.to("sam@acme.test")
    assert welcome["Subject"] == "Hi Sam Okafor, Onboarding awaits"
    assert welcome.get_content().strip() == "Costs $0. Go to http://localhost/learn/"


def test_switched_off_reminders_queue_nothing(app, client, auth, make):
    org, _, course = hr_org(make)
    with app.app_context():
        reminders.save_settings(org.id, enabled=False, before_due_days=[1], after_due_days=[1],
                                escalate_after_days=1, expiry_notice_days=[30], templates={})
        db.session.commit()
    make.rule(org, course, "everyone", due_days=0)
    make.roster(org, STAFF)
    assert sweep(app, org, datetime.now(UTC) + timedelta(days=30))["overdue"] == 0
    with app.app_context():
        assert db.session.execute(select(OutboxMessage)).first() is None


def test_hr_sends_a_reminder_from_the_timeline_at_most_once_a_day(app, client, auth, make,
                                                                runner, smtp):
    org, hr, _ = new_hires(make)
    deliver(runner)
    auth.login(hr.email)
    with app.app_context():
        sam = db.session.execute(select(User).filter_by(email="sam@acme.test")).scalar_one()
        enrollment_id = db.session.execute(
            select(Enrollment.id).filter_by(user_id=sam.id)).scalar_one()
    page = client.get(f"/hr/people/{sam.id}")
    assert "Send a reminder" in page.text
    url = f"/hr/enrollments/{enrollment_id}/remind"
    first = client.post(url, data={"csrf_token": csrf_from(page.text)}, follow_redirects=True)
    assert "is queued" in first.text
    second = client.post(url, data={"csrf_token": csrf_from(page.text)}, follow_redirects=True)
    assert "not sent twice" in second.text
    deliver(runner)
    assert len(smtp.to("sam@acme.test")) == 2  # the welcome and one reminder
    # Another organisation's HR cannot trigger it.
    _, their_hr, _ = hr_org(make, "globex")
    auth.logout()
    auth.login(their_hr.email)
    other_page = client.get("/hr/")
    assert client.post(url, data={"csrf_token": csrf_from(other_page.text)}).status_code == 404
