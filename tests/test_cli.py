"""The ``cleared`` commands: demo seed, organisations, users, API keys, content."""

from __future__ import annotations

import hashlib

from sqlalchemy import func, select

from course.models import Enrollment, ModuleVersion
from lms_plugin.core.extensions import db
from lms_plugin.core.models import ApiKey, Organization, User

from .factories import FIXTURE_MODULES


def test_seed_demo_creates_the_demo_and_is_idempotent(app, runner):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "created learner@demo.test" in first.output
    second = runner.invoke(args=["seed-demo"])
    assert second.exit_code == 0 and "created" not in second.output.split("Demo accounts")[0]
    with app.app_context():
        org = db.session.execute(select(Organization).filter_by(slug="demo")).scalar_one()
        emails = set(db.session.execute(select(User.email).filter_by(organization_id=org.id))
                     .scalars())
        assert emails == {"learner@demo.test", "trainer@demo.test", "hr@demo.test",
                          "admin@demo.test"}
        assert db.session.execute(select(func.count(Enrollment.id))).scalar() == 1
        learner = db.session.execute(select(User).filter_by(email="learner@demo.test")).scalar_one()
        assert learner.check_password("demo-password")


def test_demo_learner_can_sign_in_after_seeding(runner, client, auth):
    runner.invoke(args=["seed-demo"])
    assert auth.login("learner@demo.test", "demo-password").status_code == 302
    assert "Social media onboarding" in client.get("/learn/").text


def test_create_org_and_user_and_explain_mistakes(app, runner):
    assert runner.invoke(args=["create-org", "acme", "Acme Ltd"]).exit_code == 0
    duplicate = runner.invoke(args=["create-org", "acme", "Acme again"])
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    made = runner.invoke(args=["create-user", "--org", "acme", "--email", "Kim@Acme.test",
                               "--name", "Kim Lee", "--role", "hr", "--role", "learner"],
                         input="long-password\nlong-password\n")
    assert made.exit_code == 0, made.output
    missing = runner.invoke(args=["create-user", "--org", "nope", "--email", "a@b.test",
                                  "--name", "A"], input="long-password\nlong-password\n")
    assert missing.exit_code != 0 and "does not exist" in missing.output
    with app.app_context():
        user = db.session.execute(select(User).filter_by(email="kim@acme.test")).scalar_one()
        assert {str(r) for r in user.roles} == {"hr", "learner"}


def test_api_key_is_printed_once_and_stored_hashed(app, runner):
    runner.invoke(args=["create-org", "acme", "Acme Ltd"])
    result = runner.invoke(args=["api-key", "create", "--org", "acme", "--name", "Amplify"])
    assert result.exit_code == 0, result.output
    key = result.output.strip().splitlines()[0]
    assert key.startswith("ctp_")
    with app.app_context():
        row = db.session.execute(select(ApiKey)).scalar_one()
        assert row.secret_hash == hashlib.sha256(key.encode()).hexdigest()
        assert key.split("_", 2)[2] not in row.secret_hash
        assert row.scopes == ["rights:read"]


def test_content_validate_reports_problems_and_import_is_idempotent(app, runner):
    bad = runner.invoke(args=["content", "validate", str(FIXTURE_MODULES / "broken-module")])
    assert bad.exit_code != 0 and "broken-module/quiz.yaml:6" in bad.output
    good = runner.invoke(args=["content", "validate", str(FIXTURE_MODULES / "tiny-module")])
    assert good.exit_code == 0 and "2 lessons, 3 questions" in good.output
    runner.invoke(args=["create-org", "acme", "Acme Ltd"])
    path = str(FIXTURE_MODULES / "tiny-module")
    first = runner.invoke(args=["content", "import", path, "--org", "acme"])
    again = runner.invoke(args=["content", "import", path, "--org", "acme"])
    assert "imported as version 1" in first.output and "unchanged" in again.output
    with app.app_context():
        assert db.session.execute(select(func.count(ModuleVersion.id))).scalar() == 1
