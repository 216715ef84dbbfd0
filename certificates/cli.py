"""``cleared certificates sweep``: the periodic pass (retraining deadlines, re-enrolment)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from lms_plugin.core.extensions import db

from . import services

certificates_cli = AppGroup("certificates", help="Certificate lifecycle commands.")


@certificates_cli.command("sweep")
def sweep_command() -> None:
    """Set retraining deadlines and re-enrol learners whose certificates expire soon."""
    report = services.sweep()
    db.session.commit()
    for line in report.lines():
        click.echo(line)


def init_app(app: Flask) -> None:
    app.cli.add_command(certificates_cli)
