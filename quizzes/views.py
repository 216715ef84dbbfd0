"""Quiz pages for learners: start, take (autosaved), check, submit, result. Thin views."""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from lms_plugin.core.extensions import db
from lms_plugin.core.scoping import get_scoped_or_404
from lms_plugin.core.timeutil import utcnow

from . import services
from .models import Attempt, QuizVersion

bp = Blueprint("quizzes", __name__, url_prefix="/quiz", template_folder="templates",
               static_folder="static", static_url_path="/quiz-static")


def _own_attempt(attempt_id: int) -> Attempt:
    attempt = get_scoped_or_404(Attempt, attempt_id)
    if attempt.user_id != current_user.id:
        abort(404)  # another learner's attempt is simply not there
    return attempt


def _safe_return(url: str | None) -> str | None:
    return url if url and url.startswith("/") and not url.startswith("//") else None


def _wants_json() -> bool:
    return request.is_json or request.accept_mimetypes.best == "application/json"


def _responses_from_form(attempt: Attempt) -> dict:
    # Only "q-<question id>" fields are read; score, passed or keys in the form are ignored.
    return {qid: request.form.getlist(f"q-{qid}") for qid in attempt.question_ids
            if f"q-{qid}" in request.form or f"shown-{qid}" in request.form}


@bp.get("/<int:quiz_id>/")
@login_required
def start_page(quiz_id: int):
    quiz = get_scoped_or_404(QuizVersion, quiz_id)
    current = services.current_version(quiz.organization_id, quiz.slug)
    if current is not None and current.id != quiz.id:
        # A newer version was published: learners start that one.
        return redirect(url_for(".start_page", quiz_id=current.id, **request.args))
    if not quiz.published:
        abort(404)
    return render_template("quizzes/start.html", quiz=quiz,
                           standing=services.standing(current_user, quiz),
                           return_url=_safe_return(request.args.get("next")) or "")


@bp.post("/<int:quiz_id>/start")
@login_required
def start(quiz_id: int):
    quiz = get_scoped_or_404(QuizVersion, quiz_id)
    try:
        attempt = services.start_attempt(current_user, quiz,
                                         _safe_return(request.form.get("next")))
    except services.QuizError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
        return redirect(url_for(".start_page", quiz_id=quiz.id))
    db.session.commit()
    return redirect(url_for(".attempt", attempt_id=attempt.id))


@bp.get("/attempt/<int:attempt_id>")
@login_required
def attempt(attempt_id: int):
    attempt = _own_attempt(attempt_id)
    if attempt.state == Attempt.IN_PROGRESS and services.is_expired(attempt):
        services.finish_expired(attempt)
        db.session.commit()
        flash("The time limit has passed: your saved answers were graded.", "info")
    if attempt.state == Attempt.GRADED:
        return redirect(url_for(".result", attempt_id=attempt.id))
    quiz = attempt.quiz_version
    questions = services.questions_shown(attempt)
    page = None
    if quiz.one_per_page:
        page = min(max(request.args.get("page", 1, type=int), 1), len(questions))
        visible = [(page, questions[page - 1])]
    else:
        visible = list(enumerate(questions, start=1))
    locked = {qid: services.revealed(attempt, qid) for qid in attempt.locked}
    seconds_left = None
    if attempt.deadline_at is not None:
        # The browser counts down from the server's figure, not from its own clock.
        seconds_left = max(0, int((attempt.deadline_at - utcnow()).total_seconds()))
    return render_template("quizzes/attempt.html", attempt=attempt, quiz=quiz,
                           visible=visible, total=len(questions), page=page,
                           saved=attempt.responses or {}, locked=locked,
                           seconds_left=seconds_left)


@bp.post("/attempt/<int:attempt_id>/save")
@login_required
def save(attempt_id: int):
    """Autosave (JSON ``{"responses": {...}}``) and the no-JavaScript form fallback."""
    attempt = _own_attempt(attempt_id)
    if request.is_json:
        payload = request.get_json(silent=True)
        responses = payload.get("responses") if isinstance(payload, dict) else None
        if not isinstance(responses, dict):
            return jsonify(error="Send {\"responses\": {question id: [choice indexes]}}."), 400
    else:
        responses = _responses_from_form(attempt)
    try:
        services.save_answers(attempt, responses)
    except services.QuizError as exc:
        db.session.rollback()
        if request.is_json:
            return jsonify(error=str(exc)), 409
        flash(str(exc), "warning")
        return redirect(url_for(".attempt", attempt_id=attempt_id))
    db.session.commit()
    if request.is_json:
        return jsonify(saved=sorted(attempt.responses))
    if request.form.get("go") == "submit":
        return _submit(attempt, None)
    page = request.form.get("page", type=int)
    flash_page = {"next": 1, "previous": -1}.get(request.form.get("go", ""), 0)
    if page:
        return redirect(url_for(".attempt", attempt_id=attempt_id, page=page + flash_page))
    flash("Your answers are saved.", "info")
    return redirect(url_for(".attempt", attempt_id=attempt_id))


@bp.post("/attempt/<int:attempt_id>/check/<question_id>")
@login_required
def check(attempt_id: int, question_id: str):
    """Feedback after each question: lock this answer, reveal this question only."""
    attempt = _own_attempt(attempt_id)
    if request.is_json:
        payload = request.get_json(silent=True)
        response = payload.get("response") if isinstance(payload, dict) else None
    else:
        response = request.form.getlist(f"q-{question_id}")
    try:
        shown = services.check_question(attempt, question_id, response)
    except services.QuizError as exc:
        db.session.rollback()
        if request.is_json:
            return jsonify(error=str(exc)), 409
        flash(str(exc), "warning")
        return redirect(url_for(".attempt", attempt_id=attempt_id))
    db.session.commit()
    if request.is_json:
        return jsonify(shown)
    page = request.form.get("page", type=int)
    return redirect(url_for(".attempt", attempt_id=attempt_id, page=page,
                            _anchor=f"question-{question_id}"))


def _submit(attempt: Attempt, responses: dict | None):
    try:
        services.submit_attempt(attempt, responses)
    except services.QuizError as exc:
        db.session.rollback()
        flash(str(exc), "info")
        return redirect(url_for(".result", attempt_id=attempt.id))
    db.session.commit()
    return redirect(url_for(".result", attempt_id=attempt.id))


@bp.post("/attempt/<int:attempt_id>/submit")
@login_required
def submit(attempt_id: int):
    attempt = _own_attempt(attempt_id)
    return _submit(attempt, _responses_from_form(attempt))


@bp.get("/attempt/<int:attempt_id>/result")
@login_required
def result(attempt_id: int):
    attempt = _own_attempt(attempt_id)
    if attempt.state != Attempt.GRADED:
        return redirect(url_for(".attempt", attempt_id=attempt.id))
    quiz = attempt.quiz_version
    passed_quiz = services.has_passed(current_user, quiz)
    policy = services.review_policy(attempt, passed_quiz)
    return render_template("quizzes/result.html", attempt=attempt, quiz=quiz, policy=policy,
                           review=services.review_of(attempt, policy),
                           standing=services.standing(current_user, quiz),
                           passed_quiz=passed_quiz)


@bp.get("/mine")
@login_required
def my_attempts():
    return render_template("quizzes/mine.html", attempts=services.attempts_by(current_user))


def init_app(app) -> None:
    from . import trainer_views  # noqa: F401 - registers the trainer routes on ``bp``

    app.register_blueprint(bp)
    from lms_plugin.core.web import add_nav_item

    add_nav_item("quizzes.manage", "Quiz authoring", ("trainer", "admin"), group="Authoring")
