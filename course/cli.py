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
    if not folders:
        raise click.ClickException(f"no module.yaml found under {path or LIBRARY}: "
                                   "give a module folder or a folder of module folders")
    checked = [(folder, *validate(folder)) for folder in folders]
    bad = [(folder, problems) for folder, _, problems in checked if problems]
    if bad:
        for folder, problems in bad:
            click.echo(f"✗ {folder.name}:")
            for problem in problems:
                click.echo(f"  {problem}")
        raise click.ClickException("nothing imported: fix the problems above first")
    for _folder, module, _ in checked:
        try:
            version, created = services.import_module(org, module, requires_retraining)
        except services.CourseError as exc:
            db.session.rollback()
            raise click.ClickException(f"nothing imported: {exc}") from None
        if created:
            retrain = ("learners must retrain" if version.requires_retraining
                       else "earlier completions still count")
            state = f"imported as version {version.number} ({retrain})"
        else:
            state = f"unchanged (version {version.number})"
        click.echo(f"{module.slug}: {state}")
    db.session.commit()


@content.command("versions")
@click.argument("slug")
@click.option("--org", "org_slug", required=True, help="Organisation slug.")
def versions_command(slug: str, org_slug: str) -> None:
    """List the imported versions of module SLUG, newest first."""
    org = db.session.execute(select(Organization).filter_by(slug=org_slug)).scalar_one_or_none()
    if org is None:
        raise click.ClickException(f"organisation {org_slug!r} does not exist: create-org first")
    versions = services.module_versions(org.id, slug)
    if not versions:
        raise click.ClickException(f"module {slug!r} is not imported into {org_slug}")
    for version in versions:
        retrain = "requires retraining" if version.requires_retraining else "no retraining"
        click.echo(f"version {version.number}  {version.created_at:%Y-%m-%d %H:%M}  "
                   f"{version.content_hash[:12]}  {retrain}  {version.title}")


def init_app(app: Flask) -> None:
    app.cli.add_command(content)
