"""Courses: enrolments, lesson progress, completion (and, later, policy and HR reports)."""


def init_app(app) -> None:
    from . import cli, views

    views.init_app(app)
    cli.init_app(app)
