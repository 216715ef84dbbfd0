"""Policy pages: learners read and acknowledge, trainers publish versions, HR sees who did."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from content_modules.markdown import render_markdown
from lms_plugin.core.accounts import role_required
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Role
from lms_plugin.core.web import add_nav_item

from . import services
from .forms import PolicyAcknowledgeForm, PolicyPublishForm

bp = Blueprint("policy", __name__, url_prefix="/policy", template_folder="templates")


def _read_page(form: PolicyAcknowledgeForm | None = None, status: int = 200):
    policy = services.current_policy(current_user.organization_id)
    if policy is None:
        return render_template("course/policy_read.html", policy=None), status
    services.record_policy_opened(current_user, policy)
    db.session.commit()
    form = form or PolicyAcknowledgeForm(version_id=str(policy.id))
    form.version_id.data = str(policy.id)
    return render_template(
        "course/policy_read.html", policy=policy, body=render_markdown(policy.text), form=form,
        acknowledgment=services.acknowledgment_of(current_user, policy),
        wait=services.seconds_until_acknowledgeable(current_user, policy),
    ), status


@bp.get("/")
@login_required
def read():
    return _read_page()


@bp.post("/acknowledge")
@login_required
def acknowledge():
    form = PolicyAcknowledgeForm()
    policy = services.current_policy(current_user.organization_id)
    if policy is None:
        flash("There is no policy to acknowledge yet.", "info")
        return redirect(url_for(".read"))
    if form.version_id.data != str(policy.id):
        flash("A newer version of the policy was published while you were reading. "
              "Please read this version and acknowledge it.", "warning")
        return redirect(url_for(".read"))
    if not form.validate_on_submit():
        return _read_page(form, 400)
    try:
        services.acknowledge_policy(current_user, policy, form.full_name.data)
    except services.CourseError as exc:
        message = str(exc)
        if "name" in message:
            form.full_name.errors = [message[0].upper() + message[1:] + "."]
        else:
            flash(message[0].upper() + message[1:] + ".", "warning")
        return _read_page(form, 400)
    db.session.commit()
    flash(f"Thank you: you acknowledged version {policy.number} of the policy.", "success")
    return redirect(url_for("course.overview"))


@bp.route("/publish", methods=["GET", "POST"])
@role_required(Role.TRAINER)
def publish():
    form = PolicyPublishForm()
    status = 200
    if form.is_submitted():
        if form.validate():
            try:
                version = services.publish_policy(
                    current_user.organization, form.title.data, form.text.data,
                    min_read_seconds=form.min_read_seconds.data,
                    acknowledge_within_days=form.acknowledge_within_days.data,
                    published_by=current_user)
            except services.CourseError as exc:
                flash(str(exc), "error")
                status = 400
            else:
                db.session.commit()
                flash(f"Version {version.number} is published. Everyone must acknowledge it.",
                      "success")
                return redirect(url_for(".publish"))
        else:
            status = 400
    elif (current := services.current_policy(current_user.organization_id)) is not None:
        form.title.data, form.text.data = current.title, current.text
        form.min_read_seconds.data = current.min_read_seconds
    reports = services.acknowledgment_report(current_user.organization_id)
    return render_template("course/policy_publish.html", form=form, reports=reports), status


@bp.get("/acknowledgments")
@role_required(Role.HR)
def acknowledgments():
    reports = services.acknowledgment_report(current_user.organization_id)
    return render_template("course/policy_acknowledgments.html", reports=reports)


def init_app(app) -> None:
    add_nav_item("policy.read", "Policy")
    add_nav_item("policy.publish", "Publish policy", (Role.TRAINER,), group="Authoring")
    add_nav_item("policy.acknowledgments", "Policy acknowledgments", (Role.HR,), group="HR")
    app.register_blueprint(bp)
