"""Certificate pages: mine, downloads, HR management and export, branding, public verification."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user, login_required

from lms_plugin.core import audit
from lms_plugin.core.api import API_PREFIX, openapi, register_api_blueprint
from lms_plugin.core.extensions import db, limiter
from lms_plugin.core.models import Role
from lms_plugin.core.scoping import get_scoped_or_404
from lms_plugin.core.timeutil import utcnow
from lms_plugin.core.web import add_nav_item

from . import codes, pdf, services
from .models import Certificate, CertificateLogo

bp = Blueprint("certificates", __name__, template_folder="templates")
api_bp = Blueprint("certificates_api", __name__, url_prefix=API_PREFIX)

VERIFY_LIMIT_MESSAGE = ("Too many verification requests from your address. Wait a minute, "
                        "then try again.")


def verify_rate_limit() -> str:
    return current_app.config.get("CERTIFICATE_VERIFY_RATE_LIMIT", "60 per minute")


verify_limited = limiter.limit(verify_rate_limit, error_message=VERIFY_LIMIT_MESSAGE)


def _require(role: Role) -> None:
    if not current_user.has_role(role):
        abort(403)


def _template_helpers() -> dict:
    return {"display": codes.display, "verification_url": services.verification_url,
            "linkedin_url": services.linkedin_add_url, "expiring_soon": services.expiring_soon}


# -- learners ----------------------------------------------------------------------------------

@bp.get("/certificates/")
@login_required
def mine():
    return render_template("certificates/mine.html",
                           certificates=services.certificates_of(current_user),
                           **_template_helpers())


@bp.get("/certificates/<int:certificate_id>.pdf")
@login_required
def download(certificate_id: int):
    certificate = get_scoped_or_404(Certificate, certificate_id)
    if certificate.user_id != current_user.id and not current_user.has_role(Role.HR):
        abort(404)  # not yours and not your HR: as if it did not exist
    filename = f"certificate-{codes.display(certificate.code)}.pdf"
    return Response(certificate.pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# -- HR and admins -----------------------------------------------------------------------------

def _filters() -> dict:
    status = request.args.get("status", "all")
    course = request.args.get("course", "")
    return {
        "status": status if status in services.STATUS_FILTERS else "all",
        "course_id": int(course) if course.isdigit() else None,
        "search": request.args.get("q", "")[:100],
    }


@bp.get("/certificates/manage")
@login_required
def manage():
    _require(Role.HR)
    filters = _filters()
    rows = services.organisation_certificates(current_user.organization_id, **filters)
    return render_template("certificates/manage.html", rows=rows, filters=filters,
                           statuses=services.STATUS_FILTERS,
                           courses=services.courses_of(current_user.organization_id),
                           **_template_helpers())


@bp.get("/certificates/manage/certificates.zip")
@login_required
def export_zip():
    _require(Role.HR)
    filters = _filters()
    ids = [c.id for c in services.organisation_certificates(current_user.organization_id,
                                                            **filters)]
    audit.record(current_user.organization_id, "certificates.exported", actor=current_user,
                 count=len(ids), status=filters["status"], course_id=filters["course_id"],
                 search=filters["search"])
    db.session.commit()
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return Response(stream_with_context(services.stream_zip(ids)), mimetype="application/zip",
                    headers={"Content-Disposition":
                             f'attachment; filename="certificates-{stamp}.zip"'})


@bp.route("/certificates/<int:certificate_id>/revoke", methods=["GET", "POST"])
@login_required
def revoke(certificate_id: int):
    _require(Role.HR)
    certificate = get_scoped_or_404(Certificate, certificate_id)
    error = None
    if request.method == "POST":
        try:
            services.revoke(certificate, current_user, request.form.get("reason", ""))
        except services.CertificateError as exc:
            db.session.rollback()
            error = exc
        else:
            db.session.commit()
            flash(f"Certificate {codes.display(certificate.code)} is revoked.", "success")
            return redirect(url_for(".manage"))
    return render_template("certificates/revoke.html", certificate=certificate, error=error,
                           **_template_helpers()), 400 if error else 200


@bp.route("/certificates/<int:certificate_id>/reissue", methods=["GET", "POST"])
@login_required
def reissue(certificate_id: int):
    _require(Role.HR)
    certificate = get_scoped_or_404(Certificate, certificate_id)
    error = None
    if request.method == "POST":
        try:
            new = services.reissue(certificate, current_user, request.form.get("reason", ""),
                                   holder_name=request.form.get("holder_name", ""))
        except services.CertificateError as exc:
            db.session.rollback()
            error = exc
        else:
            db.session.commit()
            flash(f"Corrected certificate {codes.display(new.code)} issued; the old code now "
                  "says it was replaced.", "success")
            return redirect(url_for(".manage"))
    return render_template("certificates/reissue.html", certificate=certificate, error=error,
                           form=request.form, **_template_helpers()), 400 if error else 200


@bp.route("/certificates/branding", methods=["GET", "POST"])
@login_required
def branding():
    _require(Role.ADMIN)
    org = current_user.organization
    error = None
    if request.method == "POST":
        try:
            services.update_branding(org, current_user, request.form)
            upload = request.files.get("logo")
            if upload is not None and upload.filename:
                services.set_logo(org, upload.read(services.LOGO_MAX_BYTES + 1), current_user)
            elif request.form.get("remove_logo"):
                services.remove_logo(org, current_user)
        except services.CertificateError as exc:
            db.session.rollback()
            error = exc
        else:
            db.session.commit()
            flash("Certificate settings saved. New certificates use them.", "success")
            return redirect(url_for(".branding"))
    values = {k: services.setting(org, k) for k in services.DEFAULTS}
    if request.method == "POST":
        values |= {k: request.form.get(k, "") for k in services.DEFAULTS}
        values["show_holder_name"] = bool(request.form.get("show_holder_name"))
    logo = db.session.execute(
        db.select(CertificateLogo).filter_by(organization_id=org.id)).scalar_one_or_none()
    return render_template("certificates/branding.html", values=values, error=error, logo=logo,
                           page_sizes=list(pdf.PAGE_SIZES), limits=services,
                           ), 400 if error else 200


@bp.get("/certificates/branding/preview.pdf")
@login_required
def branding_preview():
    _require(Role.ADMIN)
    org = current_user.organization
    now = utcnow()
    sample = codes.new_code()
    content = pdf.CertificateContent(
        holder_name=current_user.name, course_title="Sample course", organization_name=org.name,
        issued_at=now, expires_at=services.expiry_for(org, now),
        code_display=codes.display(sample), verify_url=services.verification_url(sample),
        page_size=services.setting(org, "certificate_page_size"),
        primary_color=services.setting(org, "brand_primary"),
        accent_color=services.setting(org, "brand_accent"),
        logo_data_uri=services.logo_data_uri(org.id),
    )
    return Response(pdf.render_pdf(content), mimetype="application/pdf",
                    headers={"Content-Disposition": 'inline; filename="preview.pdf"'})


# -- public verification ----------------------------------------------------------------------

@bp.get("/verify/")
@verify_limited
def verify_form():
    code = request.args.get("code", "").strip()
    if code:
        return redirect(url_for(".verify", code=code[:64]))
    return render_template("certificates/verify_form.html")


def _verification_page(code: str, document=None, document_error=None):
    result = services.verify(code[:64])
    status = 200 if result.certificate is not None else 404
    if document_error is not None:
        status = 400
    return render_template("certificates/verify.html", result=result, typed=code[:64],
                           document=document, document_error=document_error,
                           **_template_helpers()), status


@bp.get("/verify/<code>")
@verify_limited
def verify(code: str):
    return _verification_page(code)


@bp.post("/verify/<code>/document")
@verify_limited
def verify_document(code: str):
    result = services.verify(code[:64])
    if result.certificate is None:
        return _verification_page(code)
    upload = request.files.get("pdf")
    try:
        if upload is not None and upload.filename:
            matches = services.document_matches(result.certificate, pdf=upload.read())
        elif request.form.get("sha256", "").strip():
            matches = services.document_matches(result.certificate,
                                                sha256=request.form["sha256"])
        else:
            raise services.CertificateError("choose the PDF file, or paste its SHA-256",
                                            field="pdf")
    except services.CertificateError as exc:
        return _verification_page(code, document_error=exc)
    return _verification_page(code, document="match" if matches else "mismatch")


openapi.schema("CertificateVerification", {
    "type": "object",
    "required": ["status"],
    "properties": {
        "status": {"type": "string",
                   "enum": ["valid", "expired", "revoked", "replaced", "unknown", "mistyped"]},
        "message": {"type": "string", "description": "Why a code is mistyped."},
        "code": {"type": "string", "example": "7K3QD-MZ8VA-0T1CX-R5FJE-Q"},
        "course": {"type": "string"},
        "issuer": {"type": "string"},
        "holder_name": {"type": "string",
                        "description": "Only when the issuing organisation allows it."},
        "issued_on": {"type": "string", "format": "date"},
        "expires_on": {"type": ["string", "null"], "format": "date"},
        "revoked_on": {"type": "string", "format": "date"},
        "replaced_by": {"type": "string", "description": "The corrected certificate's code."},
        "verification_url": {"type": "string", "format": "uri"},
    },
})


@api_bp.get("/certificates/<code>")
@openapi.operation(
    "/certificates/{code}", "get", secured=False, tags=["certificates"],
    summary="Verify a certificate code (public, rate limited)",
    description="The same answer as the public verification page, as JSON. No API key is "
    "needed: anyone holding a certificate can check it. A mistyped code (wrong length or "
    "check character) and an unknown code are both 404, with `status` telling them apart. "
    "Rate limited per client address (429 with a message when exceeded).",
    parameters=[{"name": "code", "in": "path", "required": True,
                 "schema": {"type": "string"},
                 "description": "The code as printed; dashes and spaces are ignored."}],
    responses={
        "200": {"description": "A certificate with this code exists",
                "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/CertificateVerification"}}}},
        "404": {"description": "Unknown or mistyped code",
                "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/CertificateVerification"}}}},
        "429": {"$ref": "#/components/responses/Error"},
    },
)
@verify_limited
def api_verify(code: str):
    result = services.verify(code[:64])
    response = current_app.json.response(result.as_json())
    response.status_code = 200 if result.certificate is not None else 404
    return response


def init_app(app) -> None:
    services.connect_signals()
    add_nav_item("certificates.mine", "My certificates")
    add_nav_item("certificates.manage", "Certificates", (Role.HR.value,), group="HR")
    add_nav_item("certificates.branding", "Certificate design", (Role.ADMIN.value,), group="Admin")
    app.register_blueprint(bp)
    register_api_blueprint(app, api_bp)
