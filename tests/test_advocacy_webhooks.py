"""Webhooks end to end against a real HTTP receiver: signing, retries, crashes, SSRF refusal."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from advocacy import services, webhooks
from advocacy.models import WebhookDelivery, WebhookEndpoint
from lms_plugin.core import outbox
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Organization, Role, User
from lms_plugin.core.outbox import OutboxMessage
from lms_plugin.core.timeutil import utcnow

DOCS = Path(__file__).parent.parent / "docs" / "integrations.md"


def docs_verify():
    """The receiver's verification code exactly as docs/integrations.md shows it."""
    text = DOCS.read_text()
    code = re.search(r"Python:\n\n```python\n(.*?)```", text, re.S).group(1)
    namespace: dict = {}
    exec(compile(code, str(DOCS), "exec"), namespace)  # noqa: S102 - our own documentation
    return namespace["verify"]


class Receiver:
    """A real HTTP server on 127.0.0.1 that records what it receives and answers as told."""

    def __init__(self, answers=(200,)):
        self.answers = list(answers)
        self.requests: list[tuple[dict, bytes, str]] = []
        self.first_arrived = threading.Event()
        self.hold_first = False
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append((dict(self.headers), body, self.path))
                if receiver.hold_first and len(receiver.requests) == 1:
                    receiver.first_arrived.set()
                    receiver.release.wait(30)
                status = (
                    receiver.answers.pop(0) if len(receiver.answers) > 1 else receiver.answers[0]
                )
                try:
                    self.send_response(status)
                    if 300 <= status < 400:
                        self.send_header(
                            "Location", f"http://127.0.0.1:{self.server.server_port}/elsewhere"
                        )
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender is gone (the crash test kills it)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/cleared"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def event_ids(self) -> list[str]:
        return [headers["Cleared-Event-Id"] for headers, _, _ in self.requests]

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def org(make):
    return make.org(allow_private_webhooks=True)


def setup_endpoint(app, org, url) -> tuple[int, str]:
    with app.app_context():
        endpoint = webhooks.register_endpoint(db.session.get(Organization, org.id), url)
        db.session.commit()
        return endpoint.id, endpoint.secret


def grant(app, make, org):
    """An employee becomes eligible: one posting_rights.granted event is queued."""
    course = make.course(org)
    person = make.user(org)
    make.certified_for_posting(person, course)
    return person


def process(app) -> dict:
    with app.app_context():
        return outbox.process_due()


def make_due(app):
    """Move every pending message's next attempt to now (time passing, without waiting)."""
    with app.app_context():
        for message in db.session.execute(select(OutboxMessage)).scalars():
            message.next_attempt_at = utcnow() - timedelta(seconds=1)
        db.session.commit()


def test_event_is_signed_and_verifies_with_the_documented_code(app, make, org, receiver):
    _, secret = setup_endpoint(app, org, receiver.url)
    person = grant(app, make, org)
    assert process(app) == {"delivered": 1, "retry": 0, "failed": 0}
    [(headers, body, path)] = receiver.requests
    assert path == "/hooks/cleared"
    verify = docs_verify()
    assert verify(secret, headers, body)
    event = json.loads(body)
    assert event["type"] == "posting_rights.granted"
    assert event["id"] == headers["Cleared-Event-Id"]
    assert event["data"]["email"] == person.email and event["data"]["eligible"] is True
    # Tampering, a wrong secret, or a replay outside the 5-minute window all fail.
    assert not verify(secret, headers, body.replace(b"true", b"fals"))
    assert not verify("whsec_wrong", headers, body)
    old = int(headers["Cleared-Timestamp"]) - 301
    replayed = dict(
        headers,
        **{"Cleared-Timestamp": str(old), "Cleared-Signature": webhooks.sign(secret, old, body)},
    )
    assert not verify(secret, replayed, body)
    assert webhooks.verify_signature(
        secret, headers["Cleared-Timestamp"], body, headers["Cleared-Signature"]
    )
    with app.app_context():
        [log] = db.session.execute(select(WebhookDelivery)).scalars()
        assert (log.status_code, log.succeeded, log.error) == (200, True, None)
        assert log.duration_ms is not None


def test_failures_are_retried_with_backoff_and_the_same_event_id(app, make, org):
    receiver = Receiver(answers=[500, 503, 200])
    try:
        setup_endpoint(app, org, receiver.url)
        grant(app, make, org)
        assert process(app) == {"delivered": 0, "retry": 1, "failed": 0}
        assert process(app) == {"delivered": 0, "retry": 0, "failed": 0}  # not due yet
        with app.app_context():
            message = db.session.execute(select(OutboxMessage)).scalar_one()
            first_delay = message.next_attempt_at - utcnow()
            assert timedelta(seconds=20) < first_delay <= timedelta(seconds=30)
        make_due(app)
        assert process(app)["retry"] == 1
        with app.app_context():
            message = db.session.execute(select(OutboxMessage)).scalar_one()
            assert message.next_attempt_at - utcnow() > timedelta(seconds=50)  # doubled
        make_due(app)
        assert process(app)["delivered"] == 1
        ids = receiver.event_ids()
        assert len(ids) == 3 and len(set(ids)) == 1
        with app.app_context():
            log = [
                (d.attempt, d.status_code, d.succeeded)
                for d in db.session.execute(
                    select(WebhookDelivery).order_by(WebhookDelivery.id)
                ).scalars()
            ]
            assert log == [(1, 500, False), (2, 503, False), (3, 200, True)]
            errors = [
                d.error
                for d in db.session.execute(
                    select(WebhookDelivery).order_by(WebhookDelivery.id)
                ).scalars()
            ]
            assert errors[0] == "the receiver answered HTTP 500"
    finally:
        receiver.close()


