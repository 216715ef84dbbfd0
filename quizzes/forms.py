"""Trainer forms (WTForms): banks, questions of every type, quiz settings, imports."""

from __future__ import annotations

import re

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    Form,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields import FieldList, FormField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from .core import QUESTION_TYPES

OPTION_ROWS = 6


class BankForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired("Give the bank a title."),
                                             Length(max=200)])
    slug = StringField("Short name", description="Lowercase letters, digits and hyphens.",
                       validators=[DataRequired("Give the bank a short name, e.g. tone-2026."),
                                   Length(max=64)])


class OptionForm(Form):
    text = TextAreaField("Text", validators=[Optional(), Length(max=1000)])
    correct = BooleanField("Right answer")
    feedback = TextAreaField("Feedback", validators=[Optional(), Length(max=1000)])


class QuestionForm(FlaskForm):
    """One form for every type; fields a type does not use are ignored for it."""

    type = SelectField("Type",
                       choices=[SelectChoice(k, t.label) for k, t in QUESTION_TYPES.items()])
    key = StringField("Question id", description="Unique in the bank: letters, digits, - _ .",
                      validators=[DataRequired("Give the question an id, e.g. roadmap-post."),
                                  Length(max=64)])
    prompt = TextAreaField("Question", validators=[Optional(), Length(max=2000)])
    comment = TextAreaField("Comment or complaint being answered (best reply)",
                            validators=[Optional(), Length(max=2000)])
    tags = StringField("Tags", description="Separated by commas, e.g. disclosure, tone.",
                       validators=[Optional(), Length(max=300)])
    points = IntegerField("Points", default=1,
                          validators=[InputRequired("Give the points, e.g. 1."),
                                      NumberRange(1, 100, "Points are a whole number 1-100.")])
    partial_credit = BooleanField("Partial credit (multiple response)")
    answer = SelectField("The statement is (true or false)",
                         choices=[SelectChoice("true", "True"), SelectChoice("false", "False")],
                         default="true", validate_choice=False)
    feedback_true = TextAreaField("Feedback for learners who answer True",
                                  validators=[Optional(), Length(max=1000)])
    feedback_false = TextAreaField("Feedback for learners who answer False",
                                   validators=[Optional(), Length(max=1000)])
    options = FieldList(FormField(OptionForm), min_entries=OPTION_ROWS, max_entries=20)
    explanation = TextAreaField("Explanation shown after answering",
                                validators=[Optional(), Length(max=2000)])

    def to_question(self) -> dict:
        kind = self.type.data
        question: dict = {"id": (self.key.data or "").strip(), "type": kind,
                          "prompt": self.prompt.data or "", "tags": self.tags.data or "",
                          "explanation": self.explanation.data or ""}
        if self.points.data and self.points.data != 1:
            question["points"] = self.points.data
        rows = [o for o in self.options.entries if (o.form.text.data or "").strip()]
        if kind == "true_false":
            question["answer"] = self.answer.data == "true"
            question["feedback_true"] = self.feedback_true.data or ""
            question["feedback_false"] = self.feedback_false.data or ""
        elif kind == "spot_the_problem":
            question["segments"] = [
                {"text": r.form.text.data.strip(), "problem": bool(r.form.correct.data),
                 **({"feedback": r.form.feedback.data.strip()} if r.form.feedback.data else {})}
                for r in rows]
        else:
            question["options"] = [
                {"text": r.form.text.data.strip(), "correct": bool(r.form.correct.data),
                 **({"feedback": r.form.feedback.data.strip()} if r.form.feedback.data else {})}
                for r in rows]
            if kind == "best_reply":
                question["comment"] = self.comment.data or ""
            if kind == "multiple_response" and self.partial_credit.data:
                question["partial_credit"] = True
        return question

    def load(self, question: dict) -> None:
        """Fill the form from a bank question (for editing)."""
        self.type.data = question.get("type")
        self.key.data = question.get("id")
        self.prompt.data = question.get("prompt", "")
        self.comment.data = question.get("comment", "")
        self.tags.data = ", ".join(question.get("tags") or [])
        self.points.data = question.get("points", 1)
        self.partial_credit.data = bool(question.get("partial_credit"))
        self.answer.data = "true" if question.get("answer") else "false"
        self.feedback_true.data = question.get("feedback_true", "")
        self.feedback_false.data = question.get("feedback_false", "")
        self.explanation.data = question.get("explanation", "")
        items = question.get("segments") or question.get("options") or []
        while len(self.options.entries) < max(OPTION_ROWS, len(items) + 2):
            self.options.append_entry()
        for entry, item in zip(self.options.entries, items, strict=False):
            entry.form.text.data = item.get("text", "")
            entry.form.correct.data = bool(item.get("correct") or item.get("problem"))
            entry.form.feedback.data = item.get("feedback", "")

    def attach(self, problems: list[str]) -> None:
        """Tie each authoring problem to the field it is about, so the page shows it there."""
        rows = [o for o in self.options.entries if (o.form.text.data or "").strip()]
        for problem in problems:
            numbered = re.search(r"\b(?:option|reply|segment) (\d+)", problem)
            lowered = problem.lower()
            if numbered and int(numbered.group(1)) <= len(rows):
                rows[int(numbered.group(1)) - 1].form.text.errors = [
                    *rows[int(numbered.group(1)) - 1].form.text.errors, _sentence(problem)]
                continue
            field = self.options
            if lowered.startswith("id"):
                field = self.key
            elif "prompt" in lowered:
                field = self.prompt
            elif "comment" in lowered:
                field = self.comment
            elif "'answer'" in lowered:
                field = self.answer
            elif "points" in lowered:
                field = self.points
            field.errors = [*field.errors, _sentence(problem)]


