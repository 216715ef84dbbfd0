"""Factories for test data, built with the same services the application uses."""

from __future__ import annotations

import functools
import itertools
from pathlib import Path

from content_modules import load_module
from course import services as course_services
from lms_plugin.core import accounts
from lms_plugin.core.api import create_api_key
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Role

FIXTURE_MODULES = Path(__file__).parent / "fixtures" / "modules"
PASSWORD = "correct-horse-battery"
_counter = itertools.count(1)


def _detached(method):
    """Run in an app context of its own, commit, and hand back a detached, loaded row.

    Tests do not hold an app context across requests: Flask would reuse it, and with it the
    session and ``g`` (the signed-in user), which would hide real bugs.
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self.app.app_context():
            result = method(self, *args, **kwargs)
            db.session.commit()
            if isinstance(result, db.Model):
                db.session.refresh(result)
                db.session.expunge(result)
            return result

    return wrapper


class Factory:
    def __init__(self, app):
        self.app = app

    @_detached
    def org(self, slug: str | None = None, name: str | None = None, **settings):
        n = next(_counter)
        org = accounts.create_organization(slug or f"org-{n}", name or f"Organisation {n}")
        org.settings = settings
        db.session.commit()
        return org

    @_detached
    def user(self, org, email: str | None = None, name: str = "Robin Example",
             roles=(Role.LEARNER,), password: str | None = PASSWORD, **fields):
        email = email or f"person{next(_counter)}@example.test"
        user = accounts.create_user(org, email, name, password=password, roles=tuple(roles))
        for key, value in fields.items():
            setattr(user, key, value)
        db.session.commit()
        return user

    @_detached
    def module(self, org, folder: str = "tiny-module"):
        version, _ = course_services.import_module(org, load_module(FIXTURE_MODULES / folder))
        db.session.commit()
        return version

    @_detached
    def course(self, org, modules=("tiny-module",), slug: str = "onboarding",
               required_for_posting: bool = True, **kwargs):
        for folder in modules:
            course_services.import_module(org, load_module(FIXTURE_MODULES / folder))
        slugs = [load_module(FIXTURE_MODULES / folder).slug for folder in modules]
        course = course_services.create_course(org, slug, kwargs.pop("title", "Onboarding"),
                                               slugs, required_for_posting=required_for_posting,
                                               **kwargs)
        db.session.commit()
        return course

    @_detached
    def enrollment(self, user, course):
        enrollment = course_services.enroll(user, course)
        db.session.commit()
        return enrollment

    @_detached
    def api_key(self, org, scopes=None):
        _, plaintext = create_api_key(org, "test platform", scopes)
        db.session.commit()
        return plaintext

    # -- issue 3: policy and lesson player ----------------------------------------------------

    @_detached
    def policy(self, org, text: str = "Be kind. Keep secrets. Say you work here.",
               title: str = "Social media policy", **kwargs):
        from lms_plugin.core.models import Organization

        version = course_services.publish_policy(db.session.get(Organization, org.id), title,
                                                 text, **kwargs)
        db.session.commit()
        return version

    @_detached
    def acknowledgment(self, user, policy):
        from course.models import PolicyVersion
        from lms_plugin.core.models import User

        row = course_services.acknowledge_policy(db.session.get(User, user.id),
                                                 db.session.get(PolicyVersion, policy.id),
                                                 user.name)
        db.session.commit()
        return row

    @_detached
    def quiz(self, org, slug: str = "sample-quiz", bank=None, **settings):
        """A published quiz version with a question of every type (tests/quiz_samples.py)."""
        from quizzes import services as quiz_services

        from .quiz_samples import QUESTIONS

        quiz = quiz_services.publish_version(
            org.id, slug, settings.pop("title", "Sample quiz"),
            {"pass_mark": 80, "attempts": 0, **settings}, list(bank or QUESTIONS))
        db.session.commit()
        return quiz

    # -- certificates (issue 5) ----------------------------------------------------------

    @_detached
    def completion(self, user, course):
        """Enrol, read every lesson and pass every quiz through the services; returns the
        completed enrolment (the certificate is issued by the completion signal)."""
        from course.models import Enrollment
        from lms_plugin.core.models import User
        from quizzes import services as quiz_services

        user = db.session.get(User, user.id)
        enrollment = course_services.enroll(user, db.session.merge(course))
        for version in course_services.course_modules(enrollment.course):
            quiz = version.quiz_version
            passed = course_services.module_progress(enrollment, version).quiz_passed
            if quiz is not None and quiz.questions and not passed:
                attempt = quiz_services.start_attempt(user, quiz)
                bank = quiz.questions_by_id()
                quiz_services.submit_attempt(
                    attempt, {qid: _correct_answer(bank[qid]) for qid in attempt.question_ids})
            for lesson in version.module.lessons:
                course_services.mark_lesson_read(enrollment, version, lesson.slug)
        db.session.commit()
        return db.session.get(Enrollment, enrollment.id)

    # -- advocacy (issue 6) -----------------------------------------------------------------

    @_detached
    def certified_for_posting(self, user, course, *, issued_at=None):
        """Enrol, complete and certify through the real services (PDF included)."""
        from certificates import services as certificate_services
        from course.models import Enrollment
        from lms_plugin.core.timeutil import utcnow

        enrollment = course_services.open_enrollment(user, course) or \
            course_services.enroll(user, course)
        enrollment = db.session.get(Enrollment, enrollment.id)
        enrollment.completed_at = issued_at or utcnow()
        db.session.flush()
        certificate = certificate_services.issue_certificate(enrollment)
        db.session.commit()
        return certificate


    @_detached
    def published_policy(self, org, title: str = "Social media policy",
                         text: str = "Be kind. Disclose."):
        version = course_services.publish_policy(org, title, text)
        db.session.commit()
        return version


    @_detached
    def policy_acknowledged(self, user, policy):
        from course.models import PolicyVersion
        from lms_plugin.core.models import User

        user_row = db.session.get(User, user.id)
        ack = course_services.acknowledge_policy(user_row, db.session.get(PolicyVersion, policy.id),
                                                 user_row.name)
        db.session.commit()
        return ack

    # -- from issue-7-lms ---------------------------------------------------------------------

    @_detached
    def lti_platform(self, org, platform, client_id: str = "ctp-client-1",
                     deployment_id: str = "deployment-1", link_by_email: bool = False):
        """Register an in-test LTI platform (tests/lti_platform.py) for ``org``."""
        from lms_plugin.lti import services as lti_services

        registered, _ = lti_services.register_platform(
            org, issuer=platform.issuer, client_id=client_id,
            auth_login_url=platform.auth_login_url, auth_token_url=platform.token_url,
            key_set_url=platform.jwks_url, deployment_id=deployment_id,
            link_by_email=link_by_email)
        db.session.commit()
        return registered

    # -- from issue-8-hr ----------------------------------------------------------------------

    @_detached
    def roster(self, org, records: list[dict], deactivate_missing: bool = False):
        """Import employees through the roster service (and the enrolment rules)."""
        from hr import roster, rules
        from lms_plugin.core.models import Organization

        organization = db.session.get(Organization, org.id)
        result = roster.apply(organization, records, deactivate_missing=deactivate_missing)
        rules.apply_rules(org.id, result.user_ids)
        db.session.commit()
        return result


    @_detached
    def rule(self, org, course, kind: str = "new_hire", value: str = "", due_days: int = 14):
        from course.models import Course
        from hr import rules

        return rules.add_rule(org.id, db.session.get(Course, course.id), kind, value=value,
                              due_days=due_days)


    @_detached
    def certificate(self, user, course, *, issued_at=None, expires_at=None):
        """A completed enrolment with its certificate, issued by the real service."""
        from certificates.services import issue_certificate
        from course.models import Course
        from lms_plugin.core.models import User
        from lms_plugin.core.timeutil import utcnow

        enrollment = course_services.enroll(db.session.get(User, user.id),
                                            db.session.get(Course, course.id))
        enrollment.completed_at = issued_at or utcnow()
        db.session.flush()
        certificate = issue_certificate(enrollment)
        if expires_at is not None:
            certificate.expires_at = expires_at
        return certificate


def _correct_answer(question: dict) -> list[str]:
    if question["type"] == "true_false":
        return ["0" if question["answer"] else "1"]
    items = question.get("options") or question.get("segments")
    return [str(i) for i, item in enumerate(items) if item.get("correct") or item.get("problem")]
