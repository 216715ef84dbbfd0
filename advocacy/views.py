"""Advocacy pages: the hub and draft checker, comms' library and queue, HR and admin tools."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from lms_plugin.core import audit
from lms_plugin.core.accounts import role_required
from lms_plugin.core.api import Scope, create_api_key
from lms_plugin.core.extensions import db
from lms_plugin.core.models import ApiKey, AuditEntry, Role, User
from lms_plugin.core.scoping import get_scoped_or_404, scoped
from lms_plugin.core.timeutil import utcnow
from lms_plugin.core.web import add_nav_item

from . import checker, exports, services, webhooks
from .models import AdvocacyPost, ConfidentialTerm, Share, WebhookDelivery, WebhookEndpoint

bp = Blueprint("advocacy", __name__, url_prefix="/advocacy", template_folder="templates")
COMMS = (Role.TRAINER, Role.ADMIN)
PEOPLE = (Role.HR, Role.ADMIN)


def _org():
    return current_user.organization


def _step_link(step: services.Step) -> str | None:
    """Where the employee goes to fix what is missing."""
    from flask import current_app

    if step.kind == "course":
        return url_for("course.overview")
    if step.kind == "policy":
        for endpoint in ("course.policy", "course.acknowledge_policy", "course.policy_page"):
            if endpoint in current_app.view_functions:
                return url_for(endpoint)
        return url_for("course.overview")
    if step.kind == "probation":
        return url_for("advocacy.hub") + "#my-shares"
    return None


# -- the hub (every employee) -----------------------------------------------------------------


@bp.get("/")
@login_required
def hub():
    rights = services.posting_rights_for(current_user)
    posts = services.library(current_user.organization_id) if rights.may_share else []
    shares = (
        db.session.execute(
            select(Share)
            .where(Share.user_id == current_user.id)
            .order_by(Share.created_at.desc())
            .limit(20)
        )
        .scalars()
        .all()
    )
    steps = [(step, _step_link(step)) for step in rights.steps]
    return render_template(
        "advocacy/hub.html",
        rights=rights,
        posts=posts,
        shares=shares,
        steps=steps,
        networks=services.NETWORKS,
    )


def _post_for_employee(post_id: int) -> AdvocacyPost:
    post = get_scoped_or_404(AdvocacyPost, post_id)
    if post.withdrawn_at is not None:
        abort(404)
    return post


@bp.route("/posts/<int:post_id>", methods=["GET", "POST"])
@login_required
def share(post_id: int):
    post = _post_for_employee(post_id)
    rights = services.posting_rights_for(current_user)
    if not rights.may_share:
        flash("You are not cleared to post yet: see what is missing below.", "warning")
        return redirect(url_for(".hub"))
    text = services.default_text(post)
    network = (post.networks or ["linkedin"])[0]
    errors: dict[str, str] = {}
    findings: list = []
    status = 200
    if request.method == "POST":
        text = request.form.get("text", "")
        network = request.form.get("network", "")
        rules = services.checker_rules(_org())
        # The post's own disclosure counts as one, whatever wording comms chose.
        rules = replace(rules, disclosures=(*rules.disclosures, post.disclosure))
        findings = checker.check_draft(text, rules)
        if network not in (post.networks or []):
            errors["network"] = "Choose one of the networks this post is meant for."
        elif not checker.has_disclosure(text, post.disclosure):
            errors["text"] = (
                f"Keep the required disclosure '{post.disclosure}' in the text: "
                "it cannot be removed."
            )
        elif checker.blocked(findings):
            errors["text"] = "The checker found something that blocks posting: see below."
        else:
            try:
                recorded = services.share_post(current_user, post, network, text)
            except services.AdvocacyError as exc:
                errors["text"] = str(exc)
            else:
                db.session.commit()
                return redirect(url_for(".shared", share_id=recorded.id))
        status = 400
    return render_template(
        "advocacy/share.html",
        post=post,
        text=text,
        network=network,
        errors=errors,
        findings=findings,
        rights=rights,
        networks=services.NETWORKS,
    ), status


@bp.get("/posts/<int:post_id>/image")
@login_required
def post_image(post_id: int):
    post = get_scoped_or_404(AdvocacyPost, post_id)
    if not post.image_data:
        abort(404)
    return Response(
        post.image_data,
        mimetype=post.image_type,
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=3600"},
    )


@bp.get("/shares/<int:share_id>")
@login_required
def shared(share_id: int):
    row = get_scoped_or_404(Share, share_id)
    if row.user_id != current_user.id:
        abort(404)
    link = (
        services.share_url(row.network, row.text, row.post.link)
        if row.status in ("shared", "approved")
        else None
    )
    return render_template("advocacy/shared.html", share=row, link=link, networks=services.NETWORKS)


@bp.route("/check", methods=["GET", "POST"])
@login_required
def check():
    text = request.form.get("text", "") if request.method == "POST" else ""
    findings = None
    error = None
    if request.method == "POST":
        if not text.strip():
            error = "Paste or type the draft you want to check."
        elif len(text) > 10_000:
            error = f"The draft has {len(text)} characters; the checker takes up to 10,000."
        else:
            findings = checker.check_draft(text, services.checker_rules(_org()))
    return render_template(
        "advocacy/check.html",
        text=text,
        findings=findings,
        error=error,
        marked=_marked(text, findings or []),
    ), 400 if error else 200


def _marked(text: str, findings: list) -> list[tuple[str, str | None]]:
    """The draft cut into (piece, severity or None) so the page can highlight the spans."""
    pieces, cursor = [], 0
    for finding in sorted(findings, key=lambda f: f.start):
        if finding.start < cursor:
            continue  # overlapping spans: the first one is highlighted
        pieces.append((text[cursor : finding.start], None))
        pieces.append((text[finding.start : finding.end], finding.severity))
        cursor = finding.end
    pieces.append((text[cursor:], None))
    return [p for p in pieces if p[0]]


# -- comms: the library and the probation queue -------------------------------------------------


@bp.route("/library/new", methods=["GET", "POST"])
@role_required(*COMMS)
def new_post():
    form = {
        k: request.form.get(k, "")
        for k in (
            "title",
            "suggested_text",
            "link",
            "image_url",
            "hashtags",
            "disclosure",
            "expires_on",
        )
    }
    chosen = (
        request.form.getlist("networks") if request.method == "POST" else list(services.NETWORKS)
    )
    errors: dict[str, str] = {}
    if request.method == "POST":
        expires_at = None
        if form["expires_on"]:
            try:
                day = datetime.strptime(form["expires_on"], "%Y-%m-%d").date()
                expires_at = datetime.combine(day, time(23, 59), tzinfo=UTC)
            except ValueError:
                errors["expires_on"] = "Use a date like 2026-12-31."
        upload = request.files.get("image")
        image = upload.read(services.MAX_IMAGE_BYTES + 1) if upload and upload.filename else None
        # The service checks every other field even when the date is wrong: all problems at once.
        try:
            post = services.publish_post(
                _org(),
                title=form["title"],
                suggested_text=form["suggested_text"],
                disclosure=form["disclosure"],
                link=form["link"],
                image_url=form["image_url"],
                hashtags=form["hashtags"].replace(",", " ").split(),
                networks=chosen,
                expires_at=expires_at,
                by=current_user,
                image=image,
            )
        except services.PostError as exc:
            errors.update(exc.problems)
        if errors:
            db.session.rollback()
        else:
            db.session.commit()
            flash(f"'{post.title}' is in the library.", "success")
            return redirect(url_for(".library_admin"))
    return render_template(
        "advocacy/new_post.html",
        form=form,
        chosen=chosen,
        errors=errors,
        networks=services.NETWORKS,
    ), 400 if errors else 200


@bp.get("/library")
@role_required(*COMMS)
def library_admin():
    posts = (
        db.session.execute(scoped(AdvocacyPost).order_by(AdvocacyPost.id.desc())).scalars().all()
    )
    return render_template("advocacy/library.html", posts=posts, now=utcnow())


@bp.post("/library/<int:post_id>/withdraw")
@role_required(*COMMS)
def withdraw_post(post_id: int):
    post = get_scoped_or_404(AdvocacyPost, post_id)
    if post.withdrawn_at is None:
        post.withdrawn_at = utcnow()
        audit.record(
            post.organization_id, "advocacy.post_withdrawn", actor=current_user, subject=post
        )
        db.session.commit()
    flash(f"'{post.title}' was withdrawn from the library.", "info")
    return redirect(url_for(".library_admin"))


@bp.get("/queue")
@role_required(*COMMS)
def queue():
    return render_template(
        "advocacy/queue.html", shares=services.approval_queue(current_user.organization_id)
    )


@bp.post("/queue/<int:share_id>")
@role_required(*COMMS)
def review(share_id: int):
    row = get_scoped_or_404(Share, share_id)
    decision = request.form.get("decision")
    if decision not in ("approve", "reject"):
        flash("Choose approve or reject.", "error")
        return redirect(url_for(".queue"))
    try:
        services.review_share(
            row, approve=decision == "approve", by=current_user, note=request.form.get("note", "")
        )
    except services.AdvocacyError as exc:
        db.session.rollback()
        flash(f"Not saved: {exc}.", "error")
        return redirect(url_for(".queue"))
    db.session.commit()
    flash(f"{row.user.name}'s share was {row.status}.", "success")
    return redirect(url_for(".queue"))


# -- HR: people, suspensions, the audit log ---------------------------------------------------


@bp.get("/people")
@role_required(*PEOPLE)
def people():
    users = db.session.execute(scoped(User).order_by(User.name, User.id)).scalars().all()
    rows = [(u, services.posting_rights_for(u)) for u in users]
    wanted = request.args.get("status", "")
    if wanted in services.STATUSES:
        rows = [r for r in rows if r[1].status == wanted]
    return render_template(
        "advocacy/people.html", rows=rows, wanted=wanted, statuses=services.STATUSES
    )


@bp.get("/people/<int:user_id>")
@role_required(*PEOPLE)
def person(user_id: int):
    user = get_scoped_or_404(User, user_id)
    entries = (
        db.session.execute(
            scoped(AuditEntry)
            .where(AuditEntry.subject_type == "User", AuditEntry.subject_id == str(user.id))
            .order_by(AuditEntry.id.desc())
            .limit(50)
        )
        .scalars()
        .all()
    )
    return render_template(
        "advocacy/person.html",
        user=user,
        rights=services.posting_rights_for(user),
        suspensions=services.suspensions_of(user),
        entries=entries,
        error=None,
        field=None,
    ), 200


@bp.post("/people/<int:user_id>/<any(suspend, reinstate):action>")
@role_required(*PEOPLE)
def change_rights(user_id: int, action: str):
    user = get_scoped_or_404(User, user_id)
    reason = request.form.get("reason", "")
    try:
        if action == "suspend":
            services.suspend(user, reason, by=current_user)
        else:
            services.reinstate(user, reason, by=current_user)
    except services.AdvocacyError as exc:
        db.session.rollback()
        user = get_scoped_or_404(User, user_id)
        return render_template(
            "advocacy/person.html",
            user=user,
            rights=services.posting_rights_for(user),
            suspensions=services.suspensions_of(user),
            entries=[],
            error=f"{str(exc)[0].upper()}{str(exc)[1:]}.",
            field=action,
        ), 400
    db.session.commit()
    done = "suspended" if action == "suspend" else "reinstated"
    flash(
        f"{user.name}'s posting rights were {done}. The advocacy platforms are told by the "
        "next worker run.",
        "success",
    )
    return redirect(url_for(".person", user_id=user.id))


def _audit_query():
    query = scoped(AuditEntry)
    action = request.args.get("action", "").strip()
    if action:
        query = query.where(AuditEntry.action.like(f"{action}%"))
    return query, action


@bp.get("/audit")
@role_required(*PEOPLE)
def audit_log():
    query, action = _audit_query()
    try:
        page = max(1, int(request.args.get("page", 1)))
    except ValueError:
        page = 1
    entries = (
        db.session.execute(query.order_by(AuditEntry.id.desc()).limit(51).offset((page - 1) * 50))
        .scalars()
        .all()
    )
    return render_template(
        "advocacy/audit.html",
        entries=entries[:50],
        more=len(entries) > 50,
        page=page,
        action=action,
    )


@bp.get("/audit.csv")
@role_required(*PEOPLE)
def audit_csv():
    query, action = _audit_query()
    entries = db.session.execute(query.order_by(AuditEntry.id)).scalars().all()
    audit.record(
        current_user.organization_id,
        "audit.exported",
        actor=current_user,
        rows=len(entries),
        filter=action or None,
    )
    db.session.commit()
    body = exports.audit_csv(entries)
    stamp = utcnow().strftime("%Y%m%d-%H%M")
    return Response(
        body,
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'},
    )


# -- admin: API keys, webhooks, the checker's lexicon ----------------------------------------


@bp.route("/api-keys", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def api_keys():
    plaintext, error = None, None
    if request.method == "POST":
        scopes = request.form.getlist("scopes")
        try:
            if not scopes:
                raise ValueError("choose at least one scope")
            key, plaintext = create_api_key(_org(), request.form.get("name", ""), scopes)
        except ValueError as exc:
            error = str(exc)
        else:
            audit.record(
                key.organization_id,
                "api_key.created",
                actor=current_user,
                subject=key,
                name=key.name,
                scopes=key.scopes,
            )
            db.session.commit()
    keys = db.session.execute(scoped(ApiKey).order_by(ApiKey.id.desc())).scalars().all()
    return render_template(
        "advocacy/api_keys.html",
        keys=keys,
        plaintext=plaintext,
        error=error,
        scopes=Scope.ALL,
        form=request.form,
    ), 400 if error else 200


@bp.post("/api-keys/<int:key_id>/revoke")
@role_required(Role.ADMIN)
def revoke_key(key_id: int):
    key = get_scoped_or_404(ApiKey, key_id)
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        audit.record(
            key.organization_id, "api_key.revoked", actor=current_user, subject=key, name=key.name
        )
        db.session.commit()
    flash(f"The key '{key.name}' is revoked: requests with it are refused from now on.", "info")
    return redirect(url_for(".api_keys"))


@bp.route("/webhooks", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def webhook_list():
    error, created = None, None
    if request.method == "POST":
        try:
            created = webhooks.register_endpoint(
                _org(),
                request.form.get("url", ""),
                request.form.get("description", ""),
                actor=current_user,
            )
        except webhooks.WebhookUrlError as exc:
            error = f"This URL is refused: {exc}."
        else:
            db.session.commit()
    return render_template(
        "advocacy/webhooks.html",
        error=error,
        created=created,
        endpoints=webhooks.endpoints_of(current_user.organization_id),
        form=request.form,
    ), 400 if error else 200


@bp.get("/webhooks/<int:endpoint_id>")
@role_required(Role.ADMIN)
def webhook_detail(endpoint_id: int):
    endpoint = get_scoped_or_404(WebhookEndpoint, endpoint_id)
    return render_template(
        "advocacy/webhook.html", endpoint=endpoint, deliveries=webhooks.deliveries_of(endpoint)
    )


@bp.post("/webhooks/<int:endpoint_id>/disable")
@role_required(Role.ADMIN)
def webhook_disable(endpoint_id: int):
    endpoint = get_scoped_or_404(WebhookEndpoint, endpoint_id)
    webhooks.disable_endpoint(endpoint, actor=current_user)
    db.session.commit()
    flash("The endpoint is disabled: no more events are sent to it.", "info")
    return redirect(url_for(".webhook_list"))


@bp.post("/webhooks/deliveries/<int:delivery_id>/redeliver")
@role_required(Role.ADMIN)
def webhook_redeliver(delivery_id: int):
    delivery = get_scoped_or_404(WebhookDelivery, delivery_id)
    try:
        webhooks.redeliver(delivery, actor=current_user)
    except ValueError as exc:
        flash(f"Not queued: {exc}.", "error")
    else:
        db.session.commit()
        flash(f"Event {delivery.event_id} is queued again (same event id).", "success")
    return redirect(url_for(".webhook_detail", endpoint_id=delivery.endpoint_id))


@bp.route("/lexicon", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def lexicon():
    error = None
    if request.method == "POST":
        try:
            services.add_confidential_term(
                _org(),
                request.form.get("term", ""),
                request.form.get("severity", ""),
                request.form.get("note", ""),
                actor=current_user,
            )
        except services.AdvocacyError as exc:
            db.session.rollback()
            error = f"{str(exc)[0].upper()}{str(exc)[1:]}."
        else:
            db.session.commit()
            flash("Added: the checker flags it from now on.", "success")
            return redirect(url_for(".lexicon"))
    terms = (
        db.session.execute(scoped(ConfidentialTerm).order_by(ConfidentialTerm.term)).scalars().all()
    )
    return render_template(
        "advocacy/lexicon.html", terms=terms, error=error, form=request.form
    ), 400 if error else 200


@bp.post("/lexicon/<int:term_id>/delete")
@role_required(Role.ADMIN)
def lexicon_delete(term_id: int):
    term = get_scoped_or_404(ConfidentialTerm, term_id)
    audit.record(term.organization_id, "checker.term_removed", actor=current_user, term=term.term)
    db.session.delete(term)
    db.session.commit()
    flash(f"'{term.term}' is no longer flagged.", "info")
    return redirect(url_for(".lexicon"))


def init_app(app) -> None:
    add_nav_item("advocacy.hub", "Advocacy hub")
    add_nav_item("advocacy.queue", "Share approvals", COMMS, group="Authoring")
    add_nav_item("advocacy.people", "Posting rights", PEOPLE, group="HR")
    add_nav_item("advocacy.audit_log", "Audit log", PEOPLE, group="HR")
    add_nav_item("advocacy.api_keys", "API keys", (Role.ADMIN,), group="Admin")
    add_nav_item("advocacy.webhook_list", "Webhooks", (Role.ADMIN,), group="Admin")
    app.register_blueprint(bp)
