"""The application shell: factory, configuration, health checks and friendly error pages."""

from __future__ import annotations

import os
import stat

import pytest

from lms_plugin.app import create_app
from lms_plugin.config import ConfigurationError, normalize_database_url
from lms_plugin.core.models import Role


def test_healthz_answers_without_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json == {"status": "ok"}


def test_readyz_checks_the_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200 and response.json["database"] == "ok"


def test_readyz_reports_an_unreachable_database(tmp_path):
    app = create_app({"TESTING": True, "SECRET_KEY": "x" * 32,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/missing/dir/db.sqlite3"})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["database"] == "unreachable"


def test_secret_key_is_generated_once_and_kept_private_in_the_instance_folder(tmp_path,
                                                                              monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    config = {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/a.sqlite3"}
    monkeypatch.setenv("CLEARED_INSTANCE_PATH", str(tmp_path / "instance"))
    first = create_app(dict(config))
    second = create_app(dict(config))
    key_file = tmp_path / "instance" / "secret_key"
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] == key_file.read_text()
    assert len(first.config["SECRET_KEY"]) >= 64
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600


def test_production_refuses_to_start_without_a_secret_key(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("CLEARED_ENV", "production")
    with pytest.raises(ConfigurationError, match="SECRET_KEY is not set"):
        create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/p.sqlite3"})


def test_database_url_from_hosting_providers_uses_psycopg3():
    assert normalize_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_database_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_database_url("sqlite:///x") == "sqlite:///x"


def test_sqlite_runs_with_foreign_keys_and_wal(app):
    from sqlalchemy import text

    from lms_plugin.core.extensions import db

    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("SQLite pragmas apply to SQLite only; this run uses PostgreSQL")
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert "We could not find that page" in response.text
    assert "Traceback" not in response.text


def test_unknown_api_path_is_json(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_unexpected_error_is_a_friendly_500_not_a_stack_trace(app, client):
    @app.get("/boom")
    def boom():
        raise RuntimeError("kaboom")

    response = client.get("/boom")
    assert response.status_code == 500
    assert "Something went wrong on our side" in response.text
    assert "kaboom" not in response.text and "Traceback" not in response.text


def test_pages_have_landmarks_a_skip_link_and_local_css(client):
    page = client.get("/login").text
    assert 'href="#main"' in page and "Skip to main content" in page
    assert '<main id="main"' in page and "<nav" in page
    assert '<label class="form-label" for="email">' in page
    assert "cdn.jsdelivr.net" not in page and "/bootstrap/static/" in page
    css = client.get("/bootstrap/static/css/bootstrap.min.css")
    css.close()
    assert css.status_code == 200


def test_role_check_refuses_other_roles_with_a_friendly_403(app, client, auth, make):
    from lms_plugin.core.accounts import role_required

    @app.get("/hr-only")
    @role_required(Role.HR)
    def hr_only():
        return "hr page"

    org = make.org()
    make.user(org, "learner@example.test")
    make.user(org, "hr@example.test", roles=(Role.HR,))
    make.user(org, "admin@example.test", roles=(Role.ADMIN,))

    assert client.get("/hr-only").status_code == 302  # not signed in: to the login page
    auth.login("learner@example.test")
    refused = client.get("/hr-only")
    assert refused.status_code == 403 and "You cannot open this page" in refused.text
    auth.logout()
    auth.login("hr@example.test")
    assert client.get("/hr-only").text == "hr page"
    auth.logout()
    auth.login("admin@example.test")
    assert client.get("/hr-only").text == "hr page"  # admins hold every role


def test_navigation_shows_the_entries_of_the_signed_in_users_roles(client, auth, make):
    org = make.org()
    make.user(org, "learner@example.test")
    auth.login("learner@example.test")
    page = client.get("/learn/").text
    assert "My training" in page and "My certificates" in page
