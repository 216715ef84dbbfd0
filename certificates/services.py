"""Certificate operations: issue on completion, look up a code, tell whether it is valid."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from blinker import Namespace
from flask import current_app
from sqlalchemy import select

from course import services as course_services
from course.models import Enrollment
from lms_plugin.core import audit
from lms_plugin.core.extensions import db
from lms_plugin.core.models import User
from lms_plugin.core.timeutil import utcnow

from . import codes
from .models import Certificate
from .pdf import CertificateContent, render_pdf

signals = Namespace()
#: Sent with the ``Certificate`` inside the issuing transaction.
certificate_issued = signals.signal("certificate-issued")


def verification_url(code: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL']}/verify/{codes.display(code)}"


def _unused_code() -> str:
    while True:
        code = codes.new_code()
        if db.session.execute(select(Certificate.id).filter_by(code=code)).first() is None:
            return code


def issue_certificate(enrollment: Enrollment) -> Certificate:
    """Issue the certificate for a completed enrolment (once), PDF and hash included."""
    if enrollment.completed_at is None:
        raise ValueError("a certificate is only issued for a completed enrolment")
    existing = db.session.execute(
        select(Certificate).filter_by(enrollment_id=enrollment.id)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    org = enrollment.user.organization
    issued_at = enrollment.completed_at
    months = org.setting("recertification_months")
    expires_at = issued_at + timedelta(days=round(30.44 * int(months))) if months else None
    code = _unused_code()
    content = CertificateContent(
        holder_name=enrollment.user.name,
        course_title=enrollment.course.title,
        organization_name=org.name,
        issued_at=issued_at,
        expires_at=expires_at,
        code_display=codes.display(code),
        verify_url=verification_url(code),
        page_size=org.setting("certificate_page_size", "A4"),
        primary_color=org.setting("brand_primary", "#1a3d7c"),
        accent_color=org.setting("brand_accent", "#c8a23c"),
    )
    pdf = render_pdf(content)
    certificate = Certificate(
        organization_id=enrollment.organization_id, user_id=enrollment.user_id,
        course_id=enrollment.course_id, enrollment_id=enrollment.id, code=code,
        holder_name=enrollment.user.name, course_title=enrollment.course.title,
        module_versions=dict(enrollment.completed_versions or {}),
        issued_at=issued_at, expires_at=expires_at,
        pdf=pdf, pdf_sha256=hashlib.sha256(pdf).hexdigest(),
    )
    db.session.add(certificate)
    db.session.flush()
    audit.record(enrollment.organization_id, "certificate.issued", subject=certificate,
                 user_id=enrollment.user_id, course=enrollment.course.slug)
    certificate_issued.send(certificate)
    return certificate


@dataclass(frozen=True)
class Verification:
    """What the public verification page may say about a code."""

    outcome: str  # valid | expired | revoked | unknown | mistyped
    certificate: Certificate | None = None
    message: str = ""


def verify(text: str) -> Verification:
    try:
        code = codes.normalize(text)
    except codes.CodeError as exc:
        return Verification("mistyped", message=str(exc))
    certificate = db.session.execute(
        select(Certificate).filter_by(code=code)
    ).scalar_one_or_none()
    if certificate is None:
        return Verification("unknown")
    return Verification(certificate.status(), certificate)


def certificates_of(user: User) -> list[Certificate]:
    return list(db.session.execute(
        select(Certificate).where(Certificate.user_id == user.id)
        .order_by(Certificate.issued_at.desc())
    ).scalars())


def _on_enrollment_completed(enrollment: Enrollment) -> None:
    issue_certificate(enrollment)


def connect_signals() -> None:
    course_services.enrollment_completed.connect(_on_enrollment_completed)
