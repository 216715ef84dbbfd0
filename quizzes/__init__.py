"""Quizzes: question types, quiz versions, attempts graded on the server.

``quizzes.core`` (the question types and scoring) is framework-free for the XBlock; the rest
is the Flask feature. Nothing is imported eagerly, so importing ``quizzes.core`` never loads
Flask.
"""


def init_app(app) -> None:
    from . import views

    views.init_app(app)
