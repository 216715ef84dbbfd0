"""The transactional outbox: background work written in the same transaction as the change.

A feature calls ``enqueue`` beside the change that causes the work (a webhook for a posting
right granted, an e-mail reminder, a grade for the LMS). ``cleared worker`` later hands each
due message to the handler registered for its topic, retrying failures with exponential
backoff. A ``dedupe_key`` makes "never twice for the same reason" a database constraint.
With PostgreSQL several workers share the queue (``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from .extensions import db
from .timeutil import utcnow
from .types import UTCDateTime

log = logging.getLogger(__name__)

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"
MAX_ATTEMPTS = 12
BASE_DELAY_SECONDS = 30


class OutboxMessage(db.Model):
    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id"), index=True)
    topic: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    dedupe_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RetryLater(Exception):
    """Raised by a handler for a failure worth retrying (the message says why)."""


#: topic -> handler(message). Features register in their init_app.
HANDLERS: dict[str, Callable[[OutboxMessage], None]] = {}


def register_handler(topic: str, handler: Callable[[OutboxMessage], None]) -> None:
    HANDLERS[topic] = handler


def enqueue(topic: str, payload: dict, *, organization_id: int | None = None,
            dedupe_key: str | None = None, not_before: datetime | None = None) -> OutboxMessage | None:
    """Add a message to the current transaction. Returns None if ``dedupe_key`` was used before."""
    if dedupe_key is not None:
        exists = db.session.execute(
            select(OutboxMessage.id).filter_by(dedupe_key=dedupe_key)).first()
        if exists is not None:
            return None
    message = OutboxMessage(topic=topic, payload=payload, organization_id=organization_id,
                            dedupe_key=dedupe_key, next_attempt_at=not_before or utcnow())
    try:
        with db.session.begin_nested():
            db.session.add(message)
    except IntegrityError:
        return None  # a concurrent enqueue took the same dedupe key
    return message


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, 4 min ... capped at 6 hours."""
    return timedelta(seconds=min(BASE_DELAY_SECONDS * 2 ** max(0, attempts - 1), 6 * 3600))


def _claim(limit: int, topics: list[str] | None) -> list[OutboxMessage]:
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= utcnow())
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    if topics:
        query = query.where(OutboxMessage.topic.in_(topics))
    if db.engine.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(db.session.execute(query).scalars())


def process_due(limit: int = 100, topics: list[str] | None = None) -> dict[str, int]:
    """Deliver what is due, one commit per message. Returns counts by outcome."""
    counts = {"delivered": 0, "retry": 0, "failed": 0}
    for message in _claim(limit, topics):
        handler = HANDLERS.get(message.topic)
        message.attempts += 1
        try:
            if handler is None:
                raise RetryLater(f"no handler registered for topic {message.topic!r}")
            handler(message)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded and retried
            message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            if message.attempts >= MAX_ATTEMPTS:
                message.status = FAILED
                counts["failed"] += 1
                log.error("outbox message %s failed for good: %s", message.id, message.last_error)
            else:
                message.next_attempt_at = utcnow() + backoff(message.attempts)
                counts["retry"] += 1
                log.warning("outbox message %s will be retried: %s", message.id, message.last_error)
        else:
            message.status = DELIVERED
            message.delivered_at = utcnow()
            message.last_error = None
            counts["delivered"] += 1
        db.session.commit()
    return counts


def redeliver(message: OutboxMessage) -> None:
    """Put a delivered or failed message back in the queue (manual redelivery)."""
    message.status = PENDING
    message.next_attempt_at = utcnow()
