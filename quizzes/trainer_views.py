"""Trainer pages on the quizzes blueprint: banks, questions, quiz drafts, preview, publish,
import/export, attempts and item analysis. Role trainer or admin, own organisation only."""

from __future__ import annotations

import random

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from lms_plugin.core.accounts import role_required
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Role
from lms_plugin.core.scoping import get_scoped_or_404, scoped

from . import authoring, services
from .core import QUESTION_TYPES, explain, public_view
from .core.analysis import chart_svg
from .core.scoring import draw, shown
from .forms import BankForm, ConfirmForm, ImportForm, QuestionForm, QuizSettingsForm
from .models import Attempt, BankQuestion, QuestionBank, QuizVersion
from .views import bp

TRAINERS = (Role.TRAINER, Role.ADMIN)


def _quiz_versions(slug: str) -> list[QuizVersion]:
    versions = list(db.session.execute(
        scoped(QuizVersion).where(QuizVersion.slug == slug).order_by(QuizVersion.version.desc())
    ).scalars())
    if not versions:
        abort(404)
    return versions


@bp.get("/manage/")
@role_required(*TRAINERS)
def manage():
    org_id = current_user.organization_id
    return render_template("quizzes/manage/index.html", banks=authoring.banks_of(org_id),
                           quizzes=authoring.quizzes_of(org_id))


# -- banks ---------------------------------------------------------------------------------

@bp.route("/manage/banks/new", methods=["GET", "POST"])
@role_required(*TRAINERS)
def new_bank():
    form = BankForm()
    if form.validate_on_submit():
        try:
            bank = authoring.create_bank(current_user.organization_id, form.slug.data,
                                         form.title.data)
        except authoring.AuthoringError as exc:
            _attach(form, exc)
        else:
            db.session.commit()
            return redirect(url_for(".bank", bank_id=bank.id))
    return render_template("quizzes/manage/bank_form.html", form=form), 400 if form.errors else 200


@bp.get("/manage/banks/<int:bank_id>/")
@role_required(*TRAINERS)
def bank(bank_id: int):
    bank = get_scoped_or_404(QuestionBank, bank_id)
    tag = request.args.get("tag", "").strip().lower()
    questions = [q for q in bank.questions if not tag or tag in q.tags]
    return render_template("quizzes/manage/bank.html", bank=bank, questions=questions,
                           tag=tag, types=QUESTION_TYPES, confirm=ConfirmForm())


def _attach(form, exc: authoring.AuthoringError) -> None:
    for name, problems in exc.problems.items():
        field = getattr(form, name, None) if name else None
        if field is None:
            form.form_errors.extend(problems)
        else:
            field.errors = [*field.errors, *problems]


# -- questions -----------------------------------------------------------------------------

def _question_page(form: QuestionForm, bank: QuestionBank, question: BankQuestion | None):
    status = 400 if (form.errors or form.form_errors) else 200
    return render_template("quizzes/manage/question_form.html", form=form, bank=bank,
                           question=question, types=QUESTION_TYPES), status


def _save_question(form: QuestionForm, bank: QuestionBank, question: BankQuestion | None):
    if not form.validate_on_submit():
        return None
    data = form.to_question()
    try:
        saved = authoring.save_question(bank, data, question, actor=current_user)
    except authoring.AuthoringError as exc:
        db.session.rollback()
        form.attach(exc.problems.get("", []))
        return None
    db.session.commit()
    flash(f"Question {saved.key!r} saved.", "success")
    return redirect(url_for(".bank", bank_id=bank.id))


@bp.route("/manage/banks/<int:bank_id>/questions/new", methods=["GET", "POST"])
@role_required(*TRAINERS)
def new_question(bank_id: int):
    bank = get_scoped_or_404(QuestionBank, bank_id)
    form = QuestionForm()
    if request.method == "GET" and request.args.get("type") in QUESTION_TYPES:
        form.type.data = request.args["type"]
    return _save_question(form, bank, None) or _question_page(form, bank, None)


@bp.route("/manage/questions/<int:question_id>/edit", methods=["GET", "POST"])
@role_required(*TRAINERS)
def edit_question(question_id: int):
    question = get_scoped_or_404(BankQuestion, question_id)
    form = QuestionForm()
    if request.method == "GET":
        form.load(question.data)
    form.type.data = question.type  # a saved question keeps its type (its data depends on it)
    return _save_question(form, question.bank, question) or _question_page(
        form, question.bank, question)


