"""The LTI endpoints: JWKS, configuration, OIDC login, launch, deep linking, admin, rosters."""

from __future__ import annotations

import logging

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user, login_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, URLField
from wtforms.validators import DataRequired, Length

from lms_plugin.core.accounts import role_required
from lms_plugin.core.extensions import csrf, db
from lms_plugin.core.models import Role
from lms_plugin.core.scoping import get_scoped_or_404, scoped

from . import keys, services
from .launch import LaunchRejected, begin_login, state_cookie_name, validate_launch
from .models import LtiContext

log = logging.getLogger("lms_plugin.lti")
bp = Blueprint("lti", __name__, url_prefix="/lti", template_folder="templates")
EMBEDDED = "lti_embedded"


class EmbeddedSessionInterface(SecureCookieSessionInterface):
    """Sessions started by an LTI launch live in the LMS's iframe, a third-party context:
    their cookie must be ``SameSite=None; Secure`` or the browser drops it."""

    def get_cookie_samesite(self, app):
        if session.get(EMBEDDED):
            return "None"
        return super().get_cookie_samesite(app)

    def get_cookie_secure(self, app):
        return True if session.get(EMBEDDED) else super().get_cookie_secure(app)


def tool_url(endpoint: str, **values) -> str:
    """Our public URL for an endpoint (what platform admins paste), from PUBLIC_BASE_URL."""
    return current_app.config["PUBLIC_BASE_URL"] + url_for(endpoint, **values)


def tool_values() -> dict:
    return {
        "login_url": tool_url("lti.login"),
        "launch_url": tool_url("lti.launch"),
        "redirect_uri": tool_url("lti.launch"),
        "deep_link_url": tool_url("lti.launch"),
        "jwks_url": tool_url("lti.jwks"),
        "config_url": tool_url("lti.config"),
        "domain": current_app.config["PUBLIC_BASE_URL"].split("://", 1)[-1],
    }


def _rejected(exc: LaunchRejected):
    log.warning("LTI rejected %s: %s (from %s)", exc.code, exc.message, request.remote_addr)
    db.session.rollback()
    return render_template("lti/error.html", error=exc), exc.status


@bp.get("/jwks.json")
def jwks():
    body = keys.jwks()
    db.session.commit()  # a first key may have just been made
    response = jsonify(body)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/config.json")
def config():
    values = tool_values()
    placement = {"target_link_uri": values["launch_url"], "message_type": "LtiDeepLinkingRequest"}
    return jsonify({
        "title": "Cleared to Post",
        "description": "Social media policy training, certificates and posting rights.",
        "oidc_initiation_url": values["login_url"],
        "target_link_uri": values["launch_url"],
        "public_jwk_url": values["jwks_url"],
        "scopes": [
            "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
            "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
            services.SCORE_SCOPE,
            services.NRPS_SCOPE,
        ],
        "extensions": [{
            "platform": "canvas.instructure.com",
            "domain": values["domain"],
            "privacy_level": "public",
            "settings": {
                "placements": [
                    {"placement": "link_selection", **placement},
                    {"placement": "assignment_selection", **placement},
                    {"placement": "course_navigation", "target_link_uri": values["launch_url"],
                     "message_type": "LtiResourceLinkRequest",
                     "text": "Social media training"},
                ],
            },
        }],
        "custom_fields": {},
    })


@bp.route("/login", methods=["GET", "POST"])
@csrf.exempt
def login():
    params = request.values.to_dict()
    try:
        state, platform = begin_login(params)
    except LaunchRejected as exc:
        return _rejected(exc)
    db.session.commit()
    query = {
        "scope": "openid", "response_type": "id_token", "response_mode": "form_post",
        "prompt": "none", "client_id": platform.client_id,
        "redirect_uri": tool_url("lti.launch"), "login_hint": params["login_hint"],
        "state": state.state, "nonce": state.nonce,
    }
    if params.get("lti_message_hint"):
        query["lti_message_hint"] = params["lti_message_hint"]
    from urllib.parse import urlencode

    separator = "&" if "?" in platform.auth_login_url else "?"
    response = redirect(platform.auth_login_url + separator + urlencode(query))
    response.set_cookie(state_cookie_name(state.state), state.state, max_age=600, secure=True,
                        httponly=True, samesite="None", path="/lti/")
    return response


@bp.post("/launch")
@csrf.exempt
def launch():
    try:
        trusted = validate_launch(request.form.to_dict(), request.cookies)
        user = services.user_for_launch(trusted)
        if not user.active:
            raise LaunchRejected("account_inactive", "Your Cleared to Post account is "
                                 "deactivated. Ask your HR partner or administrator.", 403)
        if trusted.message_type == "LtiDeepLinkingRequest":
            # This launch's roles decide, not the account's: an instructor in one LMS course
            # may be a learner in another.
            if not {Role.TRAINER, Role.ADMIN} & services.map_roles(trusted.claim("roles", [])):
                raise LaunchRejected("not_instructor", "Only instructors can choose content to "
                                     "place in a course.", 403)
            token = services.issue_ticket("deep_link", user,
                                          services.deep_link_request_payload(trusted),
                                          services.DEEP_LINK_LIFETIME)
            destination = url_for("lti.deep_link", token=token)
        else:
            target = services.target_for(trusted)
            enrollment = services.record_launch(trusted, user, target)
            destination = (url_for("course.module", enrollment_id=enrollment.id,
                                   slug=target.module_slug) if target.module_slug
                           else url_for("course.overview"))
    except LaunchRejected as exc:
        return _rejected(exc)
    except services.LtiError as exc:
        return _rejected(LaunchRejected("no_target", str(exc), 404))
    login_user(user)
    session[EMBEDDED] = True
    log.info("LTI launch: user %s from %s (%s)", user.id, trusted.platform.issuer,
             trusted.message_type)
    if trusted.cookie_bound or trusted.message_type == "LtiDeepLinkingRequest":
        db.session.commit()
        response = redirect(destination)
    else:
        # The browser sent no state cookie: third-party cookies are blocked in this iframe,
        # so the session cookie will not stick either. Offer a one-time link that opens us
        # in a window of our own, where cookies are first-party.
        token = services.issue_ticket("continue", user, {"next": destination},
                                      services.TICKET_LIFETIME)
        db.session.commit()
        response = current_app.make_response(render_template(
            "lti/continue.html", url=url_for("lti.continue_launch", token=token)))
    response.delete_cookie(state_cookie_name(trusted.login.state), path="/lti/", secure=True,
                           samesite="None")
    return response