def test_redirects_are_not_followed(app, make, org):
    receiver = Receiver(answers=[302])
    try:
        setup_endpoint(app, org, receiver.url)
        grant(app, make, org)
        assert process(app)["retry"] == 1
        assert [path for _, _, path in receiver.requests] == ["/hooks/cleared"]
        with app.app_context():
            log = db.session.execute(select(WebhookDelivery)).scalar_one()
            assert "redirects are not followed" in log.error
    finally:
        receiver.close()


def test_unreachable_receiver_is_logged_and_retried(app, make, org):
    dead = Receiver()
    url = dead.url
    dead.close()  # nothing listens there any more
    setup_endpoint(app, org, url)
    grant(app, make, org)
    assert process(app)["retry"] == 1
    with app.app_context():
        log = db.session.execute(select(WebhookDelivery)).scalar_one()
        assert log.status_code is None and "Connection" in log.error


def test_worker_killed_after_sending_loses_nothing_and_resends_the_same_id(
    app, make, org, receiver
):
    """A crash between the receiver's answer and the worker's commit: at least once, same id."""
    setup_endpoint(app, org, receiver.url)
    grant(app, make, org)
    receiver.hold_first = True
    env = dict(
        os.environ,
        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        SECRET_KEY="test-only-secret",
        CLEARED_ENV="test",
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", "from lms_plugin.cli import main; main()", "worker", "--once"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert receiver.first_arrived.wait(60), worker.stderr.read().decode()[-2000:]
        worker.send_signal(signal.SIGKILL)  # the worker dies before recording the delivery
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
        worker.stdout.close()
        worker.stderr.close()
    receiver.release.set()
    with app.app_context():
        message = db.session.execute(select(OutboxMessage)).scalar_one()
        assert message.status == outbox.PENDING and message.attempts == 0
    # A new worker (the restarted process) delivers it; the receiver sees the same event id.
    deadline = time.monotonic() + 20
    while process(app)["delivered"] == 0:  # PostgreSQL may hold the dead session's lock briefly
        assert time.monotonic() < deadline, "the message was never delivered again"
        time.sleep(0.2)
    ids = receiver.event_ids()
    assert len(ids) == 2 and ids[0] == ids[1]
    with app.app_context():
        assert db.session.execute(select(OutboxMessage)).scalar_one().status == outbox.DELIVERED


def test_committed_change_waits_for_a_worker_that_is_not_running(app, make, org, receiver):
    """The change commits, the process dies before any delivery: a later worker sends it."""
    setup_endpoint(app, org, receiver.url)
    grant(app, make, org)
    assert receiver.requests == []
    from lms_plugin.app import create_app

    restarted = create_app(dict(app.config))
    with restarted.app_context():
        assert outbox.process_due()["delivered"] == 1
        db.session.remove()
        db.engine.dispose()  # the restarted process's own connections
    assert len(receiver.requests) == 1


def test_manual_redelivery_sends_the_same_event_again(app, client, make, org, receiver):
    endpoint_id, _ = setup_endpoint(app, org, receiver.url)
    grant(app, make, org)
    process(app)
    key = make.api_key(org, scopes=["webhooks:manage"])
    bearer = {"Authorization": f"Bearer {key}"}
    log = client.get(f"/api/v1/webhooks/{endpoint_id}/deliveries", headers=bearer).json
    [delivery] = log["deliveries"]
    assert delivery["status_code"] == 200
    response = client.post(
        f"/api/v1/webhooks/{endpoint_id}/deliveries/{delivery['id']}/redeliver", headers=bearer
    )
    assert response.status_code == 202
    assert process(app)["delivered"] == 1
    ids = receiver.event_ids()
    assert len(ids) == 2 and ids[0] == ids[1] == delivery["event_id"]


def test_webhook_api_registers_lists_and_disables_only_own_endpoints(app, client, make):
    org, other = make.org(), make.org()
    key = make.api_key(org, scopes=["webhooks:manage"])
    bearer = {"Authorization": f"Bearer {key}"}
    created = client.post(
        "/api/v1/webhooks",
        headers=bearer,
        json={"url": "https://93.184.215.14/hook", "description": "Amplify"},
    )
    assert created.status_code == 201, created.json
    assert created.json["secret"].startswith("whsec_")
    listed = client.get("/api/v1/webhooks", headers=bearer).json["endpoints"]
    assert [e["url"] for e in listed] == ["https://93.184.215.14/hook"]
    assert "secret" not in listed[0]
    theirs, _ = setup_endpoint(app, other, "https://93.184.215.14/theirs")
    assert client.delete(f"/api/v1/webhooks/{theirs}", headers=bearer).status_code == 404
    assert client.get(f"/api/v1/webhooks/{theirs}/deliveries", headers=bearer).status_code == 404
    assert (
        client.delete(f"/api/v1/webhooks/{created.json['id']}", headers=bearer).status_code == 204
    )
    with app.app_context():
        assert db.session.get(WebhookEndpoint, created.json["id"]).active is False
        assert db.session.get(WebhookEndpoint, theirs).active is True
    refused = client.post(
        "/api/v1/webhooks", headers=bearer, json={"url": "https://169.254.169.254/latest/meta-data"}
    )
    assert refused.status_code == 400
    assert refused.json["error"]["field"] == "url"
    assert "link-local" in refused.json["error"]["message"]
    assert (
        client.post("/api/v1/webhooks", headers=bearer, json={"url": 5}).json["error"]["field"]
        == "url"
    )


REFUSED = [
    ("http://93.184.215.14/hook", "only https"),
    ("ftp://93.184.215.14/hook", "only https"),
    ("https://127.0.0.1/hook", "loopback"),
    ("https://localhost/hook", "loopback"),
    ("https://127.1.2.3:8443/hook", "loopback"),
    ("https://[::1]/hook", "loopback"),
    ("https://10.0.0.5/hook", "private"),
    ("https://172.16.3.4/hook", "private"),
    ("https://192.168.1.10/hook", "private"),
    ("https://169.254.169.254/latest/meta-data", "link-local"),
    ("https://[fe80::1]/hook", "link-local"),
    ("https://[fd12:3456::1]/hook", "private"),
    ("https://[::ffff:127.0.0.1]/hook", "loopback"),
    ("https://0.0.0.0/hook", "private"),
    ("https://100.64.0.1/hook", "not on the public internet"),
    ("https://224.0.0.1/hook", "reserved"),
    ("https://user:pw@93.184.215.14/hook", "no user name"),
    ("https:///hook", "no host"),
    ("", "empty"),
    ("https://name.invalid/hook", "cannot be resolved"),
]


@pytest.mark.parametrize(("url", "why"), REFUSED)
def test_unsafe_webhook_urls_are_refused(url, why):
    with pytest.raises(webhooks.WebhookUrlError, match=why):
        webhooks.check_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "https://93.184.215.14/hook",
        "https://93.184.215.14:8443/hooks?token=a",
        "https://[2606:2800:220:1:248:1893:25c8:1946]/hook",
    ],
)
def test_public_https_urls_are_accepted(url):
    target = webhooks.check_url(url)
    assert target.scheme == "https" and target.addresses


