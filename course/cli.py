"""``cleared content validate|import``: check and load module folders."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from content_modules import LIBRARY, discover, validate
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Organization

from . import services

content = AppGroup("content", help="Validate and import training modules (folders).")


@content.command("validate")
@click.argument("path", required=False, type=click.Path(path_type=Path))
def validate_command(path: Path | None) -> None:
    """Check every module folder under PATH (default: the shipped library)."""
    folders = discover(path or LIBRARY)
    if not folders:
        raise click.ClickException(f"no module.yaml found under {path or LIBRARY}")
    failed = 0
    for folder in folders:
        module, problems = validate(folder)
        if problems:
            failed += 1
            click.echo(f"✗ {folder.name}: {len(problems)} problem(s)")
            for problem in problems:
                click.echo(f"  {problem}")
        else:
            click.echo(f"✓ {folder.name}: {module.title} ({len(module.lessons)} lessons, "
                       f"{len(module.questions)} questions)")
    if failed:
        raise click.ClickException(f"{failed} of {len(folders)} module(s) have problems")


@content.command("import")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@click.option("--org", "org_slug", required=True, help="Organisation slug to import into.")
@click.option("--requires-retraining", is_flag=True,
              help="Learners certified on an older version must retrain.")
def import_command(path: Path | None, org_slug: str, requires_retraining: bool) -> None:
    """Import module folders under PATH (default: the shipped library). Idempotent."""
    org = db.session.execute(select(Organization).filter_by(slug=org_slug)).scalar_one_or_none()
    if org is None:
        raise click.ClickException(f"organisation {org_slug!r} does not exist: create-org first")
    folders = discover(path or LIBRARY)
    checked = [(folder, *validate(folder)) for folder in folders]
    bad = [(folder, problems) for folder, _, problems in checked if problems]
    if bad:
        for folder, problems in bad:
            click.echo(f"✗ {folder.name}:")
            for problem in problems:
                click.echo(f"  {problem}")
        raise click.ClickException("nothing imported: fix the problems above first")
    for folder, module, _ in checked:
        version, created = services.import_module(org, module, requires_retraining)
        state = f"imported as version {version.number}" if created else "unchanged"
        click.echo(f"{module.slug}: {state}")
    db.session.commit()


def init_app(app: Flask) -> None:
    app.cli.add_command(content)
