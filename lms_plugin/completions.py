"""``POST /api/v1/completions``: a module completed elsewhere (the Open edX XBlock) counts here.

An edge module: it ties the API frame to course, quizzes and certificates, so that a
completion reported by an organisation's key issues the certificate and posting rights follow,
exactly as if the learner had finished the module in the browser.
"""

from __future__ import annotations

import hashlib
import math

from flask import Blueprint, current_app, g, jsonify, request, url_for
from sqlalchemy import select

from certificates.codes import display
from certificates.models import Certificate
from course import services as course_services
from course.models import Course, Enrollment
from lms_plugin.core import accounts, audit
from lms_plugin.core.api import (
    API_PREFIX,
    ApiError,
    Scope,
    api_key_required,
    openapi,
    register_api_blueprint,
)
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Organization, User
from lms_plugin.core.timeutil import utcnow
from quizzes.models import Attempt

bp = Blueprint("completions_api", __name__, url_prefix=API_PREFIX)
SOURCE = "openedx"

openapi.schema("CompletionReport", {
    "type": "object", "required": ["learner_id", "module"],
    "properties": {
        "learner_id": {"type": "string", "maxLength": 150,
                       "description": "A stable anonymous id for the learner (Open edX's)."},
        "module": {"type": "string", "description": "The module's slug."},
        "score": {"type": "number", "minimum": 0, "maximum": 100,
                  "description": "The passing quiz score in percent (default 100)."},
        "name": {"type": "string", "maxLength": 200},
    },
})
openapi.schema("CompletionRecorded", {
    "type": "object",
    "properties": {
        "learner_id": {"type": "string"}, "module": {"type": "string"},
        "course": {"type": "string"}, "course_completed": {"type": "boolean"},
        "certificate_url": {"type": ["string", "null"]},
    },
})


def learner_for(org: Organization, learner_id: str, name: str | None) -> User:
    """The organisation's user for an anonymous id, created on first report."""
    external_id = f"{SOURCE}:{learner_id}"
    user = db.session.execute(select(User).filter_by(
        organization_id=org.id, external_id=external_id)).scalar_one_or_none()
    if user is None:
        digest = hashlib.sha256(external_id.encode()).hexdigest()[:24]
        user = accounts.create_user(org, f"{SOURCE}-{digest}@openedx.invalid",
                                    name or "Open edX learner", password=None,
                                    external_id=external_id)
    return user


def record_module_completion(user: User, slug: str, score: float) -> Enrollment:
    """Lessons read and the quiz passed, as reported; completion follows through signals."""
    version = course_services.current_module_version(user.organization_id, slug)
    course = next((c for c in db.session.execute(
        select(Course).filter_by(organization_id=user.organization_id).order_by(Course.id)
    ).scalars() if slug in c.module_slugs), None)
    if version is None or course is None:
        raise ApiError(422, "unknown_module", f"Module {slug!r} is not in any of your "
                       "organisation's courses: import it and add it to a course first.",
                       field="module")
    finished = db.session.execute(select(Enrollment).filter(
        Enrollment.user_id == user.id, Enrollment.course_id == course.id,
        Enrollment.completed_at.is_not(None)).order_by(Enrollment.id.desc())).scalars().first()
    enrollment = course_services.open_enrollment(user, course)
    if enrollment is None and finished is not None:
        return finished  # reported again after completion: nothing more to record
    enrollment = enrollment or course_services.enroll(user, course)
    quiz = version.quiz_version
    if quiz is not None and quiz.questions and not course_services.quiz_passed(user, quiz):
        now = utcnow()
        db.session.add(Attempt(
            organization_id=user.organization_id, user_id=user.id, quiz_version_id=quiz.id,
            seed=0, question_ids=[], responses={}, state=Attempt.GRADED, percent=score,
            passed=True, results={"source": SOURCE}, started_at=now, submitted_at=now))
        db.session.flush()
    for lesson in version.module.lessons:
        course_services.mark_lesson_read(enrollment, version, lesson.slug)
    course_services.check_completion(enrollment)
    return enrollment


@bp.post("/completions")
@api_key_required(Scope.COMPLETIONS_WRITE)
@openapi.operation(
    "/completions", "post",
    summary="Record a module completed in another system (the Open edX XBlock)",
    requestBody={"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/CompletionReport"}}}},
    responses={"200": {"description": "Recorded", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/CompletionRecorded"}}}},
        "422": {"$ref": "#/components/responses/Error"}},
)
def report_completion():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "Send a JSON object: {\"learner_id\": ..., "
                       "\"module\": ...}.")
    learner_id = body.get("learner_id")
    if not isinstance(learner_id, str) or not learner_id.strip() or len(learner_id) > 150:
        raise ApiError(422, "invalid_field", "learner_id must be a non-empty string of at "
                       "most 150 characters.", field="learner_id")
    slug = body.get("module")
    if not isinstance(slug, str) or not slug.strip():
        raise ApiError(422, "invalid_field", "module must be the module's slug.",
                       field="module")
    score = body.get("score", 100.0)
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(
            score) or not 0 <= score <= 100:
        raise ApiError(422, "invalid_field", "score must be a number from 0 to 100.",
                       field="score")
    name = body.get("name") if isinstance(body.get("name"), str) else None
    org = db.session.get(Organization, g.api_org_id)
    user = learner_for(org, learner_id.strip(), (name or "").strip()[:200] or None)
    enrollment = record_module_completion(user, slug.strip(), float(score))
    audit.record(org.id, "completion.reported", subject=user, source=SOURCE,
                 module=slug.strip(), score=float(score))
    certificate = db.session.execute(select(Certificate).filter_by(
        enrollment_id=enrollment.id)).scalar_one_or_none()
    db.session.commit()
    certificate_url = None
    if certificate is not None:
        certificate_url = current_app.config["PUBLIC_BASE_URL"] + url_for(
            "certificates.verify", code=display(certificate.code))
    return jsonify({"learner_id": learner_id.strip(), "module": slug.strip(),
                    "course": enrollment.course.slug,
                    "course_completed": enrollment.completed_at is not None,
                    "certificate_url": certificate_url})


def init_app(app) -> None:
    register_api_blueprint(app, bp)
