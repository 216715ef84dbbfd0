"""``create_app``: one screen that composes every package in the order a learner meets them."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from flask import Flask, redirect, url_for
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.engine import Engine

import advocacy
import certificates
import course
import hr
import quizzes
from lms_plugin import cli, completions, lti
from lms_plugin.config import configure
from lms_plugin.core import accounts, api, web
from lms_plugin.core.extensions import csrf, db, limiter, migrate

MIGRATIONS = str(Path(__file__).parent / "migrations")
MODEL_MODULES = ("lms_plugin.core.models", "lms_plugin.core.outbox", "quizzes.models", "course.models",
                 "certificates.models", "advocacy.models", "hr.models", "lms_plugin.lti.models")


def load_models() -> None:
    """Import every package's models so that the metadata is complete (migrations need it)."""
    import importlib

    for name in MODEL_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=15000")
        cursor.close()


def create_app(config: dict | type | None = None) -> Flask:
    # CLEARED_INSTANCE_PATH moves the instance folder (database, generated secret key).
    app = Flask("lms_plugin", instance_relative_config=True,
                instance_path=os.environ.get("CLEARED_INSTANCE_PATH") or None)
    configure(app, config)

    # The foundation.
    load_models()
    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS, render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)
    accounts.init_app(app)
    web.init_app(app)
    api.init_app(app)

    # The flow, in the order a learner meets it (see docs/architecture.md):
    quizzes.init_app(app)  # attempts graded on the server  -> quizzes.attempt_graded
    course.init_app(app)  # lessons read + quiz passed    -> course.enrollment_completed
    certificates.init_app(app)  # completion issues the PDF -> certificates.certificate_issued
    advocacy.init_app(app)  # certificates clear the employee to post
    hr.init_app(app)  # HR watches it all: roster, rules, reminders, dashboard, reports

    lti.init_app(app)  # the LMS edge: launches in, grades out through the outbox
    completions.init_app(app)  # completions reported by the Open edX XBlock

    cli.init_app(app)

    @app.get("/")
    def home():
        if not current_user.is_authenticated:
            return redirect(url_for("accounts.login"))
        return redirect(url_for("course.overview"))

    return app
