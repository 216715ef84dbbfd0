"""Fixtures in the flaskr style: ``app``, ``client``, ``runner``, ``auth``, and factories.

The database is SQLite in a temporary folder by default; set ``TEST_DATABASE_URL`` to a
PostgreSQL URL to run the same suite there (CI does both).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import text

from lms_plugin.app import create_app
from lms_plugin.config import TestConfig, normalize_database_url
from lms_plugin.core.extensions import db

from .factories import Factory

FIXTURES = Path(__file__).parent / "fixtures"
PG_URL = os.environ.get("TEST_DATABASE_URL")
_pg_ready = {"schema": False}


def database_url(tmp_path: Path) -> str:
    return normalize_database_url(PG_URL) if PG_URL else f"sqlite:///{tmp_path / 'test.sqlite3'}"


def reset_postgres() -> None:
    """Drop everything once per session, then empty the tables after each test."""
    if not _pg_ready["schema"]:
        with db.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        db.create_all()
        _pg_ready["schema"] = True


def truncate_postgres() -> None:
    tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    with db.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def app_config(tmp_path):
    return {
        key: getattr(TestConfig, key) for key in dir(TestConfig) if key.isupper()
    } | {"SQLALCHEMY_DATABASE_URI": database_url(tmp_path)}


@pytest.fixture
def app(app_config):
    app = create_app(app_config)
    with app.app_context():
        if PG_URL:
            reset_postgres()
        else:
            db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        if PG_URL:
            truncate_postgres()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make(app):
    return Factory(app)


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "the page has no CSRF token"
    return match.group(1) or match.group(2)


class AuthActions:
    def __init__(self, client):
        self._client = client

    def login(self, email: str, password: str = "correct-horse-battery"):
        page = self._client.get("/login")
        return self._client.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": csrf_from(page.text)},
        )

    def logout(self):
        page = self._client.get("/learn/")
        return self._client.post("/logout", data={"csrf_token": csrf_from(page.text)})


@pytest.fixture
def auth(client):
    return AuthActions(client)


def submit_form(client, page_url: str, action_url: str, data: dict | None = None, **kwargs):
    """Open the page that holds a form, then post to its action with the page's CSRF token."""
    page = client.get(page_url)
    assert page.status_code == 200, page.status_code
    payload = dict(data or {})
    payload["csrf_token"] = csrf_from(page.text)
    return client.post(action_url, data=payload, **kwargs)


# -- the browser ------------------------------------------------------------------------------
# Playwright cannot download its own browser here, so the system Chromium is used. One
# Playwright instance serves the whole session (a second sync instance cannot start beside it).
# Without Chromium the browser tests are skipped with a plain reason, except in CI (CI=true),
# where a missing browser is a failure: CI installs it.

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]


def chromium_path() -> str | None:
    for candidate in (os.environ.get("CHROMIUM_PATH"), "/usr/bin/chromium",
                      shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if path is None:
        message = ("Chromium is not installed, so the browser tests cannot run: "
                   "install it with 'apt-get install chromium' (CI does).")
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30000)
    yield page
    context.close()