def test_private_addresses_need_the_organisation_setting(app, make):
    strict = make.org()
    with app.app_context(), pytest.raises(webhooks.WebhookUrlError, match="loopback"):
        webhooks.register_endpoint(
            db.session.get(Organization, strict.id), "https://127.0.0.1:8080/hook"
        )
    assert webhooks.check_url("http://127.0.0.1:8080/hook", allow_private=True).addresses


def test_delivery_time_check_refuses_an_address_that_became_private(app, make, org, receiver):
    setup_endpoint(app, org, receiver.url)
    grant(app, make, org)
    with app.app_context():
        # The organisation turns the development setting off after registering.
        row = db.session.get(Organization, org.id)
        row.settings = {**row.settings, "allow_private_webhooks": False}
        db.session.commit()
    assert process(app)["retry"] == 1
    assert receiver.requests == []
    with app.app_context():
        log = db.session.execute(select(WebhookDelivery)).scalar_one()
        assert log.error.startswith("refused:") and log.status_code is None


def test_suspension_reaches_the_platform_within_one_worker_pass(app, make, org, receiver):
    """HR journey 5: suspended with a reason; the advocacy platform is told by the worker."""
    setup_endpoint(app, org, receiver.url)
    person = grant(app, make, org)
    hr = make.user(org, roles=(Role.HR,))
    process(app)
    with app.app_context():
        services.suspend(
            db.session.get(User, person.id),
            "Harmful post about a customer",
            by=db.session.get(User, hr.id),
        )
        db.session.commit()
    process(app)
    types = [json.loads(body)["type"] for _, body, _ in receiver.requests]
    assert types == ["posting_rights.granted", "posting_rights.suspended"]
    data = json.loads(receiver.requests[-1][1])["data"]
    assert "Harmful post" in data["reasons"][0] and data["status"] == "suspended"


def test_delivery_by_host_name_connects_only_to_checked_addresses(app, make, org, receiver):
    """'localhost' may resolve to ::1 first; the worker tries each checked address in turn."""
    url = receiver.url.replace("127.0.0.1", "localhost")
    setup_endpoint(app, org, url)
    grant(app, make, org)
    assert process(app)["delivered"] == 1
    assert receiver.requests[0][0]["Host"].startswith("localhost:")