@bp.get("/continue/<token>")
def continue_launch(token: str):
    try:
        ticket = services.use_ticket("continue", token)
    except services.LtiError as exc:
        return _rejected(LaunchRejected("bad_ticket", str(exc)))
    user = db.session.get(services.User, ticket.user_id)
    if user is None or not user.active:
        return _rejected(LaunchRejected("account_inactive", "Your Cleared to Post account is "
                                        "deactivated. Ask your HR partner or administrator.",
                                        403))
    next_url = ticket.payload.get("next", "/")
    db.session.commit()
    login_user(user)
    session[EMBEDDED] = True
    return redirect(next_url if next_url.startswith("/") and not next_url.startswith("//")
                    else url_for("home"))


@bp.route("/deep-link/<token>", methods=["GET", "POST"])
@csrf.exempt  # the one-time token in the URL is the proof; the iframe may have no cookies
def deep_link(token: str):
    try:
        ticket = services.peek_ticket("deep_link", token)
    except services.LtiError as exc:
        return _rejected(LaunchRejected("bad_ticket", str(exc)))
    platform = db.session.get(services.LtiPlatform, ticket.payload["platform_id"])
    choices = services.deep_link_choices(platform.organization_id)
    error = None
    if request.method == "POST":
        kind, _, slug = (request.form.get("choice") or "").partition(":")
        try:
            jwt_token, return_url = services.deep_link_response(
                ticket.payload, kind, slug, tool_url("lti.launch"))
        except services.LtiError as exc:
            error = str(exc)
        else:
            services.use_ticket("deep_link", token)
            db.session.commit()
            return render_template("lti/deep_link_return.html", jwt=jwt_token,
                                   return_url=return_url)
    return render_template("lti/deep_link.html", choices=choices, error=error,
                           token=token), 400 if error else 200


class RegisterPlatformForm(FlaskForm):
    issuer = URLField("Issuer (iss)", validators=[DataRequired("Enter the issuer."),
                                                  Length(max=255)])
    client_id = StringField("Client ID", validators=[DataRequired("Enter the client ID."),
                                                     Length(max=255)])
    deployment_id = StringField("Deployment ID", validators=[
        DataRequired("Enter the deployment ID."), Length(max=255)])
    auth_login_url = URLField("Authentication request URL (OIDC auth)", validators=[
        DataRequired("Enter the authentication URL."), Length(max=1000)])
    auth_token_url = URLField("Access token URL", validators=[
        DataRequired("Enter the access token URL."), Length(max=1000)])
    key_set_url = URLField("Public keyset URL (JWKS)", validators=[
        DataRequired("Enter the keyset URL."), Length(max=1000)])
    link_by_email = BooleanField(
        "Match first launches to existing learner accounts by e-mail (only if people cannot "
        "change their own e-mail in this platform)")


@bp.route("/admin", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def admin():
    form = RegisterPlatformForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                platform, created = services.register_platform(
                    current_user.organization, actor=current_user,
                    **{f: getattr(form, f).data for f in (
                        "issuer", "client_id", "deployment_id", "auth_login_url",
                        "auth_token_url", "key_set_url", "link_by_email")})
            except services.LtiError as exc:
                form.issuer.errors.append(str(exc))
            else:
                db.session.commit()
                flash(f"{'Registered' if created else 'Updated'} {platform.issuer} "
                      f"(client {platform.client_id}).", "success")
                return redirect(url_for(".admin"))
        status = 400
    platforms = services.platforms_of(current_user.organization_id)
    return render_template("lti/admin.html", form=form, platforms=platforms,
                           values=tool_values()), status


@bp.get("/rosters")
@role_required(Role.HR)
def rosters():
    contexts = list(db.session.execute(scoped(LtiContext).order_by(LtiContext.title)).scalars())
    return render_template("lti/rosters.html", contexts=contexts)


@bp.get("/rosters/<int:context_id>")
@role_required(Role.HR)
def roster(context_id: int):
    context = get_scoped_or_404(LtiContext, context_id)
    try:
        rows = services.roster(context)
    except services.LtiError as exc:
        return render_template("lti/roster.html", context=context, rows=[], error=str(exc)), 502
    course = db.session.get(services.Course, context.course_id) if context.course_id else None
    return render_template("lti/roster.html", context=context, rows=rows, error=None,
                           course=course)


