"""Quiz pages: start, take, submit, result. Thin: parse, call a service, render."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from lms_plugin.core.extensions import db
from lms_plugin.core.scoping import get_scoped_or_404

from . import services
from .core import explain
from .models import Attempt, QuizVersion

bp = Blueprint("quizzes", __name__, url_prefix="/quiz", template_folder="templates")


def _own_attempt(attempt_id: int) -> Attempt:
    attempt = get_scoped_or_404(Attempt, attempt_id)
    if attempt.user_id != current_user.id:
        abort(404)  # another learner's attempt is simply not there
    return attempt


@bp.get("/<int:quiz_id>/")
@login_required
def start_page(quiz_id: int):
    quiz = get_scoped_or_404(QuizVersion, quiz_id)
    return render_template("quizzes/start.html", quiz=quiz,
                           standing=services.standing(current_user, quiz),
                           return_url=request.args.get("next", ""))


@bp.post("/<int:quiz_id>/start")
@login_required
def start(quiz_id: int):
    quiz = get_scoped_or_404(QuizVersion, quiz_id)
    return_url = request.form.get("next") or None
    if return_url and not return_url.startswith("/"):
        return_url = None
    try:
        attempt = services.start_attempt(current_user, quiz, return_url)
    except services.QuizError as exc:
        flash(str(exc), "warning")
        return redirect(url_for(".start_page", quiz_id=quiz.id))
    db.session.commit()
    return redirect(url_for(".attempt", attempt_id=attempt.id))


@bp.get("/attempt/<int:attempt_id>")
@login_required
def attempt(attempt_id: int):
    attempt = _own_attempt(attempt_id)
    if attempt.state == Attempt.GRADED:
        return redirect(url_for(".result", attempt_id=attempt.id))
    return render_template("quizzes/attempt.html", attempt=attempt,
                           questions=services.questions_shown(attempt))


@bp.post("/attempt/<int:attempt_id>/submit")
@login_required
def submit(attempt_id: int):
    attempt = _own_attempt(attempt_id)
    # Only "q-<question id>" fields are read; score, passed or keys in the form are ignored.
    responses = {qid: request.form.getlist(f"q-{qid}") for qid in attempt.question_ids}
    try:
        services.submit_attempt(attempt, responses)
    except services.QuizError as exc:
        flash(str(exc), "info")
        return redirect(url_for(".result", attempt_id=attempt_id))
    db.session.commit()
    return redirect(url_for(".result", attempt_id=attempt.id))


@bp.get("/attempt/<int:attempt_id>/result")
@login_required
def result(attempt_id: int):
    attempt = _own_attempt(attempt_id)
    if attempt.state != Attempt.GRADED:
        return redirect(url_for(".attempt", attempt_id=attempt.id))
    quiz = attempt.quiz_version
    by_id = quiz.questions_by_id()
    review = [
        {"view": view, "explain": explain(by_id[view["id"]]),
         "result": attempt.results.get(view["id"], {})}
        for view in services.questions_shown(attempt)
    ]
    return render_template("quizzes/result.html", attempt=attempt, quiz=quiz, review=review,
                           standing=services.standing(current_user, quiz))


def init_app(app) -> None:
    app.register_blueprint(bp)
