"""``cleared hr ...``: apply enrolment rules, queue reminders, refresh the HR counts."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from lms_plugin.core.extensions import db
from lms_plugin.core.models import Organization

from . import reminders, rights, roster, rules

hr = AppGroup("hr", help="HR: roster import, enrolment rules, reminders, dashboard counts.")


def _organizations(slug: str | None) -> list[Organization]:
    query = select(Organization).order_by(Organization.id)
    if slug:
        query = query.where(Organization.slug == slug)
    found = list(db.session.execute(query).scalars())
    if slug and not found:
        raise click.ClickException(f"organisation {slug!r} does not exist")
    return found


@hr.command("import-roster")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--org", "org_slug", required=True, help="Organisation slug.")
@click.option("--deactivate-missing", is_flag=True,
              help="The file is the complete roster: deactivate employees not in it.")
@click.option("--dry-run", is_flag=True, help="Only check and show what would change.")
def import_roster_command(path: Path, org_slug: str, deactivate_missing: bool,
                          dry_run: bool) -> None:
    """Import employees from a CSV file (checked first; nothing is written if a row is bad)."""
    org = _organizations(org_slug)[0]
    records, errors, notes, first = roster.read_csv(path.read_bytes())
    plan = roster.plan(org.id, records, first_row=first, deactivate_missing=deactivate_missing,
                       errors=errors, notes=notes)
    for note in plan.notes:
        click.echo(f"note: {note}")
    if not plan.ok:
        for error in plan.errors:
            click.echo(f"row {error.row}, {error.column}: {error.message}", err=True)
        raise click.ClickException(f"{len(plan.errors)} problem(s); nothing was imported")
    click.echo(", ".join(f"{k} {v}" for k, v in plan.counts().items()))
    if dry_run:
        return
    result = roster.apply(org, records, first_row=first, deactivate_missing=deactivate_missing,
                          source="cli")
    enrolled = rules.apply_rules(org.id, result.user_ids)
    db.session.commit()
    click.echo(f"imported; {len(enrolled)} new enrolment(s)")


@hr.command("apply-rules")
@click.option("--org", "org_slug", help="Only this organisation (default: all).")
def apply_rules_command(org_slug: str | None) -> None:
    """Enrol everyone an enrolment rule matches and who is not enrolled yet."""
    for org in _organizations(org_slug):
        created = rules.apply_rules(org.id)
        db.session.commit()
        click.echo(f"{org.slug}: {len(created)} new enrolment(s)")


@hr.command("sweep")
@click.option("--org", "org_slug", help="Only this organisation (default: all).")
def sweep_command(org_slug: str | None) -> None:
    """Daily: apply rules, queue due reminders, refresh posting-rights counts and snapshot."""
    for org in _organizations(org_slug):
        created = rules.apply_rules(org.id)
        counts = reminders.schedule_due(org.id)
        refreshed = rights.refresh(org.id)
        rights.take_snapshot(org.id)
        db.session.commit()
        queued = ", ".join(f"{k} {v}" for k, v in counts.as_dict().items())
        click.echo(f"{org.slug}: {len(created)} enrolled; reminders queued: {queued}; "
                   f"{refreshed} posting-rights answers refreshed")


def init_app(app: Flask) -> None:
    app.cli.add_command(hr)

    @app.cli.command("reminders")
    @click.option("--org", "org_slug", help="Only this organisation (default: all).")
    def reminders_command(org_slug: str | None) -> None:
        """Queue the reminder e-mail that is due now (the worker sends them)."""
        for org in _organizations(org_slug):
            counts = reminders.schedule_due(org.id)
            db.session.commit()
            click.echo(f"{org.slug}: " + ", ".join(f"{k} {v}"
                                                   for k, v in counts.as_dict().items()))
