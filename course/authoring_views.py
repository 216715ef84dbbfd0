"""Trainer pages: module list, lesson editor with live preview, publish, export, upload.

Only trainers (and admins) of the module's own organisation: another organisation's module is
a 404, exactly like a module that does not exist.
"""

from __future__ import annotations

import yaml
from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from content_modules.markdown import render_markdown
from lms_plugin.core.accounts import role_required
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Role
from lms_plugin.core.scoping import scoped
from lms_plugin.core.web import add_nav_item

from . import authoring
from .forms import LessonForm, PublishForm, UploadForm
from .models import ModuleVersion

bp = Blueprint("authoring", __name__, url_prefix="/author", template_folder="templates")
trainer_only = role_required(Role.TRAINER)


def _version_or_404(slug: str) -> ModuleVersion:
    version = db.session.execute(
        scoped(ModuleVersion).where(ModuleVersion.slug == slug)
        .order_by(ModuleVersion.number.desc()).limit(1)
    ).scalar_one_or_none()
    if version is None:
        abort(404)
    return version


def _editing(slug: str):
    """``(current version, draft or None, module being edited)``."""
    version = _version_or_404(slug)
    draft = authoring.draft_of(version.organization_id, slug)
    return version, draft, (draft.module if draft else version.module)


@bp.get("/")
@trainer_only
def index():
    modules = authoring.current_modules(current_user.organization_id)
    drafts = {m.slug: authoring.draft_of(m.organization_id, m.slug) for m in modules}
    return render_template("course/author_index.html", modules=modules, drafts=drafts,
                           form=UploadForm(), problems=[])


@bp.post("/upload")
@trainer_only
def upload():
    form = UploadForm()
    problems = []
    if form.validate_on_submit():
        try:
            version, created = authoring.import_zip(
                current_user.organization, form.archive.data.read(),
                requires_retraining=form.requires_retraining.data, user=current_user)
        except authoring.AuthoringError as exc:
            db.session.rollback()
            flash(str(exc)[0].upper() + str(exc)[1:] + ".", "error")
            problems = exc.problems
        else:
            db.session.commit()
            if created:
                flash(f"Imported {version.title} as version {version.number}.", "success")
            else:
                flash(f"{version.title} is unchanged: version {version.number} stays current.",
                      "info")
            return redirect(url_for(".index"))
    modules = authoring.current_modules(current_user.organization_id)
    drafts = {m.slug: authoring.draft_of(m.organization_id, m.slug) for m in modules}
    return render_template("course/author_index.html", modules=modules, drafts=drafts,
                           form=form, problems=problems), 400


@bp.get("/<slug>/")
@trainer_only
def edit_module(slug: str):
    version, draft, module = _editing(slug)
    return render_template("course/author_module.html", version=version, draft=draft,
                           module=module, publish_form=PublishForm(), problems=[])


@bp.get("/<slug>/export.zip")
@trainer_only
def export(slug: str):
    version = _version_or_404(slug)
    data = authoring.export_zip(version)
    authoring.export_audit(current_user.organization, version, current_user)
    db.session.commit()
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{version.slug}-v{version.number}.zip"'})


def _lesson_page(version, draft, module, form, lesson_slug, problems=(), preview=None,
                 status=200):
    return render_template("course/author_lesson.html", version=version, draft=draft,
                           module=module, form=form, lesson_slug=lesson_slug,
                           problems=list(problems), preview=preview), status


def _save_lesson(slug: str, lesson_slug: str | None):
    version, draft, module = _editing(slug)
    form = LessonForm()
    if not form.validate_on_submit():
        return _lesson_page(version, draft, module, form, lesson_slug, status=400)
    if request.form.get("action") == "preview":
        # Server-side preview (no JavaScript needed): nothing is saved.
        return _lesson_page(version, draft, module, form, lesson_slug,
                            preview=render_markdown(form.body.data))
    try:
        practice = authoring.parse_practice(form.practice.data or "")
        draft = authoring.open_draft(version, current_user)
        saved = authoring.save_lesson(draft, lesson_slug, title=form.title.data.strip(),
                                      minutes=form.minutes.data, body=form.body.data,
                                      practice=practice, user=current_user)
    except authoring.AuthoringError as exc:
        db.session.rollback()
        version, draft, module = _editing(slug)
        return _lesson_page(version, draft, module, form, lesson_slug, exc.problems or [
            _problem(str(exc))], status=400)
    db.session.commit()
    flash("Saved in the draft. Learners see it once you publish the module.", "success")
    return redirect(url_for(".edit_lesson", slug=slug, lesson_slug=saved))


def _problem(message: str):
    from content_modules import Problem

    return Problem("draft", "-", message, "correct it and save again")


@bp.route("/<slug>/lessons/new", methods=["GET", "POST"])
@trainer_only
def new_lesson(slug: str):
    if request.method == "POST":
        return _save_lesson(slug, None)
    version, draft, module = _editing(slug)
    return _lesson_page(version, draft, module, LessonForm(), None)


