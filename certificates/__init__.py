"""Certificates: issued on completion, rendered to PDF, verifiable by anyone with the code."""


def init_app(app) -> None:
    from . import views

    views.init_app(app)
