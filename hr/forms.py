"""HR forms: roster upload, enrolment rules and the reminder settings."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from .models import EnrollmentRule
from .reminders import KIND_LABELS, KINDS

RULE_KIND_LABELS = {"new_hire": "New hires (due: hire date + days)",
                    "department": "Everyone in a department", "location": "Everyone at a location",
                    "everyone": "Every employee"}


class RosterUploadForm(FlaskForm):
    roster = FileField("Roster file (CSV)", validators=[
        FileRequired("Choose the CSV file exported from your HR system."),
        FileAllowed(["csv", "txt"], "Upload a .csv file (in Excel: Save as > CSV UTF-8)."),
    ])
    deactivate_missing = BooleanField(
        "This file is the complete roster: deactivate employees who are not in it")


class ConfirmForm(FlaskForm):
    pass


class RuleForm(FlaskForm):
    course = SelectField("Course", coerce=int, validators=[InputRequired("Choose a course.")])
    kind = SelectField("Who", choices=[SelectChoice(k, RULE_KIND_LABELS[k])
                                       for k in EnrollmentRule.KINDS])
    value = StringField("Department, location, or earliest hire date (YYYY-MM-DD)",
                        validators=[Length(max=120)])
    due_days = IntegerField("Due after (days)", default=30, validators=[
        InputRequired("Give the number of days until the course is due."),
        NumberRange(0, 3650, "Give a number of days from 0 to 3650.")])


def reminder_settings_form_class() -> type[FlaskForm]:
    """One subject and body field per reminder kind, built from the kinds' list."""

    class ReminderSettingsForm(FlaskForm):
        enabled = BooleanField("Send reminders for this organisation")
        before_due_days = StringField("Remind this many days before the due date",
                                      validators=[Length(max=100)])
        after_due_days = StringField("Remind this many days after the due date",
                                     validators=[Length(max=100)])
        escalate_after_days = IntegerField(
            "Tell the manager after this many days overdue (empty: never)",
            validators=[Optional(), NumberRange(0, 3650, "Give a number of days from 0 to "
                                                "3650, or leave it empty.")])
        expiry_notice_days = StringField("Warn this many days before a certificate expires",
                                         validators=[Length(max=100)])

    for kind in KINDS:
        setattr(ReminderSettingsForm, f"{kind}_subject", StringField(
            f"{KIND_LABELS[kind]}: subject",
            validators=[DataRequired("Give the e-mail a subject."), Length(max=200)]))
        setattr(ReminderSettingsForm, f"{kind}_body", TextAreaField(
            f"{KIND_LABELS[kind]}: body",
            validators=[DataRequired("Give the e-mail a body."), Length(max=5000)]))
    return ReminderSettingsForm