@bp.route("/<slug>/lessons/<lesson_slug>/edit", methods=["GET", "POST"])
@trainer_only
def edit_lesson(slug: str, lesson_slug: str):
    version, draft, module = _editing(slug)
    lesson = module.lesson(lesson_slug)
    if lesson is None:
        abort(404)
    if request.method == "POST":
        return _save_lesson(slug, lesson_slug)
    form = LessonForm(data={
        "title": lesson.title, "minutes": lesson.minutes, "body": lesson.body,
        "practice": yaml.safe_dump(lesson.practice, sort_keys=False, allow_unicode=True)
        if lesson.practice else "",
    })
    return _lesson_page(version, draft, module, form, lesson_slug)


@bp.get("/<slug>/lessons/<lesson_slug>/preview")
@trainer_only
def preview_lesson(slug: str, lesson_slug: str):
    """The lesson as a learner will see it once published (draft if there is one)."""
    version, draft, module = _editing(slug)
    lesson = module.lesson(lesson_slug)
    if lesson is None:
        abort(404)
    return render_template("course/author_preview.html", version=version, draft=draft,
                           module=module, lesson=lesson, body=render_markdown(lesson.body))


@bp.post("/preview")
@trainer_only
def preview_markdown():
    """Live preview for the editor: Markdown in, the same sanitised HTML learners get out."""
    text = request.form.get("body", "")
    if len(text) > 200_000:
        return jsonify(error={"field": "body", "message": "The text is too long to preview "
                                                          "(at most 200,000 characters)."}), 400
    return jsonify(html=render_markdown(text))


@bp.post("/<slug>/lessons/<lesson_slug>/move")
@trainer_only
def move_lesson(slug: str, lesson_slug: str):
    version, _, module = _editing(slug)
    if module.lesson(lesson_slug) is None:
        abort(404)
    offset = {"up": -1, "down": 1}.get(request.form.get("direction", ""))
    if offset is None:
        flash("Choose to move the lesson up or down.", "error")
        return redirect(url_for(".edit_module", slug=slug))
    try:
        authoring.move_lesson(authoring.open_draft(version, current_user), lesson_slug, offset,
                              current_user)
    except authoring.AuthoringError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for(".edit_module", slug=slug))
    db.session.commit()
    return redirect(url_for(".edit_module", slug=slug) + f"#lesson-{lesson_slug}")


@bp.post("/<slug>/lessons/<lesson_slug>/delete")
@trainer_only
def delete_lesson(slug: str, lesson_slug: str):
    version, _, module = _editing(slug)
    if module.lesson(lesson_slug) is None:
        abort(404)
    try:
        authoring.delete_lesson(authoring.open_draft(version, current_user), lesson_slug,
                                current_user)
    except authoring.AuthoringError as exc:
        db.session.rollback()
        flash(str(exc)[0].upper() + str(exc)[1:] + ".", "error")
        return redirect(url_for(".edit_module", slug=slug))
    db.session.commit()
    flash("Lesson removed from the draft.", "success")
    return redirect(url_for(".edit_module", slug=slug))


@bp.post("/<slug>/publish")
@trainer_only
def publish(slug: str):
    version, draft, module = _editing(slug)
    form = PublishForm()
    if draft is None:
        flash("There is no draft to publish: edit a lesson first.", "info")
        return redirect(url_for(".edit_module", slug=slug))
    if not form.validate_on_submit():
        return render_template("course/author_module.html", version=version, draft=draft,
                               module=module, publish_form=form, problems=[]), 400
    try:
        published, created = authoring.publish_draft(
            current_user.organization, draft,
            requires_retraining=form.requires_retraining.data, user=current_user)
    except authoring.AuthoringError as exc:
        db.session.rollback()
        version, draft, module = _editing(slug)
        return render_template("course/author_module.html", version=version, draft=draft,
                               module=module, publish_form=form,
                               problems=exc.problems or [_problem(str(exc))]), 400
    db.session.commit()
    if created:
        flash(f"Published version {published.number}. Learners see it now"
              f"{'; earlier completions must retrain' if published.requires_retraining else ''}.",
              "success")
    else:
        flash("The draft did not change anything: nothing was published.", "info")
    return redirect(url_for(".edit_module", slug=slug))


@bp.post("/<slug>/discard")
@trainer_only
def discard(slug: str):
    _, draft, _ = _editing(slug)
    if draft is not None:
        authoring.discard_draft(draft)
        db.session.commit()
        flash("The draft is discarded.", "info")
    return redirect(url_for(".edit_module", slug=slug))


def init_app(app) -> None:
    add_nav_item("authoring.index", "Modules", (Role.TRAINER,), group="Authoring")
    app.register_blueprint(bp)
