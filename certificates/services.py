"""Certificate operations: issue, verify, revoke, reissue, recertify, expire, export, brand."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from blinker import Namespace
from flask import current_app
from sqlalchemy import select

from course import services as course_services
from course.models import Course, Enrollment, ModuleVersion
from lms_plugin.core import audit
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Organization, User
from lms_plugin.core.timeutil import utcnow

from . import codes
from .models import Certificate, CertificateLogo
from .pdf import HEX_COLOR, LIMITS, PAGE_SIZES, CertificateContent, clip, render_pdf

signals = Namespace()
#: Sent with the ``Certificate`` inside the issuing transaction (also for a corrected reissue).
certificate_issued = signals.signal("certificate-issued")
#: Sent with the ``Certificate`` inside the revoking transaction.
certificate_revoked = signals.signal("certificate-revoked")

DEFAULTS = {
    "certificate_page_size": "A4",
    "brand_primary": "#1a3d7c",
    "brand_accent": "#c8a23c",
    "show_holder_name": True,
    "recertification_months": None,
    "reenroll_days_before_expiry": 30,
    "retraining_grace_days": 30,
}
EXPIRING_SOON_DAYS = 30  # "expiring" on the learner's and HR's lists when no setting says more
REASON_MAX = 500


class CertificateError(ValueError):
    """A refused certificate operation, worded for the person who asked."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def setting(org: Organization, key: str):
    return org.setting(key, DEFAULTS.get(key))


