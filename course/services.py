"""Course operations: importing modules, enrolling, recording progress, deciding completion."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from blinker import Namespace
from sqlalchemy import select
from sqlalchemy.orm import selectinload

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
    PolicyReading,
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
                  requires_retraining: bool = False, *,
                  imported_by: User | None = None) -> tuple[ModuleVersion, bool]:
    """Import a module into ``org``. Returns ``(version, created)``; unchanged content is a no-op.

    A changed module becomes a new version; learners who completed an older one keep it
    (``Enrollment.completed_versions``). ``requires_retraining`` records the trainer's
    decision that completions of older versions no longer count for this module.
    """
    if not isinstance(module, Module):
        module = load_module(module)
    latest = current_module_version(org.id, module.slug)
    if latest is not None and latest.content_hash == module.content_hash:
        return latest, False
    settings = {k: module.quiz[k] for k in QUIZ_SETTING_KEYS if k in module.quiz}
    try:
        quiz = quiz_authoring.publish_module_quiz(org.id, module.slug, module.title, settings,
                                                  module.questions)
    except quiz_services.QuizError as exc:
        raise CourseError(f"module {module.slug!r}: the quiz bank cannot be used: {exc}") from None
    version = ModuleVersion(
        organization_id=org.id, slug=module.slug,
        number=(latest.number + 1) if latest else 1,
        content_hash=module.content_hash, title=module.title, minutes=module.minutes,
        content=module.to_dict(), quiz_version_id=quiz.id,
        requires_retraining=requires_retraining,
    )
    db.session.add(version)
    db.session.flush()
    audit.record(org.id, "module.imported", actor=imported_by, subject=version,
                 slug=version.slug, number=version.number, sha256=version.content_hash,
                 requires_retraining=bool(requires_retraining))
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
    """The current version of each of the course's modules, in the course's order."""
    if not course.module_slugs:
        return []
    newest: dict[str, ModuleVersion] = {}
    for row in db.session.execute(
        select(ModuleVersion).where(ModuleVersion.organization_id == course.organization_id,
                                    ModuleVersion.slug.in_(course.module_slugs))
        .order_by(ModuleVersion.number.desc())
    ).scalars():
        newest.setdefault(row.slug, row)
    return [newest[slug] for slug in course.module_slugs if slug in newest]


def module_versions(organization_id: int, slug: str) -> list[ModuleVersion]:
    """Every imported version of a module, newest first."""
    return list(db.session.execute(
        select(ModuleVersion)
        .where(ModuleVersion.organization_id == organization_id, ModuleVersion.slug == slug)
        .order_by(ModuleVersion.number.desc())
    ).scalars())


def accepted_versions(version: ModuleVersion) -> list[ModuleVersion]:
    """``version`` and the older versions whose lessons and quiz still count for it.

    Going back from ``version``, older versions count until (and excluding those before) the
    newest version the trainer marked as requiring retraining.
    """
    return _accepted_in(module_versions(version.organization_id, version.slug), version)


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


def module_progress(enrollment: Enrollment, version: ModuleVersion) -> ModuleProgress:
    """Progress in one module, counting what was done on versions that still count."""
    return modules_progress(enrollment, [version])[0]


def _accepted_in(history: list[ModuleVersion], version: ModuleVersion) -> list[ModuleVersion]:
    """``accepted_versions`` over an already loaded history (newest first)."""
    accepted = []
    for candidate in history:
        if candidate.number > version.number:
            continue
        accepted.append(candidate)
        if candidate.requires_retraining:
            break
    return accepted or [version]


def modules_progress(enrollment: Enrollment, versions: list[ModuleVersion]) -> list[ModuleProgress]:
    """Progress in each of ``versions`` with a fixed handful of queries (not per module).

    Lessons read on any accepted version count if the lesson still exists; a quiz pass on any
    accepted version counts, but after a version that requires retraining only passes
    submitted since it was published (its quiz may be unchanged).
    """
    if not versions:
        return []
    slugs = {v.slug for v in versions}
    histories: dict[str, list[ModuleVersion]] = {slug: [] for slug in slugs}
    for row in db.session.execute(
        select(ModuleVersion).options(selectinload(ModuleVersion.quiz_version))
        .where(ModuleVersion.organization_id == enrollment.organization_id,
               ModuleVersion.slug.in_(slugs))
        .order_by(ModuleVersion.number.desc())
    ).scalars():
        histories[row.slug].append(row)
    reads: dict[int, set[str]] = {}
    for version_id, lesson_slug in db.session.execute(
        select(LessonProgress.module_version_id, LessonProgress.lesson_slug)
        .where(LessonProgress.enrollment_id == enrollment.id)
    ):
        reads.setdefault(version_id, set()).add(lesson_slug)
    accepted = {v.id: _accepted_in(histories[v.slug], v) for v in versions}
    quiz_ids = {a.quiz_version_id for group in accepted.values() for a in group
                if a.quiz_version_id is not None}
    passes: dict[int, list] = {}
    if quiz_ids:
        for quiz_id, submitted_at in db.session.execute(
            select(Attempt.quiz_version_id, Attempt.submitted_at)
            .where(Attempt.user_id == enrollment.user_id, Attempt.passed.is_(True),
                   Attempt.quiz_version_id.in_(quiz_ids))
        ):
            passes.setdefault(quiz_id, []).append(submitted_at)
    result = []
    for version in versions:
        group = accepted[version.id]
        lessons = {lesson.slug for lesson in version.module.lessons}
        read = set().union(*(reads.get(a.id, set()) for a in group)) & lessons
        if version.quiz_version is None or not version.quiz_version.questions:
            passed = True
        else:
            since = group[-1].created_at if group[-1].requires_retraining else None
            passed = any(
                since is None or (at is not None and at >= since)
                for a in group if a.quiz_version_id is not None
                for at in passes.get(a.quiz_version_id, [])
            )
        result.append(ModuleProgress(version, read, passed))
    return result


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

    @property
    def lessons_read_count(self) -> int:
        return len(self.read)

    @property
    def quiz_minutes(self) -> int:
        """The module's estimate not spent in lessons is the quiz's share (at least 1)."""
        if self.version.quiz_version is None or not self.version.quiz_version.questions:
            return 0
        lesson_minutes = sum(lesson.minutes for lesson in self.version.module.lessons)
        return max(self.version.minutes - lesson_minutes, 1)

    @property
    def minutes_left(self) -> int:
        unread = sum(lesson.minutes for lesson in self.version.module.lessons
                     if lesson.slug not in self.read)
        return unread + (0 if self.quiz_passed else self.quiz_minutes)


def progress(enrollment: Enrollment) -> list[ModuleProgress]:
    """Each module of the course: the current version, or for a completed enrolment the
    version it was completed with (learners who completed an older version keep it)."""
    if enrollment.completed_at is not None and enrollment.completed_versions:
        kept = []
        for slug in enrollment.course.module_slugs:
            version_id = enrollment.completed_versions.get(slug)
            version = db.session.get(ModuleVersion, version_id) if version_id else None
            version = version or current_module_version(enrollment.organization_id, slug)
            if version is not None:
                kept.append(version)
        return modules_progress(enrollment, kept)
    return modules_progress(enrollment, course_modules(enrollment.course))


@dataclass(frozen=True)
class PolicyStep:
    """The policy acknowledgment as a step of a course (absent when no policy is published)."""

    policy: PolicyVersion
    acknowledgment: PolicyAcknowledgment | None

    @property
    def done(self) -> bool:
        return self.acknowledgment is not None


@dataclass(frozen=True)
class CourseOverview:
    enrollment: Enrollment
    modules: list[ModuleProgress]
    policy: PolicyStep | None

    @property
    def steps_total(self) -> int:
        lessons = sum(m.lessons_total + (1 if m.quiz_minutes else 0) for m in self.modules)
        return lessons + (1 if self.policy else 0)

    @property
    def steps_done(self) -> int:
        done = sum(m.lessons_read_count + (1 if m.quiz_minutes and m.quiz_passed else 0)
                   for m in self.modules)
        return done + (1 if self.policy and self.policy.done else 0)

    @property
    def percent(self) -> int:
        if self.enrollment.completed_at is not None:
            return 100
        return round(100 * self.steps_done / self.steps_total) if self.steps_total else 0

    @property
    def minutes_left(self) -> int:
        if self.enrollment.completed_at is not None:
            return 0
        policy = 0
        if self.policy and not self.policy.done:
            policy = max(1, -(-self.policy.policy.min_read_seconds // 60))
        return sum(m.minutes_left for m in self.modules) + policy

    @property
    def overdue(self) -> bool:
        due = self.enrollment.due_at
        return self.enrollment.completed_at is None and due is not None and due < utcnow()

    @property
    def resume(self) -> tuple[str, ModuleProgress | None]:
        """Where the learner left off: ``("lesson"|"quiz", module)``, ``("policy", None)``
        or ``("done", None)``."""
        if self.enrollment.completed_at is None:
            for module in self.modules:
                if module.next_lesson is not None:
                    return "lesson", module
                if not module.quiz_passed:
                    return "quiz", module
            if self.policy is not None and not self.policy.done:
                return "policy", None
        return "done", None


def overview(enrollment: Enrollment) -> CourseOverview:
    return CourseOverview(enrollment, progress(enrollment), policy_step(enrollment.user))


def policy_step(user: User) -> PolicyStep | None:
    policy = current_policy(user.organization_id)
    if policy is None:
        return None
    return PolicyStep(policy, acknowledgment_of(user, policy))


def check_completion(enrollment: Enrollment) -> bool:
    """Complete the enrolment when every module's lessons are read, its quiz passed, and the
    current policy version (if the organisation published one) acknowledged."""
    if enrollment.completed_at is not None:
        return True
    modules = progress(enrollment)
    if not modules or not all(m.complete for m in modules):
        return False
    if current_policy(enrollment.organization_id) is not None \
            and current_acknowledgment(enrollment.user) is None:
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
    if not 0 <= min_read_seconds <= 3600:
        raise CourseError("the minimum reading time must be between 0 and 3600 seconds")
    if acknowledge_within_days is not None and not 1 <= acknowledge_within_days <= 365:
        raise CourseError("'acknowledge within' must be between 1 and 365 days (or empty)")
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


def acknowledgment_of(user: User, version: PolicyVersion) -> PolicyAcknowledgment | None:
    return db.session.execute(
        select(PolicyAcknowledgment).filter_by(user_id=user.id, policy_version_id=version.id)
    ).scalar_one_or_none()


def record_policy_opened(user: User, version: PolicyVersion) -> PolicyReading:
    """Note when ``user`` first opened ``version``: the minimum reading time runs from then."""
    if version.organization_id != user.organization_id:
        raise CourseError("a policy can only be read in its own organisation")
    reading = db.session.execute(
        select(PolicyReading).filter_by(user_id=user.id, policy_version_id=version.id)
    ).scalar_one_or_none()
    if reading is None:
        reading = PolicyReading(organization_id=user.organization_id, user_id=user.id,
                                policy_version_id=version.id, opened_at=utcnow())
        db.session.add(reading)
        db.session.flush()
    return reading


def seconds_until_acknowledgeable(user: User, version: PolicyVersion) -> int:
    """How long ``user`` must still read ``version`` before acknowledging it (0: now)."""
    if version.min_read_seconds <= 0:
        return 0
    reading = db.session.execute(
        select(PolicyReading).filter_by(user_id=user.id, policy_version_id=version.id)
    ).scalar_one_or_none()
    if reading is None:
        return version.min_read_seconds
    elapsed = (utcnow() - reading.opened_at).total_seconds()
    return max(0, int(version.min_read_seconds - elapsed + 0.999))


def acknowledge_policy(user: User, version: PolicyVersion, typed_name: str) -> PolicyAcknowledgment:
    """Acknowledge ``version`` with the typed full name; refused before the minimum reading
    time has passed since the user opened it. Completes enrolments that only waited for it."""
    if version.organization_id != user.organization_id:
        raise CourseError("a policy can only be acknowledged in its own organisation")
    if " ".join(typed_name.split()).casefold() != " ".join(user.name.split()).casefold():
        raise CourseError("type your full name exactly as it appears on your account")
    existing = acknowledgment_of(user, version)
    if existing is not None:
        return existing
    wait = seconds_until_acknowledgeable(user, version)
    if wait > 0:
        raise CourseError(
            f"please read the policy first: it takes at least {version.min_read_seconds} "
            f"seconds, and you can acknowledge it in {wait} more second{'s' if wait != 1 else ''}")
    ack = PolicyAcknowledgment(
        organization_id=user.organization_id, user_id=user.id, policy_version_id=version.id,
        text_sha256=version.text_sha256, typed_name=typed_name.strip(),
    )
    db.session.add(ack)
    db.session.flush()
    audit.record(user.organization_id, "policy.acknowledged", actor=user, subject=ack,
                 policy_version=version.number)
    if current_policy(user.organization_id).id == version.id:
        for enrollment in enrollments_of(user):
            if enrollment.completed_at is None:
                check_completion(enrollment)
    return ack


@dataclass(frozen=True)
class PolicyVersionReport:
    version: PolicyVersion
    acknowledgments: list[tuple[PolicyAcknowledgment, User]]
    outstanding: list[User]  # active users who have not acknowledged this version


def acknowledgment_report(organization_id: int) -> list[PolicyVersionReport]:
    """Who acknowledged which policy version (newest first); who still has to, per version."""
    versions = list(db.session.execute(
        select(PolicyVersion).where(PolicyVersion.organization_id == organization_id)
        .order_by(PolicyVersion.number.desc())
    ).scalars())
    users = list(db.session.execute(
        select(User).where(User.organization_id == organization_id, User.active.is_(True))
        .order_by(User.name)
    ).scalars())
    reports = []
    for version in versions:
        rows = [(ack, user) for ack, user in db.session.execute(
            select(PolicyAcknowledgment, User)
            .join(User, User.id == PolicyAcknowledgment.user_id)
            .where(PolicyAcknowledgment.policy_version_id == version.id)
            .order_by(PolicyAcknowledgment.acknowledged_at)
        )]
        done = {user.id for _, user in rows}
        reports.append(PolicyVersionReport(version, rows,
                                           [u for u in users if u.id not in done]))
    return reports
