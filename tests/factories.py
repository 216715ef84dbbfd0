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
