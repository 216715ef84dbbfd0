"""Webhooks: registering endpoints safely, signing events, delivering them from the outbox.

A URL is checked when it is registered and again at every delivery, against every address
its host resolves to (DNS can change between the two), and the connection goes to the
address that was checked. Private, loopback, link-local (cloud metadata), unique-local and
other non-public addresses are refused, and so is plain HTTP, unless the organisation's
``allow_private_webhooks`` setting is on. Redirects are never followed.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import secrets
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select

from lms_plugin.core import audit, outbox
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Organization, User
from lms_plugin.core.timeutil import utcnow

from .models import WebhookDelivery, WebhookEndpoint

SIGNATURE_HEADER = "Cleared-Signature"
TIMESTAMP_HEADER = "Cleared-Timestamp"
EVENT_ID_HEADER = "Cleared-Event-Id"
EVENT_TYPE_HEADER = "Cleared-Event-Type"
#: Receivers should refuse a timestamp further than this from their clock (docs/integrations.md).
REPLAY_WINDOW_SECONDS = 300
TIMEOUT_SECONDS = 10
USER_AGENT = "ClearedToPost-Webhooks/1"


class WebhookUrlError(ValueError):
    """The URL is not one we will send events to; the message says why."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 over ``"<timestamp>.<body>"``, hex, prefixed with the scheme version."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def verify_signature(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float | None = None,
    window: int = REPLAY_WINDOW_SECONDS,
) -> bool:
    """What a receiver does (also in docs/integrations.md): check the window, then the MAC."""
    try:
        sent = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - sent) > window:
        return False
    return hmac.compare_digest(sign(secret, sent, body), signature)


def _refused_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _refused_address(address.ipv4_mapped)
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (this includes cloud metadata services)"
    if address.is_private:
        return "a private-network address"
    if address.is_multicast or address.is_reserved or address.is_unspecified:
        return "a reserved address"
    if not address.is_global:
        return "an address that is not on the public internet"
    return None


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]