@bp.post("/manage/questions/<int:question_id>/duplicate")
@role_required(*TRAINERS)
def duplicate_question(question_id: int):
    question = get_scoped_or_404(BankQuestion, question_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    copy = authoring.duplicate_question(question, actor=current_user)
    db.session.commit()
    flash(f"Duplicated as {copy.key!r}: edit it below.", "success")
    return redirect(url_for(".edit_question", question_id=copy.id))


@bp.post("/manage/questions/<int:question_id>/delete")
@role_required(*TRAINERS)
def delete_question(question_id: int):
    question = get_scoped_or_404(BankQuestion, question_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    bank_id, key = question.bank_id, question.key
    authoring.delete_question(question, actor=current_user)
    db.session.commit()
    flash(f"Question {key!r} deleted. Published quizzes keep their own copy.", "info")
    return redirect(url_for(".bank", bank_id=bank_id))


@bp.get("/manage/questions/<int:question_id>/preview")
@role_required(*TRAINERS)
def preview_question(question_id: int):
    question = get_scoped_or_404(BankQuestion, question_id)
    view = public_view(question.data, random.Random())
    return render_template("quizzes/manage/preview.html", title=f"Preview: {question.key}",
                           questions=[view], back=url_for(".bank", bank_id=question.bank_id),
                           answers={view["id"]: explain(question.data)})


# -- import and export ---------------------------------------------------------------------

@bp.route("/manage/banks/<int:bank_id>/import", methods=["GET", "POST"])
@role_required(*TRAINERS)
def import_bank(bank_id: int):
    bank = get_scoped_or_404(QuestionBank, bank_id)
    form = ImportForm()
    problems: list[str] = []
    if form.validate_on_submit():
        text = form.text.data or ""
        if form.upload.data:
            raw = form.upload.data.read(2_000_001)
            if len(raw) > 2_000_000:
                problems = ["The file is larger than 2 MB: split it and import the parts."]
            else:
                try:
                    text = raw.decode("utf-8-sig")
                except UnicodeDecodeError:
                    problems = ["The file is not UTF-8 text: save it as UTF-8 and try again."]
        if not problems and not text.strip():
            problems = ["Choose a file or paste its text."]
        if not problems:
            try:
                result = authoring.import_file(bank, form.kind.data, text,
                                               valid_only=form.valid_only.data,
                                               replace=form.replace.data, actor=current_user)
            except authoring.AuthoringError as exc:
                db.session.rollback()
                problems = [p for ps in exc.problems.values() for p in ps]
            else:
                db.session.commit()
                flash(f"Imported {len(result.imported)} question(s).", "success")
                if result.problems:
                    return render_template("quizzes/manage/import.html", form=form, bank=bank,
                                           problems=result.problems, partial=True), 200
                return redirect(url_for(".bank", bank_id=bank.id))
    status = 400 if problems or form.errors else 200
    return render_template("quizzes/manage/import.html", form=form, bank=bank,
                           problems=problems, partial=False), status


@bp.get("/manage/banks/<int:bank_id>/export.<kind>")
@role_required(*TRAINERS)
def export_bank(bank_id: int, kind: str):
    bank = get_scoped_or_404(QuestionBank, bank_id)
    if kind not in ("gift", "yaml"):
        abort(404)
    text, skipped = authoring.export_file(bank, kind)
    if skipped:
        text = (f"// Not exported (GIFT cannot express spot the problem or best reply): "
                f"{', '.join(skipped)}\n\n{text}")
    extension = "gift.txt" if kind == "gift" else "yaml"
    return Response(text, mimetype="text/plain" if kind == "gift" else "application/yaml",
                    headers={"Content-Disposition":
                             f'attachment; filename="{bank.slug}.{extension}"'})


# -- quizzes -------------------------------------------------------------------------------

def _settings_form(slug: str | None, title: str, settings: dict) -> QuizSettingsForm:
    form = QuizSettingsForm()
    form.banks.choices = [SelectChoice(b.slug, b.title) for b in authoring.banks_of(
        current_user.organization_id)]
    if request.method == "GET":
        form.load(title, slug or "", settings)
    return form


def _save_settings(form: QuizSettingsForm):
    if not form.validate_on_submit():
        return None
    try:
        draft = authoring.save_draft(current_user.organization_id, form.slug.data,
                                     form.title.data, form.to_settings(), actor=current_user)
    except authoring.AuthoringError as exc:
        db.session.rollback()
        _attach(form, exc)
        return None
    db.session.commit()
    flash(f"Draft version {draft.version} saved. Preview it, then publish.", "success")
    return redirect(url_for(".manage_quiz", slug=draft.slug))


@bp.route("/manage/quizzes/new", methods=["GET", "POST"])
@role_required(*TRAINERS)
def new_quiz():
    form = _settings_form(None, "", dict(authoring.QUIZ_DEFAULTS))
    return _save_settings(form) or (render_template(
        "quizzes/manage/quiz_form.html", form=form, versions=[]),
        400 if form.errors else 200)


@bp.route("/manage/quizzes/<slug>/", methods=["GET", "POST"])
@role_required(*TRAINERS)
def manage_quiz(slug: str):
    versions = _quiz_versions(slug)
    newest = versions[0]
    form = _settings_form(slug, newest.title, dict(newest.settings))
    if request.method == "POST":
        form.slug.data = slug  # the short name of an existing quiz does not change
    draft = newest if not newest.published else None
    pool = authoring.draft_questions(draft) if draft else newest.questions
    return _save_settings(form) or (render_template(
        "quizzes/manage/quiz_form.html", form=form, versions=versions, draft=draft,
        pool=authoring.pool_size(newest, pool), confirm=ConfirmForm()),
        400 if form.errors else 200)


@bp.post("/manage/quizzes/<slug>/publish")
@role_required(*TRAINERS)
def publish_quiz(slug: str):
    draft = authoring.draft_of(current_user.organization_id, slug)
    if draft is None or not ConfirmForm().validate_on_submit():
        abort(404 if draft is None else 400)
    try:
        authoring.publish_draft(draft, actor=current_user)
    except authoring.AuthoringError as exc:
        db.session.rollback()
        for problems in exc.problems.values():
            for problem in problems:
                flash(f"Not published: {problem}", "danger")
        return redirect(url_for(".manage_quiz", slug=slug))
    db.session.commit()
    flash(f"Version {draft.version} is published: learners starting now get it.", "success")
    return redirect(url_for(".manage_quiz", slug=slug))


@bp.get("/manage/quizzes/<slug>/preview")
@role_required(*TRAINERS)
def preview_quiz(slug: str):
    newest = _quiz_versions(slug)[0]
    questions = newest.questions if newest.published else authoring.draft_questions(newest)
    by_id = {q["id"]: q for q in questions}
    seed = random.randrange(2**31)
    count = int(newest.settings.get("questions") or 0)
    ids = draw(questions, count, seed, newest.settings.get("tags"))
    return render_template("quizzes/manage/preview.html",
                           title=f"Preview: {newest.title} (version {newest.version})",
                           questions=shown(by_id, ids, seed), answers=None,
                           back=url_for(".manage_quiz", slug=slug))


@bp.get("/manage/quizzes/<slug>/attempts")
@role_required(*TRAINERS)
def quiz_attempts(slug: str):
    versions = _quiz_versions(slug)
    return render_template("quizzes/manage/attempts.html", quiz=versions[0],
                           attempts=services.graded_attempts(current_user.organization_id, slug))


@bp.get("/manage/attempts/<int:attempt_id>")
@role_required(*TRAINERS)
def trainer_attempt(attempt_id: int):
    attempt = get_scoped_or_404(Attempt, attempt_id)  # another organisation's: 404
    if attempt.state != Attempt.GRADED:
        abort(404)
    full = services.ReviewPolicy(feedback=True, answers=True)
    return render_template("quizzes/manage/attempt.html", attempt=attempt,
                           quiz=attempt.quiz_version, review=services.review_of(attempt, full))


@bp.get("/manage/quizzes/<slug>/analysis")
@role_required(*TRAINERS)
def analysis(slug: str):
    versions = _quiz_versions(slug)
    stats = services.item_analysis(current_user.organization_id, slug)
    return render_template("quizzes/manage/analysis.html", quiz=versions[0], stats=stats,
                           chart=chart_svg(stats, f"{versions[0].title}: percent right"))


@bp.get("/manage/quizzes/<slug>/analysis.svg")
@role_required(*TRAINERS)
def analysis_svg(slug: str):
    versions = _quiz_versions(slug)
    stats = services.item_analysis(current_user.organization_id, slug)
    return Response(chart_svg(stats, f"{versions[0].title}: percent right"),
                    mimetype="image/svg+xml")
