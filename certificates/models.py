"""Issued certificates (with their PDF and its SHA-256) and each organisation's certificate logo."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from course.models import Course, Enrollment
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Organization, User
from lms_plugin.core.timeutil import utcnow
from lms_plugin.core.types import UTCDateTime


class Certificate(db.Model):
    """One issued document. Rows are never deleted: history keeps every earlier certificate."""

    __tablename__ = "certificate"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    # Not unique: a corrected reissue belongs to the same completed enrolment.
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("enrollment.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    holder_name: Mapped[str] = mapped_column(String(200))
    course_title: Mapped[str] = mapped_column(String(200))
    # {module slug: module_version id} the enrolment was completed with.
    module_versions: Mapped[dict] = mapped_column(JSON, default=dict)
    # The policy version the learner had acknowledged when certified (None: no policy).
    policy_version_id: Mapped[int | None] = mapped_column(ForeignKey("policy_version.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why expires_at moved earlier than the recertification period, e.g. "retraining".
    expiry_reason: Mapped[str | None] = mapped_column(String(64))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # A corrected reissue points at the certificate it replaces; the old one is superseded.
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("certificate.id"), index=True)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The enrolment the recertification sweep opened for this certificate (once).
    recertification_enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollment.id"))
    pdf_sha256: Mapped[str] = mapped_column(String(64), index=True)
    pdf: Mapped[bytes] = deferred(mapped_column(LargeBinary))

    organization: Mapped[Organization] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    course: Mapped[Course] = relationship()
    enrollment: Mapped[Enrollment] = relationship(foreign_keys=[enrollment_id])
    replaces: Mapped[Certificate | None] = relationship(remote_side=[id])

    def status(self, now: datetime | None = None) -> str:
        """valid | expired | revoked | replaced (a corrected copy was issued in its place)."""
        now = now or utcnow()
        if self.revoked_at is not None:
            return "revoked"
        if self.superseded_at is not None:
            return "replaced"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "valid"


class CertificateLogo(db.Model):
    """The organisation's logo for certificates: a validated, re-encoded PNG kept in the DB."""

    __tablename__ = "certificate_logo"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), unique=True)
    png: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
