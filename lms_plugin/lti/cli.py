"""``cleared lti ...``: register platforms and rotate the tool's signing key."""

from __future__ import annotations

from datetime import timedelta

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from lms_plugin.core.extensions import db
from lms_plugin.core.models import Organization

from . import keys, services

lti = AppGroup("lti", help="LTI 1.3: platform registrations and tool keys.")


@lti.command("register")
@click.option("--org", "org_slug", required=True, help="Organisation slug the platform serves.")
@click.option("--issuer", required=True, help="The platform's issuer (iss).")
@click.option("--client-id", required=True, help="Client ID the platform gave the tool.")
@click.option("--auth-login-url", required=True, help="Platform OIDC authentication URL.")
@click.option("--auth-token-url", required=True, help="Platform OAuth2 access token URL.")
@click.option("--key-set-url", required=True, help="Platform public keyset (JWKS) URL.")
@click.option("--deployment-id", required=True, help="Deployment ID (repeat the command "
              "to add more deployments).")
@click.option("--link-by-email/--no-link-by-email", default=None,
              help="Match first launches to existing learner accounts by e-mail. Only for "
                   "platforms where people cannot change their own e-mail (default: off).")
def register_command(org_slug, issuer, client_id, auth_login_url, auth_token_url,
                     key_set_url, deployment_id, link_by_email) -> None:
    """Register a platform (or add a deployment to a registered one)."""
    org = db.session.execute(select(Organization).filter_by(slug=org_slug)).scalar_one_or_none()
    if org is None:
        raise click.ClickException(f"organisation {org_slug!r} does not exist: create it with "
                                   f"'cleared create-org {org_slug} \"Name\"'")
    try:
        platform, created = services.register_platform(
            org, issuer=issuer, client_id=client_id, auth_login_url=auth_login_url,
            auth_token_url=auth_token_url, key_set_url=key_set_url,
            deployment_id=deployment_id, link_by_email=link_by_email)
    except services.LtiError as exc:
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    deployments = ", ".join(d.deployment_id for d in platform.deployments)
    click.echo(f"{'registered' if created else 'updated'} {platform.issuer} client "
               f"{platform.client_id} for {org.slug} (deployments: {deployments}; "
               f"link by e-mail: {'on' if platform.link_by_email else 'off'})")


@lti.command("rotate-key")
@click.option("--lead-minutes", default=60, show_default=True, type=click.IntRange(min=0),
              help="Publish the new key this long before it starts signing (platforms cache "
                   "our JWKS).")
def rotate_key_command(lead_minutes: int) -> None:
    """Add a new signing key; the old one stays published until its tokens expire."""
    new = keys.rotate(timedelta(minutes=lead_minutes))
    db.session.commit()
    click.echo(f"new key {new.kid} is published now and signs from "
               f"{new.signs_from.isoformat(timespec='seconds')}")


@lti.command("purge")
def purge_command() -> None:
    """Delete expired login states and one-time tickets (run daily, e.g. from cron)."""
    logins, tickets = services.purge_expired()
    db.session.commit()
    click.echo(f"removed {logins} expired logins and {tickets} expired tickets")


def init_app(app: Flask) -> None:
    app.cli.add_command(lti)
