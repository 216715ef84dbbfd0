"""Learner pages: the course overview, module pages and the lesson player."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, url_for
from flask_login import current_user, login_required

from content_modules.markdown import render_markdown
from lms_plugin.core.extensions import db
from lms_plugin.core.scoping import get_scoped_or_404
from lms_plugin.core.web import add_nav_item

from . import services
from .models import Enrollment, ModuleVersion

bp = Blueprint("course", __name__, url_prefix="/learn", template_folder="templates")


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


@bp.get("/")
@login_required
def overview():
    rows = [(e, services.progress(e)) for e in services.enrollments_of(current_user)]
    return render_template("course/overview.html", rows=rows)


@bp.get("/<int:enrollment_id>/<slug>/")
@login_required
def module(enrollment_id: int, slug: str):
    enrollment = _own_enrollment(enrollment_id)
    version = _module_in(enrollment, slug)
    state = services.ModuleProgress(version, services.lessons_read(enrollment, version),
                                    services.quiz_passed(current_user, version.quiz_version))
    return render_template("course/module.html", enrollment=enrollment, version=version,
                           state=state, module=version.module)


@bp.get("/<int:enrollment_id>/<slug>/<lesson_slug>")
@login_required
def lesson(enrollment_id: int, slug: str, lesson_slug: str):
    enrollment = _own_enrollment(enrollment_id)
    version = _module_in(enrollment, slug)
    module = version.module
    lessons = module.lessons
    index = next((i for i, item in enumerate(lessons) if item.slug == lesson_slug), None)
    if index is None:
        abort(404)
    return render_template(
        "course/lesson.html", enrollment=enrollment, version=version, module=module,
        lesson=lessons[index], body=render_markdown(lessons[index].body),
        previous=lessons[index - 1] if index > 0 else None,
        next=lessons[index + 1] if index + 1 < len(lessons) else None,
        position=index + 1, read=services.lessons_read(enrollment, version),
    )


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
    services.connect_signals()
    add_nav_item("course.overview", "My training")
    app.register_blueprint(bp)
