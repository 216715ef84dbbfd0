"""The ``cleared`` command: the Flask CLI with the application's own commands."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup
from sqlalchemy import select

from lms_plugin.core import accounts
from lms_plugin.core.api import Scope, create_api_key
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Organization, Role

DEMO_ORG = "demo"
DEMO_USERS = [
    ("learner@demo.test", "Lee Learner", (Role.LEARNER,)),
    ("trainer@demo.test", "Tara Trainer", (Role.TRAINER,)),
    ("hr@demo.test", "Harper HR", (Role.HR,)),
    ("admin@demo.test", "Ada Admin", (Role.ADMIN,)),
]
ONBOARDING = "onboarding"


def _org(slug: str) -> Organization:
    org = db.session.execute(select(Organization).filter_by(slug=slug)).scalar_one_or_none()
    if org is None:
        raise click.ClickException(f"organisation {slug!r} does not exist: create it with "
                                   f"'cleared create-org {slug} \"Name\"'")
    return org


def seed_demo() -> list[str]:
    """Create (or bring up to date) the demo organisation. Safe to run again."""
    from content_modules import LIBRARY, discover, validate
    from course import services as course_services

    lines = []
    org = db.session.execute(select(Organization).filter_by(slug=DEMO_ORG)).scalar_one_or_none()
    if org is None:
        org = accounts.create_organization(DEMO_ORG, "Northwind (demo)")
        org.settings = {"recertification_months": 12}
        lines.append("created organisation demo")
    password = current_app.config["DEMO_PASSWORD"]
    users = {}
    for email, name, roles in DEMO_USERS:
        user = accounts.find_user(org.id, email)
        if user is None:
            user = accounts.create_user(org, email, name, password=password, roles=roles)
            lines.append(f"created {email}")
        users[email] = user
    slugs = []
    for folder in discover(LIBRARY):
        module, problems = validate(folder)
        if problems:
            lines.append(f"skipped {folder.name}: {problems[0]}")
            continue
        version, created = course_services.import_module(org, module)
        slugs.append(module.slug)
        if created:
            lines.append(f"imported {module.slug} (version {version.number})")
    if course_services.current_policy(org.id) is None:
        text = (Path(__file__).parent / "demo" / "policy.md").read_text(encoding="utf-8")
        course_services.publish_policy(org, "Northwind social media policy", text,
                                       min_read_seconds=20, acknowledge_within_days=14)
        lines.append("published the demo social media policy")
    if slugs:
        course = course_services.create_course(
            org, ONBOARDING, "Social media onboarding", slugs,
            required_for_posting=True, due_days=14)
        course_services.enroll(users["learner@demo.test"], course)
    db.session.commit()
    return lines or ["demo is up to date"]


def init_app(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo_command() -> None:
        """Create the demo organisation, its users and course (idempotent)."""
        for line in seed_demo():
            click.echo(line)
        click.echo("Demo accounts (demo only): learner@demo.test, trainer@demo.test, "
                   "hr@demo.test, admin@demo.test; password: demo-password")

    @app.cli.command("create-org")
    @click.argument("slug")
    @click.argument("name")
    def create_org_command(slug: str, name: str) -> None:
        """Create an organisation (tenant)."""
        try:
            org = accounts.create_organization(slug, name)
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        db.session.commit()
        click.echo(f"created organisation {org.slug}")

    @app.cli.command("create-user")
    @click.option("--org", "org_slug", required=True, help="Organisation slug.")
    @click.option("--email", required=True)
    @click.option("--name", required=True)
    @click.option("--role", "roles", multiple=True, default=["learner"],
                  type=click.Choice([r.value for r in Role]), help="Repeat for several roles.")
    @click.password_option(prompt="Password (empty for LTI-only accounts)", default="",
                           required=False)
    def create_user_command(org_slug, email, name, roles, password) -> None:
        """Create a user in an organisation."""
        org = _org(org_slug)
        try:
            user = accounts.create_user(org, email, name, password=password or None,
                                        roles=tuple(roles))
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from None
        db.session.commit()
        click.echo(f"created {user.email} in {org.slug} ({', '.join(sorted(roles))})")

    api_key = AppGroup("api-key", help="Manage organisation API keys.")

    @api_key.command("create")
    @click.option("--org", "org_slug", required=True)
    @click.option("--name", required=True, help="Which system will use the key.")
    @click.option("--scope", "scopes", multiple=True, default=[Scope.RIGHTS_READ],
                  type=click.Choice(list(Scope.ALL)), help="Repeat for several scopes.")
    def create_key_command(org_slug, name, scopes) -> None:
        """Create an API key and print it once (only its hash is stored)."""
        org = _org(org_slug)
        try:
            _, plaintext = create_api_key(org, name, list(scopes))
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        db.session.commit()
        click.echo(plaintext)
        click.echo("Store this key now: it is shown only once.", err=True)

    app.cli.add_command(api_key)

    @app.cli.command("worker")
    @click.option("--once", is_flag=True, help="Process what is due now, then exit.")
    @click.option("--interval", default=5.0, show_default=True, help="Seconds between polls.")
    @click.option("--topic", "topics", multiple=True, help="Only these topics (repeatable).")
    def worker_command(once: bool, interval: float, topics: tuple[str, ...]) -> None:
        """Deliver the outbox: webhooks, e-mail, LMS grades. Run one or more, always on."""
        import time

        from lms_plugin.core import outbox

        while True:
            counts = outbox.process_due(topics=list(topics) or None)
            if any(counts.values()):
                click.echo(", ".join(f"{k} {v}" for k, v in counts.items()))
            if once:
                break
            time.sleep(interval)

    @app.cli.command("sweep")
    @click.option("--all", "everyone", is_flag=True,
                  help="Recompute everyone's posting rights (once after installing or upgrading).")
    @click.pass_context
    def sweep_command(ctx: click.Context, everyone: bool) -> None:
        """The periodic pass, in flow order; run it from cron (hourly is plenty).

        Certificates first (retraining deadlines, re-enrolment before expiry), then posting
        rights that time alone changed (expiries, announced to webhooks), then HR's daily work
        (enrolment rules, reminders, dashboard counts and snapshot).
        """
        from advocacy import services as advocacy_services
        from certificates import services as certificate_services
        from hr.cli import sweep_command as hr_sweep

        for line in certificate_services.sweep().lines():
            click.echo(f"certificates: {line}")
        db.session.commit()
        counts = advocacy_services.sweep(everyone=everyone)
        db.session.commit()
        click.echo(f"posting rights: checked {counts['checked']}, changed {counts['changed']}")
        ctx.invoke(hr_sweep, org_slug=None)


def _create_app():
    from lms_plugin.app import create_app

    return create_app()


cli = FlaskGroup(create_app=_create_app, help="Cleared to Post: run, migrate, seed, manage.")


def main() -> None:
    cli(prog_name="cleared")