def verification_url(code: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL']}/verify/{codes.display(code)}"


def _unused_code() -> str:
    while True:
        code = codes.new_code()
        if db.session.execute(select(Certificate.id).filter_by(code=code)).first() is None:
            return code


def _add_months(moment: datetime, months: int) -> datetime:
    """Calendar months; the 31st of a shorter month becomes its last day."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    for day in (moment.day, 30, 29, 28):
        try:
            return moment.replace(year=year, month=month, day=day)
        except ValueError:
            continue
    raise AssertionError("unreachable")  # pragma: no cover


def expiry_for(org: Organization, issued_at: datetime) -> datetime | None:
    months = setting(org, "recertification_months")
    try:
        months = int(months) if months else 0
    except (TypeError, ValueError):
        months = 0
    return _add_months(issued_at, months) if months > 0 else None


# -- rendering -------------------------------------------------------------------------------

def logo_data_uri(organization_id: int) -> str | None:
    logo = db.session.execute(
        select(CertificateLogo).filter_by(organization_id=organization_id)
    ).scalar_one_or_none()
    if logo is None:
        return None
    return "data:image/png;base64," + base64.b64encode(logo.png).decode("ascii")


def content_for(certificate: Certificate) -> CertificateContent:
    org = certificate.organization
    return CertificateContent(
        holder_name=certificate.holder_name,
        course_title=certificate.course_title,
        organization_name=org.name,
        issued_at=certificate.issued_at,
        expires_at=certificate.expires_at,
        code_display=codes.display(certificate.code),
        verify_url=verification_url(certificate.code),
        page_size=setting(org, "certificate_page_size"),
        primary_color=setting(org, "brand_primary"),
        accent_color=setting(org, "brand_accent"),
        logo_data_uri=logo_data_uri(org.id),
    )


def _attach_pdf(certificate: Certificate) -> None:
    pdf = render_pdf(content_for(certificate))
    certificate.pdf = pdf
    certificate.pdf_sha256 = hashlib.sha256(pdf).hexdigest()


# -- issuance --------------------------------------------------------------------------------

def issue_certificate(enrollment: Enrollment) -> Certificate:
    """Issue the certificate for a completed enrolment (once), PDF and hash included."""
    if enrollment.completed_at is None:
        raise CertificateError("a certificate is only issued for a completed enrolment")
    existing = db.session.execute(
        select(Certificate).filter_by(enrollment_id=enrollment.id, replaces_id=None)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    org = enrollment.user.organization
    acknowledgment = course_services.current_acknowledgment(enrollment.user)
    certificate = Certificate(
        organization_id=enrollment.organization_id, user_id=enrollment.user_id,
        course_id=enrollment.course_id, enrollment_id=enrollment.id, code=_unused_code(),
        holder_name=clip(enrollment.user.name, 200),
        course_title=clip(enrollment.course.title, 200),
        module_versions=dict(enrollment.completed_versions or {}),
        policy_version_id=acknowledgment.policy_version_id if acknowledgment else None,
        issued_at=enrollment.completed_at,
        expires_at=expiry_for(org, enrollment.completed_at),
    )
    certificate.organization = org
    _attach_pdf(certificate)
    db.session.add(certificate)
    db.session.flush()
    audit.record(enrollment.organization_id, "certificate.issued", subject=certificate,
                 user_id=enrollment.user_id, course=enrollment.course.slug,
                 code=certificate.code)
    certificate_issued.send(certificate)
    return certificate


def _on_enrollment_completed(enrollment: Enrollment) -> None:
    issue_certificate(enrollment)


def connect_signals() -> None:
    course_services.enrollment_completed.connect(_on_enrollment_completed)


# -- revocation and corrected reissue ----------------------------------------------------------

def _clean_reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise CertificateError("give a reason: it is kept in the audit log", field="reason")
    if len(reason) > REASON_MAX:
        raise CertificateError(f"the reason is {len(reason)} characters; keep it under "
                               f"{REASON_MAX}", field="reason")
    return reason


def revoke(certificate: Certificate, actor: User, reason: str) -> Certificate:
    """Withdraw a certificate; verification then says revoked. Audit-logged, signalled."""
    reason = _clean_reason(reason)
    if certificate.revoked_at is not None:
        raise CertificateError("this certificate is already revoked")
    certificate.revoked_at = utcnow()
    certificate.revoked_reason = reason
    certificate.revoked_by_id = actor.id
    db.session.flush()
    audit.record(certificate.organization_id, "certificate.revoked", actor=actor,
                 subject=certificate, reason=reason, user_id=certificate.user_id,
                 code=certificate.code)
    certificate_revoked.send(certificate)
    return certificate


def reissue(certificate: Certificate, actor: User, reason: str,
            holder_name: str | None = None) -> Certificate:
    """Issue a corrected copy (same enrolment, dates and versions, new code and PDF).

    The old row stays, marked superseded and linked from the new one, so the old code's
    verification page says "replaced" and points to the new code.
    """
    reason = _clean_reason(reason)
    if certificate.revoked_at is not None:
        raise CertificateError("a revoked certificate cannot be reissued")
    if certificate.superseded_at is not None:
        raise CertificateError("this certificate was already replaced: correct the newest one")
    name = " ".join((holder_name or certificate.user.name or "").split())
    if not name:
        raise CertificateError("the holder's name is empty", field="holder_name")
    if len(name) > LIMITS["holder_name"]:
        raise CertificateError(f"the holder's name is {len(name)} characters; the certificate "
                               f"holds at most {LIMITS['holder_name']}", field="holder_name")
    now = utcnow()
    certificate.superseded_at = now
    new = Certificate(
        organization_id=certificate.organization_id, user_id=certificate.user_id,
        course_id=certificate.course_id, enrollment_id=certificate.enrollment_id,
        code=_unused_code(), holder_name=name, course_title=certificate.course_title,
        module_versions=dict(certificate.module_versions or {}),
        policy_version_id=certificate.policy_version_id, issued_at=certificate.issued_at,
        expires_at=certificate.expires_at, expiry_reason=certificate.expiry_reason,
        replaces_id=certificate.id,
        recertification_enrollment_id=certificate.recertification_enrollment_id,
    )
    new.organization = certificate.organization
    _attach_pdf(new)
    db.session.add(new)
    db.session.flush()
    audit.record(certificate.organization_id, "certificate.reissued", actor=actor, subject=new,
                 reason=reason, replaces=certificate.code, code=new.code,
                 user_id=certificate.user_id)
    certificate_issued.send(new)
    return new


def replacement_of(certificate: Certificate) -> Certificate | None:
    return db.session.execute(
        select(Certificate).filter_by(replaces_id=certificate.id)
    ).scalar_one_or_none()


def history_of(certificate: Certificate) -> list[Certificate]:
    """The chain of corrections from the first issue to this one, oldest first."""
    chain = [certificate]
    while chain[0].replaces is not None:
        chain.insert(0, chain[0].replaces)
    return chain


# -- verification ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Verification:
    """What the public verification page and API may say about a code."""

    outcome: str  # valid | expired | revoked | replaced | unknown | mistyped
    certificate: Certificate | None = None
    message: str = ""
    replaced_by: Certificate | None = None

    @property
    def show_holder_name(self) -> bool:
        return bool(self.certificate is not None and self.outcome != "replaced"
                    and setting(self.certificate.organization, "show_holder_name"))

    def as_json(self) -> dict:
        if self.certificate is None:
            body = {"status": self.outcome}
            if self.message:
                body["message"] = self.message
            return body
        c = self.certificate
        body = {
            "status": self.outcome,
            "code": codes.display(c.code),
            "course": c.course_title,
            "issuer": c.organization.name,
            "issued_on": c.issued_at.date().isoformat(),
            "expires_on": c.expires_at.date().isoformat() if c.expires_at else None,
            "verification_url": verification_url(c.code),
        }
        if self.show_holder_name:
            body["holder_name"] = c.holder_name
        if self.outcome == "revoked":
            body["revoked_on"] = c.revoked_at.date().isoformat()
        if self.replaced_by is not None:
            body["replaced_by"] = codes.display(self.replaced_by.code)
        return body


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
    outcome = certificate.status()
    replaced_by = replacement_of(certificate) if outcome == "replaced" else None
    return Verification(outcome, certificate, replaced_by=replaced_by)


SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def document_matches(certificate: Certificate, *, pdf: bytes | None = None,
                     sha256: str | None = None) -> bool:
    """Whether a presented PDF (or its SHA-256) is exactly the document issued with this code."""
    if pdf is not None:
        digest = hashlib.sha256(pdf).hexdigest()
    else:
        digest = "".join((sha256 or "").split()).lower()
        if not SHA256_HEX.match(digest):
            raise CertificateError("a SHA-256 is 64 hexadecimal characters (0-9, a-f)",
                                   field="sha256")
    return digest == certificate.pdf_sha256


# -- LinkedIn --------------------------------------------------------------------------------

def linkedin_add_url(certificate: Certificate) -> str:
    """LinkedIn's "add certification" form, prefilled with this certificate."""
    params = {
        "startTask": "CERTIFICATION_NAME",
        "name": certificate.course_title,
        "organizationName": certificate.organization.name,
        "issueYear": certificate.issued_at.year,
        "issueMonth": certificate.issued_at.month,
    }
    if certificate.expires_at is not None:
        params["expirationYear"] = certificate.expires_at.year
        params["expirationMonth"] = certificate.expires_at.month
    params["certUrl"] = verification_url(certificate.code)
    params["certId"] = codes.display(certificate.code)
    return "https://www.linkedin.com/profile/add?" + urlencode(params)


# -- lists for learners and HR ---------------------------------------------------------------

def certificates_of(user: User) -> list[Certificate]:
    """Every certificate the user ever held, newest first (history keeps them all)."""
    return list(db.session.execute(
        select(Certificate).where(Certificate.user_id == user.id)
        .order_by(Certificate.issued_at.desc(), Certificate.id.desc())
    ).scalars())


def expiring_soon(certificate: Certificate, now: datetime | None = None) -> bool:
    now = now or utcnow()
    if certificate.status(now) != "valid" or certificate.expires_at is None:
        return False
    days = max(int(setting(certificate.organization, "reenroll_days_before_expiry") or 0),
               EXPIRING_SOON_DAYS)
    return certificate.expires_at - now <= timedelta(days=days)


STATUS_FILTERS = ("all", "valid", "expiring", "expired", "revoked", "replaced")


def organisation_certificates(organization_id: int, *, status: str = "all",
                              course_id: int | None = None, search: str = "") -> list[Certificate]:
    """HR's filtered list of the organisation's certificates, newest first."""
    query = (select(Certificate).join(User, User.id == Certificate.user_id)
             .where(Certificate.organization_id == organization_id)
             .order_by(Certificate.issued_at.desc(), Certificate.id.desc()))
    if course_id:
        query = query.where(Certificate.course_id == course_id)
    search = search.strip()[:100]
    if search:
        pattern = f"%{search.lower()}%"
        query = query.where(User.name.ilike(pattern) | User.email.ilike(pattern)
                            | Certificate.holder_name.ilike(pattern))
    rows = list(db.session.execute(query).scalars())
    now = utcnow()
    if status == "expiring":
        return [c for c in rows if expiring_soon(c, now)]
    if status in STATUS_FILTERS and status != "all":
        return [c for c in rows if c.status(now) == status]
    return rows


def courses_of(organization_id: int) -> list[Course]:
    return list(db.session.execute(
        select(Course).where(Course.organization_id == organization_id).order_by(Course.title)
    ).scalars())


# -- streamed ZIP ----------------------------------------------------------------------------

class _ChunkSink(io.RawIOBase):
    """A write-only, non-seekable stream: zipfile writes into it, we hand the bytes on."""

    def __init__(self):
        self.chunks: list[bytes] = []
        self.position = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.chunks.append(bytes(data))
        self.position += len(data)
        return len(data)

    def tell(self) -> int:
        return self.position

    def take(self) -> bytes:
        data, self.chunks = b"".join(self.chunks), []
        return data


def zip_filename(certificate: Certificate) -> str:
    safe = re.sub(r"[^A-Za-z0-9]+", "-", certificate.holder_name).strip("-")[:60] or "holder"
    return f"{safe}-{codes.display(certificate.code)}.pdf"


def stream_zip(certificate_ids: Iterable[int]) -> Iterator[bytes]:
    """Yield a ZIP of the given certificates' PDFs, one PDF read from the database at a time."""
    sink = _ChunkSink()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for certificate_id in certificate_ids:
            certificate = db.session.get(Certificate, certificate_id)
            archive.writestr(zip_filename(certificate), certificate.pdf)
            db.session.expunge(certificate)  # keep memory flat: one PDF at a time
            yield sink.take()
    yield sink.take()


# -- lifecycle: recertification and retraining ------------------------------------------------

def reenroll_if_due(certificate: Certificate, now: datetime | None = None) -> Enrollment | None:
    """Enrol the holder again (current course version) when expiry is N days away or past."""
    now = now or utcnow()
    if (certificate.expires_at is None or certificate.revoked_at is not None
            or certificate.superseded_at is not None
            or certificate.recertification_enrollment_id is not None):
        return None
    days = int(setting(certificate.organization, "reenroll_days_before_expiry") or 0)
    if certificate.expires_at - timedelta(days=days) > now:
        return None
    user = certificate.user
    if not user.active:
        return None
    enrollment = course_services.enroll(user, certificate.course)
    certificate.recertification_enrollment_id = enrollment.id
    db.session.flush()
    audit.record(certificate.organization_id, "certificate.recertification_enrolled",
                 subject=certificate, user_id=user.id, enrollment_id=enrollment.id,
                 expires_at=certificate.expires_at.isoformat())
    return enrollment


def apply_retraining(version: ModuleVersion, now: datetime | None = None) -> list[Certificate]:
    """A module version marked as requiring retraining: older certificates expire at a deadline.

    The deadline is the version's publication plus the organisation's grace days; every
    certificate of a course teaching that module, earned with an older version, expires then
    (or earlier if it already would). Returns the certificates whose expiry moved.
    """
    now = now or utcnow()
    if not version.requires_retraining:
        return []
    org = db.session.get(Organization, version.organization_id)
    grace = int(setting(org, "retraining_grace_days") or 0)
    deadline = version.created_at + timedelta(days=grace)
    courses = [c for c in courses_of(org.id) if version.slug in (c.module_slugs or [])]
    moved = []
    for course in courses:
        for certificate in db.session.execute(
            select(Certificate).where(Certificate.course_id == course.id,
                                      Certificate.revoked_at.is_(None),
                                      Certificate.superseded_at.is_(None))
        ).scalars():
            earned_with = (certificate.module_versions or {}).get(version.slug)
            if earned_with is None or int(earned_with) >= version.id:
                continue
            if certificate.expires_at is not None and certificate.expires_at <= deadline:
                continue
            certificate.expires_at = deadline
            certificate.expiry_reason = "retraining"
            moved.append(certificate)
            audit.record(org.id, "certificate.retraining_deadline", subject=certificate,
                         user_id=certificate.user_id, module=version.slug,
                         module_version=version.number, deadline=deadline.isoformat())
    db.session.flush()
    return moved


@dataclass
class SweepReport:
    retraining_deadlines: int = 0
    reenrolled: int = 0

    def lines(self) -> list[str]:
        return [f"retraining deadlines set on {self.retraining_deadlines} certificate(s)",
                f"re-enrolled {self.reenrolled} learner(s) for recertification"]


def sweep(now: datetime | None = None) -> SweepReport:
    """The periodic lifecycle pass: retraining deadlines first, then recertification enrolments."""
    now = now or utcnow()
    report = SweepReport()
    for version in db.session.execute(
        select(ModuleVersion).where(ModuleVersion.requires_retraining.is_(True))
    ).scalars():
        report.retraining_deadlines += len(apply_retraining(version, now))
    candidates = db.session.execute(
        select(Certificate).where(Certificate.expires_at.is_not(None),
                                  Certificate.revoked_at.is_(None),
                                  Certificate.superseded_at.is_(None),
                                  Certificate.recertification_enrollment_id.is_(None))
    ).scalars().all()
    for certificate in candidates:
        if reenroll_if_due(certificate, now) is not None:
            report.reenrolled += 1
    return report


# -- branding --------------------------------------------------------------------------------

LOGO_MAX_BYTES = 256 * 1024  # logos are small; keeps uploads in memory
LOGO_MAX_PIXELS = (1500, 1500)


def validate_logo(data: bytes) -> tuple[bytes, int, int]:
    """Decode an uploaded logo (PNG or JPEG only) and re-encode it as a clean PNG."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise CertificateError("the logo file is empty: choose a PNG or JPEG image", field="logo")
    if len(data) > LOGO_MAX_BYTES:
        raise CertificateError(f"the logo is {len(data) // 1024} KB; the limit is "
                               f"{LOGO_MAX_BYTES // 1024} KB", field="logo")
    try:
        # verify() walks the whole file (PNG chunk CRCs, JPEG markers): a truncated or
        # corrupt file fails here even though WeasyPrint lets Pillow load truncated images.
        with Image.open(io.BytesIO(data), formats=["PNG", "JPEG"]) as probe:
            probe.verify()
        with Image.open(io.BytesIO(data), formats=["PNG", "JPEG"]) as image:
            width, height = image.size
            if width > LOGO_MAX_PIXELS[0] or height > LOGO_MAX_PIXELS[1]:
                raise CertificateError(
                    f"the logo is {width}x{height} pixels; the limit is "
                    f"{LOGO_MAX_PIXELS[0]}x{LOGO_MAX_PIXELS[1]}", field="logo")
            image.load()
            clean = image.convert("RGBA")
    except CertificateError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise CertificateError("the logo is not a readable PNG or JPEG image: export it again "
                               "as PNG or JPEG", field="logo") from exc
    out = io.BytesIO()
    clean.save(out, format="PNG", optimize=True)
    return out.getvalue(), width, height


def set_logo(org: Organization, data: bytes, actor: User) -> CertificateLogo:
    png, width, height = validate_logo(data)
    logo = db.session.execute(
        select(CertificateLogo).filter_by(organization_id=org.id)
    ).scalar_one_or_none()
    if logo is None:
        logo = CertificateLogo(organization_id=org.id)
        db.session.add(logo)
    logo.png, logo.width, logo.height = png, width, height
    logo.uploaded_at, logo.uploaded_by_id = utcnow(), actor.id
    db.session.flush()
    audit.record(org.id, "certificate.logo_changed", actor=actor, width=width, height=height)
    return logo


def remove_logo(org: Organization, actor: User) -> None:
    logo = db.session.execute(
        select(CertificateLogo).filter_by(organization_id=org.id)
    ).scalar_one_or_none()
    if logo is not None:
        db.session.delete(logo)
        db.session.flush()
        audit.record(org.id, "certificate.logo_removed", actor=actor)


def _int_setting(raw, field: str, label: str, low: int, high: int, *, blank_ok: bool) -> int | None:
    text = str(raw if raw is not None else "").strip()
    if not text:
        if blank_ok:
            return None
        raise CertificateError(f"{label} is required", field=field)
    if not text.isdigit() or not low <= int(text) <= high:
        raise CertificateError(f"{label} must be a whole number from {low} to {high}",
                               field=field)
    return int(text)


def update_branding(org: Organization, actor: User, form: dict) -> dict:
    """Validate and store the certificate settings; raises ``CertificateError`` naming the field."""
    primary = str(form.get("brand_primary", "")).strip()
    accent = str(form.get("brand_accent", "")).strip()
    for field, value, label in (("brand_primary", primary, "The main colour"),
                                ("brand_accent", accent, "The accent colour")):
        if not HEX_COLOR.match(value):
            raise CertificateError(f"{label} must be written #RRGGBB, for example #1a3d7c",
                                   field=field)
    page_size = str(form.get("certificate_page_size", "")).strip()
    if page_size not in PAGE_SIZES:
        raise CertificateError("choose A4 or Letter for the page size",
                               field="certificate_page_size")
    values = {
        "brand_primary": primary.lower(),
        "brand_accent": accent.lower(),
        "certificate_page_size": page_size,
        "show_holder_name": str(form.get("show_holder_name", "")).lower() in ("1", "on", "true",
                                                                               "yes"),
        "recertification_months": _int_setting(
            form.get("recertification_months"), "recertification_months",
            "The recertification period (months)", 1, 120, blank_ok=True),
        "reenroll_days_before_expiry": _int_setting(
            form.get("reenroll_days_before_expiry"), "reenroll_days_before_expiry",
            "Days before expiry to re-enrol", 0, 365, blank_ok=False),
        "retraining_grace_days": _int_setting(
            form.get("retraining_grace_days"), "retraining_grace_days",
            "Grace days after a retraining change", 0, 365, blank_ok=False),
    }
    before = {k: setting(org, k) for k in values}
    org.settings = {**(org.settings or {}), **values}  # reassign: JSON columns track identity
    db.session.flush()
    changed = {k: v for k, v in values.items() if before.get(k) != v}
    if changed:
        audit.record(org.id, "certificate.settings_changed", actor=actor, changed=changed)
    return values
