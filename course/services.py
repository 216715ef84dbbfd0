"""Course operations: importing modules, enrolling, recording progress, deciding completion."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from blinker import Namespace
from sqlalchemy import select

from content_modules import Module, load_module
from lms_plugin.core import audit
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Organization, User
from lms_plugin.core.timeutil import utcnow
from quizzes import authoring as quiz_authoring
from quizzes import services as quiz_services
from quizzes.core.grades import GradeEvent, publish_grade
from quizzes.models import Attempt, QuizVersion

from .models import (
    Course,
    Enrollment,
    LessonProgress,
    ModuleVersion,
    PolicyAcknowledgment,
    PolicyVersion,
)

signals = Namespace()
#: Sent with the ``Enrollment`` when it completes, inside the completing transaction.
enrollment_completed = signals.signal("enrollment-completed")


class CourseError(ValueError):
    pass


# -- content -----------------------------------------------------------------------------

QUIZ_SETTING_KEYS = ("questions", "pass_mark", "attempts", "cooldown_minutes",
                     "time_limit_minutes", "one_per_page", "feedback", "show_answers")


def import_module(org: Organization, module: Module | Path | str,
                  requires_retraining: bool = False) -> tuple[ModuleVersion, bool]:
    """Import a module into ``org``. Returns ``(version, created)``; unchanged content is a no-op."""
    if not isinstance(module, Module):
        module = load_module(module)
    latest = current_module_version(org.id, module.slug)
    if latest is not None and latest.content_hash == module.content_hash:
        return latest, False
    settings = {k: module.quiz[k] for k in QUIZ_SETTING_KEYS if k in module.quiz}
    quiz = quiz_authoring.publish_module_quiz(org.id, module.slug, module.title, settings,
                                              module.questions)
    version = ModuleVersion(
        organization_id=org.id, slug=module.slug,
        number=(latest.number + 1) if latest else 1,
        content_hash=module.content_hash, title=module.title, minutes=module.minutes,
        content=module.to_dict(), quiz_version_id=quiz.id,
        requires_retraining=requires_retraining,
    )
    db.session.add(version)
    db.session.flush()
    return version, True


def current_module_version(organization_id: int, slug: str) -> ModuleVersion | None:
    return db.session.execute(
        select(ModuleVersion)
        .where(ModuleVersion.organization_id == organization_id, ModuleVersion.slug == slug)
        .order_by(ModuleVersion.number.desc())
        .limit(1)
    ).scalar_one_or_none()


def create_course(org: Organization, slug: str, title: str, module_slugs: list[str], *,
                  required_for_posting: bool = False, due_days: int | None = None) -> Course:
    for slug_ in module_slugs:
        if current_module_version(org.id, slug_) is None:
            raise CourseError(f"module {slug_!r} is not imported into {org.slug}: import it first")
    course = db.session.execute(
        select(Course).filter_by(organization_id=org.id, slug=slug)
    ).scalar_one_or_none()
    if course is None:
        course = Course(organization_id=org.id, slug=slug)
        db.session.add(course)
    course.title = title
    course.module_slugs = list(module_slugs)
    course.required_for_posting = required_for_posting
    course.due_days = due_days
    db.session.flush()
    return course


def course_modules(course: Course) -> list[ModuleVersion]:
    versions = [current_module_version(course.organization_id, s) for s in course.module_slugs]
    return [v for v in versions if v is not None]


# -- enrolment and progress ----------------------------------------------------------------

def enroll(user: User, course: Course) -> Enrollment:
    """Enrol (idempotent): an open enrolment is returned as it is."""
    if user.organization_id != course.organization_id:
        raise CourseError("a user can only be enrolled in their own organisation's courses")
    existing = open_enrollment(user, course)
    if existing is not None:
        return existing
    last = db.session.execute(
        select(Enrollment).filter_by(user_id=user.id, course_id=course.id)
        .order_by(Enrollment.cycle.desc()).limit(1)
    ).scalar_one_or_none()
    now = utcnow()
    enrollment = Enrollment(
        organization_id=user.organization_id, user_id=user.id, course_id=course.id,
        cycle=(last.cycle + 1) if last else 1, enrolled_at=now,
        due_at=now + timedelta(days=course.due_days) if course.due_days else None,
        completed_versions={},
    )
    db.session.add(enrollment)
    db.session.flush()
    return enrollment


def open_enrollment(user: User, course: Course) -> Enrollment | None:
    return db.session.execute(
        select(Enrollment).filter_by(user_id=user.id, course_id=course.id, completed_at=None)
    ).scalar_one_or_none()


def enrollments_of(user: User) -> list[Enrollment]:
    return list(db.session.execute(
        select(Enrollment).where(Enrollment.user_id == user.id).order_by(Enrollment.id)
    ).scalars())


def lessons_read(enrollment: Enrollment, version: ModuleVersion) -> set[str]:
    return set(db.session.execute(
        select(LessonProgress.lesson_slug).where(
            LessonProgress.enrollment_id == enrollment.id,
            LessonProgress.module_version_id == version.id,
        )
    ).scalars())


def mark_lesson_read(enrollment: Enrollment, version: ModuleVersion, lesson_slug: str) -> None:
    if version.module.lesson(lesson_slug) is None:
        raise CourseError(f"module {version.slug!r} has no lesson {lesson_slug!r}")
    if lesson_slug not in lessons_read(enrollment, version):
        db.session.add(LessonProgress(
            organization_id=enrollment.organization_id, enrollment_id=enrollment.id,
            module_version_id=version.id, lesson_slug=lesson_slug,
        ))
        db.session.flush()
    check_completion(enrollment)


def quiz_passed(user: User, quiz: QuizVersion | None) -> bool:
    if quiz is None or not quiz.questions:
        return True
    # A trainer may publish a newer version of the module's quiz: a pass of any version counts.
    return quiz_services.has_passed(user, quiz)


@dataclass(frozen=True)
class ModuleProgress:
    version: ModuleVersion
    read: set[str]
    quiz_passed: bool

    @property
    def lessons_total(self) -> int:
        return len(self.version.module.lessons)

    @property
    def lessons_done(self) -> bool:
        return {lesson.slug for lesson in self.version.module.lessons} <= self.read

    @property
    def complete(self) -> bool:
        return self.lessons_done and self.quiz_passed

    @property
    def next_lesson(self):
        return next((lesson for lesson in self.version.module.lessons
                     if lesson.slug not in self.read), None)


def progress(enrollment: Enrollment) -> list[ModuleProgress]:
    return [
        ModuleProgress(version, lessons_read(enrollment, version),
                       quiz_passed(enrollment.user, version.quiz_version))
        for version in course_modules(enrollment.course)
    ]


def check_completion(enrollment: Enrollment) -> bool:
    """Complete the enrolment when every module's lessons are read and its quiz passed."""
    if enrollment.completed_at is not None:
        return True
    modules = progress(enrollment)
    if not modules or not all(m.complete for m in modules):
        return False
    enrollment.completed_at = utcnow()
    enrollment.completed_versions = {m.version.slug: m.version.id for m in modules}
    db.session.flush()
    enrollment_completed.send(enrollment)
    publish_grade(GradeEvent(
        organization_id=enrollment.organization_id, user_id=enrollment.user_id,
        kind="completion", activity=f"course:{enrollment.course.slug}", score=100.0,
        maximum=100.0, passed=True, timestamp=enrollment.completed_at,
        reference=f"enrollment:{enrollment.id}",
    ))
    return True


