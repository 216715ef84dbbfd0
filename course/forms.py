"""Forms for the policy and authoring pages (WTForms: labels, limits and messages per field)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional


class PolicyPublishForm(FlaskForm):
    title = StringField("Title", validators=[
        DataRequired("Give the policy a title, e.g. 'Social media policy'."), Length(max=200)])
    text = TextAreaField("Policy text (Markdown)", validators=[
        DataRequired("Paste the full text of the policy.")])
    min_read_seconds = IntegerField(
        "Minimum reading time (seconds)", default=60,
        validators=[InputRequired("Give a number of seconds (0 for none)."),
                    NumberRange(0, 3600, "Use a number of seconds between 0 and 3600.")])
    acknowledge_within_days = IntegerField(
        "Acknowledge within (days)", default=30,
        validators=[Optional(), NumberRange(1, 365, "Use a number of days between 1 and 365, "
                                                    "or leave it empty for no deadline.")])


class PolicyAcknowledgeForm(FlaskForm):
    version_id = HiddenField()
    full_name = StringField("Type your full name", validators=[
        DataRequired("Type your full name as it appears on your account."), Length(max=200)])
    confirm = BooleanField("I have read this version of the policy and I will follow it.",
                           validators=[DataRequired("Tick the box to confirm you have read "
                                                    "the policy.")])


class LessonForm(FlaskForm):
    title = StringField("Lesson title", validators=[
        DataRequired("Give the lesson a title."), Length(max=200)])
    minutes = IntegerField("Estimated minutes", default=3, validators=[
        InputRequired("Give the estimated reading time in minutes."),
        NumberRange(1, 120, "Use a number of minutes between 1 and 120.")])
    body = TextAreaField("Lesson text (Markdown)", validators=[
        DataRequired("Write the lesson text.")])
    practice = TextAreaField("Practice exercises (YAML, optional)")


class PublishForm(FlaskForm):
    requires_retraining = BooleanField(
        "This change requires retraining: learners who completed an earlier version must "
        "take this module again")


class UploadForm(FlaskForm):
    archive = FileField("Module folder as a .zip", validators=[
        FileRequired("Choose a .zip file of a module folder.")])
    requires_retraining = BooleanField(
        "If this updates an existing module, learners must retrain")
