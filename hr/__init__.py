"""HR: the roster, enrolment rules, reminders, the dashboard and downloadable reports."""


def init_app(app) -> None:
    from . import cli, mail, views

    mail.init_app(app)
    views.init_app(app)
    cli.init_app(app)