def _on_attempt_graded(attempt: Attempt) -> None:
    if not attempt.passed:
        return
    for enrollment in enrollments_of(attempt.user):
        if enrollment.completed_at is None:
            check_completion(enrollment)


def connect_signals() -> None:
    quiz_services.attempt_graded.connect(_on_attempt_graded)


# -- the social media policy -------------------------------------------------------------

def publish_policy(org: Organization, title: str, text: str, *, min_read_seconds: int = 0,
                   acknowledge_within_days: int | None = None,
                   published_by: User | None = None) -> PolicyVersion:
    """Publish a new policy version; everyone must acknowledge it anew."""
    if not title.strip() or not text.strip():
        raise CourseError("a policy needs a title and its text")
    current = current_policy(org.id)
    now = utcnow()
    version = PolicyVersion(
        organization_id=org.id, number=(current.number + 1) if current else 1,
        title=title.strip(), text=text, text_sha256=hashlib.sha256(text.encode()).hexdigest(),
        min_read_seconds=min_read_seconds, published_at=now,
        acknowledge_by=now + timedelta(days=acknowledge_within_days)
        if acknowledge_within_days else None,
        published_by_id=published_by.id if published_by else None,
    )
    db.session.add(version)
    db.session.flush()
    audit.record(org.id, "policy.published", actor=published_by, subject=version,
                 number=version.number, sha256=version.text_sha256)
    return version


def current_policy(organization_id: int) -> PolicyVersion | None:
    return db.session.execute(
        select(PolicyVersion).where(PolicyVersion.organization_id == organization_id)
        .order_by(PolicyVersion.number.desc()).limit(1)
    ).scalar_one_or_none()


def current_acknowledgment(user: User) -> PolicyAcknowledgment | None:
    """The user's acknowledgment of the current policy, if any (None also when no policy)."""
    policy = current_policy(user.organization_id)
    if policy is None:
        return None
    return db.session.execute(
        select(PolicyAcknowledgment).filter_by(user_id=user.id, policy_version_id=policy.id)
    ).scalar_one_or_none()


def acknowledge_policy(user: User, version: PolicyVersion, typed_name: str) -> PolicyAcknowledgment:
    if version.organization_id != user.organization_id:
        raise CourseError("a policy can only be acknowledged in its own organisation")
    if " ".join(typed_name.split()).casefold() != " ".join(user.name.split()).casefold():
        raise CourseError("type your full name exactly as it appears on your account")
    existing = db.session.execute(
        select(PolicyAcknowledgment).filter_by(user_id=user.id, policy_version_id=version.id)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    ack = PolicyAcknowledgment(
        organization_id=user.organization_id, user_id=user.id, policy_version_id=version.id,
        text_sha256=version.text_sha256, typed_name=typed_name.strip(),
    )
    db.session.add(ack)
    db.session.flush()
    audit.record(user.organization_id, "policy.acknowledged", actor=user, subject=ack,
                 policy_version=version.number)
    return ack
