"""The LTI 1.3 Advantage tool: launch, deep linking, grade passback (AGS) and rosters (NRPS)."""


def init_app(app) -> None:
    from lms_plugin.core import outbox
    from lms_plugin.core.web import add_nav_item
    from quizzes.core.grades import grade_published

    from . import cli, services, views

    app.session_interface = views.EmbeddedSessionInterface()
    app.register_blueprint(views.bp)
    grade_published.connect(services.on_grade_published)
    outbox.register_handler(services.SCORE_TOPIC, services.deliver_score)
    add_nav_item("lti.admin", "LMS connections", ("admin",), group="Admin")
    add_nav_item("lti.rosters", "LMS rosters", ("hr",), group="HR")
    cli.init_app(app)
