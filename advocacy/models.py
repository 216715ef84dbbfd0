"""Advocacy rows: suspensions, the last known posting-rights status, webhooks, posts and shares."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from lms_plugin.core.extensions import db
from lms_plugin.core.models import User
from lms_plugin.core.timeutil import utcnow
from lms_plugin.core.types import UTCDateTime


class Suspension(db.Model):
    """HR or an admin withdrew someone's posting rights; in force until ``reinstated_at``."""

    __tablename__ = "suspension"
    __table_args__ = (Index("ix_suspension_user_open", "user_id", "reinstated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    reason: Mapped[str] = mapped_column(Text)
    suspended_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    suspended_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    reinstated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reinstated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    reinstate_reason: Mapped[str | None] = mapped_column(Text)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    suspended_by: Mapped[User | None] = relationship(foreign_keys=[suspended_by_id])
    reinstated_by: Mapped[User | None] = relationship(foreign_keys=[reinstated_by_id])


class PostingRightsState(db.Model):
    """The last status recorded per user, only to detect transitions (the rule is computed)."""

    __tablename__ = "posting_rights_state"

    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    status: Mapped[str] = mapped_column(String(32), index=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class WebhookEndpoint(db.Model):
    """An HTTPS address an organisation wants posting-rights events sent to."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    # Shared with the receiver to verify signatures; shown to admins, sent only as a signature.
    secret: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookDelivery(db.Model):
    """One attempt to deliver one event to one endpoint: the delivery log."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (Index("ix_webhook_delivery_endpoint", "endpoint_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoint.id"))
    outbox_message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_message.id"))
    event_id: Mapped[str] = mapped_column(String(64), index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    status_code: Mapped[int | None] = mapped_column(Integer)
    duration_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    succeeded: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AdvocacyPost(db.Model):
    """An approved post in the content library, published by comms staff."""

    __tablename__ = "advocacy_post"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    suggested_text: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(2000))
    image_url: Mapped[str | None] = mapped_column(String(2000))
    # An uploaded image, kept in the database so that every app server can serve it.
    image_type: Mapped[str | None] = mapped_column(String(20))
    image_data: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    hashtags: Mapped[list] = mapped_column(JSON, default=list)
    disclosure: Mapped[str] = mapped_column(String(200))
    networks: Mapped[list] = mapped_column(JSON, default=list)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Share(db.Model):
    """An employee shared (or asked to share) a post; in probation it waits for approval."""

    __tablename__ = "share"
    __table_args__ = (Index("ix_share_user_status", "user_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    post_id: Mapped[int] = mapped_column(ForeignKey("advocacy_post.id"))
    network: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    # shared | pending (probation approval queue) | approved | rejected
    status: Mapped[str] = mapped_column(String(16))
    during_probation: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    review_note: Mapped[str | None] = mapped_column(Text)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    post: Mapped[AdvocacyPost] = relationship()


class ConfidentialTerm(db.Model):
    """A word or phrase the organisation never wants in a public post (the checker's lexicon)."""

    __tablename__ = "confidential_term"
    __table_args__ = (UniqueConstraint("organization_id", "term"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    term: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(10), default="block")  # block | review
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
