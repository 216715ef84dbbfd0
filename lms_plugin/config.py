"""Configuration from environment variables, with a ``TestConfig`` for the test suite."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from flask import Flask

ENV_SETTINGS = {
    # variable: (config key, converter)
    "SECRET_KEY": ("SECRET_KEY", str),
    "DATABASE_URL": ("SQLALCHEMY_DATABASE_URI", str),
    "PUBLIC_BASE_URL": ("PUBLIC_BASE_URL", str),
    "CLEARED_ENV": ("ENV_NAME", str),
    "SESSION_COOKIE_SECURE": ("SESSION_COOKIE_SECURE", lambda v: v.lower() in ("1", "true")),
    "API_KEY_CACHE_SECONDS": ("API_KEY_CACHE_SECONDS", float),
    "RIGHTS_CACHE_SECONDS": ("RIGHTS_CACHE_SECONDS", float),
}


class ConfigurationError(RuntimeError):
    pass


def normalize_database_url(url: str) -> str:
    """Accept the URLs hosting providers hand out and use psycopg 3 for PostgreSQL."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _instance_secret_key(app: Flask) -> str:
    """A key generated once and kept in the instance folder, readable by its owner only."""
    path = Path(app.instance_path) / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def configure(app: Flask, overrides: dict | type | None) -> None:
    app.config.from_mapping(
        ENV_NAME="development",
        SQLALCHEMY_DATABASE_URI=None,
        PUBLIC_BASE_URL="http://127.0.0.1:5000",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
        BOOTSTRAP_SERVE_LOCAL=True,
        DEMO_PASSWORD="demo-password",
    )
    for variable, (key, convert) in ENV_SETTINGS.items():
        if os.environ.get(variable):
            app.config[key] = convert(os.environ[variable])
    if isinstance(overrides, dict):
        app.config.from_mapping(overrides)
    elif overrides is not None:
        app.config.from_object(overrides)

    if not app.config.get("SECRET_KEY"):
        if app.config["ENV_NAME"] == "production":
            raise ConfigurationError(
                "SECRET_KEY is not set. In production set the SECRET_KEY environment "
                "variable to a long random value (for example: python -c "
                "'import secrets; print(secrets.token_hex(32))')."
            )
        app.config["SECRET_KEY"] = _instance_secret_key(app)

    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        db_path = Path(app.instance_path) / "cleared.sqlite3"
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{db_path}"
    app.config["SQLALCHEMY_DATABASE_URI"] = normalize_database_url(
        app.config["SQLALCHEMY_DATABASE_URI"]
    )
    app.config["PUBLIC_BASE_URL"] = app.config["PUBLIC_BASE_URL"].rstrip("/")


class TestConfig:
    TESTING = True
    ENV_NAME = "test"
    # A fresh random key per test run: never a constant in the code.
    SECRET_KEY = secrets.token_hex(32)
    PUBLIC_BASE_URL = "http://localhost"
    WTF_CSRF_ENABLED = True
    RATELIMIT_ENABLED = False  # the rate-limit tests switch it on
