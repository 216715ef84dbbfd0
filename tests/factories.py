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

    # -- HR (issue 8) -------------------------------------------------------------------

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
