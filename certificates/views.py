"""Certificate pages: my certificates, PDF download, and public verification."""

from __future__ import annotations

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from lms_plugin.core.models import Role
from lms_plugin.core.scoping import get_scoped_or_404
from lms_plugin.core.web import add_nav_item

from . import codes, services
from .models import Certificate

bp = Blueprint("certificates", __name__, template_folder="templates")


@bp.get("/certificates/")
@login_required
def mine():
    return render_template("certificates/mine.html",
                           certificates=services.certificates_of(current_user),
                           display=codes.display, verification_url=services.verification_url)


@bp.get("/certificates/<int:certificate_id>.pdf")
@login_required
def download(certificate_id: int):
    certificate = get_scoped_or_404(Certificate, certificate_id)
    if certificate.user_id != current_user.id and not current_user.has_role(Role.HR):
        abort(404)  # not yours and not your HR: as if it did not exist
    filename = f"certificate-{certificate.code[:10]}.pdf"
    return Response(certificate.pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/verify/")
def verify_form():
    code = request.args.get("code", "").strip()
    if code:
        return redirect(url_for(".verify", code=code[:64]))
    return render_template("certificates/verify_form.html")


@bp.get("/verify/<code>")
def verify(code: str):
    result = services.verify(code[:64])
    status = 200 if result.certificate is not None else 404
    return render_template("certificates/verify.html", result=result, typed=code[:64],
                           display=codes.display), status


def init_app(app) -> None:
    services.connect_signals()
    add_nav_item("certificates.mine", "My certificates")
    app.register_blueprint(bp)