def _sentence(text: str) -> str:
    text = re.sub(r"^id: ", "", text)
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


class QuizSettingsForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired("Give the quiz a title."),
                                             Length(max=200)])
    slug = StringField("Short name", validators=[DataRequired("Give the quiz a short name."),
                                                 Length(max=64)])
    banks = SelectMultipleField("Draw questions from these banks", choices=[],
                                validators=[DataRequired("Choose at least one bank.")])
    tags = StringField("Only questions with one of these tags (optional)",
                       description="Separated by commas; empty means every question.",
                       validators=[Optional(), Length(max=300)])
    questions = IntegerField("Questions per attempt", description="0 means all of them.",
                             default=0, validators=[InputRequired("Give a number (0 = all)."),
                                                    NumberRange(0, 200)])
    pass_mark = IntegerField("Pass mark (%)", default=80,
                             validators=[InputRequired("Give the pass mark."),
                                         NumberRange(0, 100, "A percentage from 0 to 100.")])
    attempts = IntegerField("Attempts allowed", description="0 means unlimited.", default=3,
                            validators=[InputRequired("Give a number (0 = unlimited)."),
                                        NumberRange(0, 100)])
    cooldown_minutes = IntegerField("Wait between attempts (minutes)", default=0,
                                    validators=[InputRequired("Give a number (0 = none)."),
                                                NumberRange(0, 60 * 24 * 30)])
    time_limit_minutes = IntegerField("Time limit (minutes)", description="0 means none.",
                                      default=0,
                                      validators=[InputRequired("Give a number (0 = none)."),
                                                  NumberRange(0, 600)])
    feedback = SelectField("Feedback and explanations", choices=[
        SelectChoice("after_submit", "After submitting the attempt"),
        SelectChoice("after_each", "After each question (its answer then locks)"),
        SelectChoice("after_pass", "Only once the learner has passed"),
    ])
    show_answers = BooleanField("Show the right answers on review", default=True)
    one_per_page = BooleanField("One question per page")

    def to_settings(self) -> dict:
        return {
            "banks": list(self.banks.data or []),
            "tags": sorted({t.strip().lower() for t in (self.tags.data or "").split(",")
                            if t.strip()}),
            "questions": self.questions.data or 0, "pass_mark": self.pass_mark.data,
            "attempts": self.attempts.data or 0,
            "cooldown_minutes": self.cooldown_minutes.data or 0,
            "time_limit_minutes": self.time_limit_minutes.data or 0,
            "feedback": self.feedback.data, "show_answers": bool(self.show_answers.data),
            "one_per_page": bool(self.one_per_page.data),
        }

    def load(self, title: str, slug: str, settings: dict) -> None:
        self.title.data, self.slug.data = title, slug
        self.banks.data = list(settings.get("banks") or [])
        self.tags.data = ", ".join(settings.get("tags") or [])
        for name in ("questions", "pass_mark", "attempts", "cooldown_minutes",
                     "time_limit_minutes"):
            getattr(self, name).data = int(settings.get(name) or 0)
        self.feedback.data = settings.get("feedback") or "after_submit"
        self.show_answers.data = bool(settings.get("show_answers", True))
        self.one_per_page.data = bool(settings.get("one_per_page"))


class ImportForm(FlaskForm):
    kind = SelectField("Format", choices=[SelectChoice("gift", "GIFT (Moodle)"),
                                          SelectChoice("yaml", "Module YAML (quiz.yaml)")])
    upload = FileField("File")
    text = TextAreaField("…or paste the file's text", validators=[Optional()])
    valid_only = BooleanField("If some questions have problems, import the valid ones anyway")
    replace = BooleanField("Replace questions with the same id")


class ConfirmForm(FlaskForm):
    """A bare form for POST buttons (delete, duplicate, publish): CSRF only."""
