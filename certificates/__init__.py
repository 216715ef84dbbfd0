"""Certificates: issued on completion, rendered to PDF, verifiable by anyone with the code."""


def init_app(app) -> None:
    from . import cli, views

    views.init_app(app)
    cli.init_app(app)
