"""Learner pages: the course overview, module pages, the lesson player and practice answers."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from content_modules.markdown import render_markdown
from content_modules.practice import PracticeNotFound, answer_practice
from lms_plugin.core.extensions import db
from lms_plugin.core.scoping import get_scoped_or_404
from lms_plugin.core.web import add_nav_item

from . import services
from .models import Enrollment, ModuleVersion

bp = Blueprint("course", __name__, url_prefix="/learn", template_folder="templates",
               static_folder="static", static_url_path="/course-static")


def _own_enrollment(enrollment_id: int) -> Enrollment:
    enrollment = get_scoped_or_404(Enrollment, enrollment_id)
    if enrollment.user_id != current_user.id:
        abort(404)
    return enrollment


def _module_in(enrollment: Enrollment, slug: str) -> ModuleVersion:
    if slug not in enrollment.course.module_slugs:
        abort(404)
    version = services.current_module_version(enrollment.organization_id, slug)
    if version is None:
        abort(404)
    return version


def wants_json() -> bool:
    """fetch() asks for JSON; a plain form post (no JavaScript) gets the full page."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


@bp.get("/")
@login_required
def overview():
    courses = [services.overview(e) for e in services.enrollments_of(current_user)]
    return render_template("course/overview.html", courses=courses)


@bp.get("/<int:enrollment_id>/resume")
@login_required
def resume(enrollment_id: int):
    """Where the learner left off: the first unread lesson, else the quiz or the policy."""
    enrollment = _own_enrollment(enrollment_id)
    kind, module = services.overview(enrollment).resume
    if kind == "lesson":
        return redirect(url_for(".lesson", enrollment_id=enrollment.id, slug=module.version.slug,
                                lesson_slug=module.next_lesson.slug))
    if kind == "quiz":
        return redirect(url_for(".module", enrollment_id=enrollment.id, slug=module.version.slug))
    if kind == "policy":
        return redirect(url_for("policy.read"))
    return redirect(url_for(".overview"))


@bp.get("/<int:enrollment_id>/<slug>/")
@login_required
def module(enrollment_id: int, slug: str):
    enrollment = _own_enrollment(enrollment_id)
    version = _module_in(enrollment, slug)
    state = services.module_progress(enrollment, version)
    return render_template("course/module.html", enrollment=enrollment, version=version,
                           state=state, module=version.module)


def _render_lesson(enrollment: Enrollment, version: ModuleVersion, lesson_slug: str,
                   feedback: dict | None = None, status: int = 200):
    module = version.module
    lessons = module.lessons
    index = next((i for i, item in enumerate(lessons) if item.slug == lesson_slug), None)
    if index is None:
        abort(404)
    state = services.module_progress(enrollment, version)
    return render_template(
        "course/lesson.html", enrollment=enrollment, version=version, module=module,
        lesson=lessons[index], body=render_markdown(lessons[index].body),
        previous=lessons[index - 1] if index > 0 else None,
        next=lessons[index + 1] if index + 1 < len(lessons) else None,
        position=index + 1, read=state.read, state=state, feedback=feedback or {},
    ), status


@bp.get("/<int:enrollment_id>/<slug>/<lesson_slug>")
@login_required
def lesson(enrollment_id: int, slug: str, lesson_slug: str):
    enrollment = _own_enrollment(enrollment_id)
    return _render_lesson(enrollment, _module_in(enrollment, slug), lesson_slug)


@bp.post("/<int:enrollment_id>/<slug>/<lesson_slug>/practice/<practice_id>")
@login_required
def practice(enrollment_id: int, slug: str, lesson_slug: str, practice_id: str):
    """Immediate feedback on a practice exercise. Nothing is stored: it never counts."""
    enrollment = _own_enrollment(enrollment_id)
    version = _module_in(enrollment, slug)
    lesson = version.module.lesson(lesson_slug)
    if lesson is None:
        abort(404)
    raw = request.form.get("choice", "")
    try:
        result = answer_practice(lesson, practice_id, int(raw))
    except ValueError:
        message = "Choose one of the answers, then check it."
        if wants_json():
            return jsonify(error={"field": "choice", "message": message}), 400
        return _render_lesson(enrollment, version, lesson_slug,
                              {practice_id: {"error": message}}, 400)
    except PracticeNotFound as exc:
        if wants_json():
            return jsonify(error={"field": "choice", "message": str(exc)}), 404
        abort(404)
    if wants_json():
        return jsonify(result.as_json())
    return _render_lesson(enrollment, version, lesson_slug, {practice_id: result})


@bp.post("/<int:enrollment_id>/<slug>/<lesson_slug>/read")
@login_required
def mark_read(enrollment_id: int, slug: str, lesson_slug: str):
    enrollment = _own_enrollment(enrollment_id)
    version = _module_in(enrollment, slug)
    try:
        services.mark_lesson_read(enrollment, version, lesson_slug)
    except services.CourseError:
        abort(404)
    db.session.commit()
    lessons = [lesson.slug for lesson in version.module.lessons]
    position = lessons.index(lesson_slug)
    if position + 1 < len(lessons):
        return redirect(url_for(".lesson", enrollment_id=enrollment.id, slug=slug,
                                lesson_slug=lessons[position + 1]))
    return redirect(url_for(".module", enrollment_id=enrollment.id, slug=slug))


def init_app(app) -> None:
    from . import authoring_views, policy_views

    services.connect_signals()
    add_nav_item("course.overview", "My training")
    app.register_blueprint(bp)
    policy_views.init_app(app)
    authoring_views.init_app(app)