def check_url(url: str, *, allow_private: bool = False, resolve: bool = True) -> Target:
    """Refuse anything but a public HTTPS address (see the module docstring)."""
    url = (url or "").strip()
    if not url:
        raise WebhookUrlError("the URL is empty: give the https:// address of your receiver")
    if len(url) > 2000:
        raise WebhookUrlError("the URL is longer than 2,000 characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookUrlError(f"the URL cannot be read ({exc})") from None
    if parts.scheme not in ("https", "http"):
        raise WebhookUrlError("only https:// URLs are accepted")
    if parts.scheme != "https" and not allow_private:
        raise WebhookUrlError("only https:// URLs are accepted: events carry personal data")
    if not parts.hostname:
        raise WebhookUrlError("the URL has no host name")
    if parts.username or parts.password:
        raise WebhookUrlError("put no user name or password in the URL: we sign every event")
    host = parts.hostname
    port = port or (443 if parts.scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not resolve:
        return Target(parts.scheme, host, port, path, ())
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise WebhookUrlError(f"the host {host!r} cannot be resolved ({exc})") from None
    addresses = tuple(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise WebhookUrlError(f"the host {host!r} has no address")
    if not allow_private:
        for text in addresses:
            why = _refused_address(ipaddress.ip_address(text.split("%")[0]))
            if why:
                raise WebhookUrlError(
                    f"{host} resolves to {text}, {why}: webhooks go to public addresses only"
                )
    return Target(parts.scheme, host, port, path, addresses)


def _connect_checked(addresses: tuple[str, ...], port: int, timeout: float) -> socket.socket:
    """Only the addresses that were checked, in order (a name may have IPv6 and IPv4)."""
    last: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as exc:
            last = exc
    raise last or OSError("no address to connect to")


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to the addresses that were checked, while TLS still verifies the host name."""

    def __init__(self, host: str, addresses: tuple[str, ...], port: int, **kwargs):
        super().__init__(host, port, **kwargs)
        self._addresses = addresses

    def connect(self) -> None:
        sock = _connect_checked(self._addresses, self.port, self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, addresses: tuple[str, ...], port: int, **kwargs):
        super().__init__(host, port, **kwargs)
        self._addresses = addresses

    def connect(self) -> None:
        self.sock = _connect_checked(self._addresses, self.port, self.timeout)


@dataclass(frozen=True)
class Response:
    status_code: int | None
    duration_ms: int
    error: str | None


def post(target: Target, body: bytes, headers: dict[str, str]) -> Response:
    """One POST to the checked address; a redirect is an answer, never followed."""
    started = time.perf_counter()
    if target.scheme == "https":
        conn: http.client.HTTPConnection = _PinnedHTTPSConnection(
            target.host,
            target.addresses,
            target.port,
            timeout=TIMEOUT_SECONDS,
            context=ssl.create_default_context(),
        )
    else:
        conn = _PinnedHTTPConnection(
            target.host, target.addresses, target.port, timeout=TIMEOUT_SECONDS
        )
    try:
        conn.request("POST", target.path, body=body, headers=headers)
        response = conn.getresponse()
        response.read(65536)
        status = response.status
    except (OSError, http.client.HTTPException) as exc:
        return Response(
            None, int((time.perf_counter() - started) * 1000), f"{type(exc).__name__}: {exc}"[:500]
        )
    finally:
        conn.close()
    elapsed = int((time.perf_counter() - started) * 1000)
    if 200 <= status < 300:
        return Response(status, elapsed, None)
    note = " (redirects are not followed)" if 300 <= status < 400 else ""
    return Response(status, elapsed, f"the receiver answered HTTP {status}{note}")


# -- endpoints ------------------------------------------------------------------------------


def allows_private(org: Organization) -> bool:
    return bool(org.setting("allow_private_webhooks", False))


def register_endpoint(
    org: Organization, url: str, description: str = "", *, actor: User | None = None
) -> WebhookEndpoint:
    check_url(url, allow_private=allows_private(org))
    endpoint = WebhookEndpoint(
        organization_id=org.id,
        url=url.strip(),
        description=(description or "").strip()[:200],
        secret="whsec_" + secrets.token_urlsafe(32),
    )
    db.session.add(endpoint)
    db.session.flush()
    audit.record(org.id, "webhook.registered", actor=actor, subject=endpoint, url=endpoint.url)
    return endpoint


def disable_endpoint(endpoint: WebhookEndpoint, *, actor: User | None = None) -> None:
    if endpoint.active:
        endpoint.active = False
        endpoint.disabled_at = utcnow()
        audit.record(
            endpoint.organization_id,
            "webhook.disabled",
            actor=actor,
            subject=endpoint,
            url=endpoint.url,
        )
        db.session.flush()


def endpoints_of(organization_id: int) -> list[WebhookEndpoint]:
    return list(
        db.session.execute(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.organization_id == organization_id)
            .order_by(WebhookEndpoint.id)
        ).scalars()
    )


def deliveries_of(endpoint: WebhookEndpoint, limit: int = 100) -> list[WebhookDelivery]:
    return list(
        db.session.execute(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint.id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        ).scalars()
    )


def redeliver(delivery: WebhookDelivery, *, actor: User | None = None) -> None:
    """Queue the same event (same id) to the same endpoint again, now."""
    message = (
        db.session.get(outbox.OutboxMessage, delivery.outbox_message_id)
        if delivery.outbox_message_id
        else None
    )
    if message is None:
        raise ValueError("this delivery's event is no longer in the queue")
    outbox.redeliver(message)
    audit.record(
        delivery.organization_id,
        "webhook.redelivery_requested",
        actor=actor,
        subject=delivery,
        event_id=delivery.event_id,
    )
    db.session.flush()


def deliver(message: outbox.OutboxMessage) -> None:
    """The outbox handler: sign and POST one event to one endpoint, logging the attempt."""
    endpoint = db.session.get(WebhookEndpoint, message.payload["endpoint_id"])
    event = message.payload["event"]
    if endpoint is None or not endpoint.active:
        return  # the endpoint was removed: nothing to send, nothing to retry
    org = db.session.get(Organization, endpoint.organization_id)
    log = WebhookDelivery(
        organization_id=endpoint.organization_id,
        endpoint_id=endpoint.id,
        outbox_message_id=message.id,
        event_id=event["id"],
        event_type=event["type"],
        attempt=message.attempts,
    )
    db.session.add(log)
    try:
        target = check_url(endpoint.url, allow_private=allows_private(org))
    except WebhookUrlError as exc:
        log.error = f"refused: {exc}"
        raise outbox.RetryLater(log.error) from None
    body = json.dumps(event, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: event["id"],
        EVENT_TYPE_HEADER: event["type"],
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(endpoint.secret, timestamp, body),
    }
    result = post(target, body, headers)
    log.status_code, log.duration_ms = result.status_code, result.duration_ms
    log.error = result.error
    log.succeeded = result.error is None
    if result.error is not None:
        raise outbox.RetryLater(result.error)


def init_app(app) -> None:
    from .services import WEBHOOK_TOPIC

    outbox.register_handler(WEBHOOK_TOPIC, deliver)
