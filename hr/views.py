"""HR pages: dashboard, people and timelines, roster import, rules, reminders, reports."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from advocacy.services import posting_rights_for
from course.models import Course, Enrollment
from lms_plugin.core import audit
from lms_plugin.core.accounts import role_required
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Role, User
from lms_plugin.core.scoping import get_scoped_or_404
from lms_plugin.core.timeutil import utcnow
from lms_plugin.core.web import add_nav_item

from . import charts, dashboard, reminders, reports, rights, roster, rules
from .forms import ConfirmForm, RosterUploadForm, RuleForm, reminder_settings_form_class
from .models import EmployeeProfile, RosterUpload

bp = Blueprint("hr", __name__, url_prefix="/hr", template_folder="templates")
hr_only = role_required(Role.HR)


def _org_id() -> int:
    return current_user.organization_id


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _filters() -> dashboard.Filters:
    filters = dashboard.Filters.from_args(request.args)
    for problem in filters.problems:
        flash(_sentence(problem), "warning")
    return filters


def dashboard_charts(summary: dashboard.Summary, trend: dashboard.Trend,
                     snapshots: list) -> dict:
    """The dashboard's charts, shared by the page and the PDF reports."""
    result = {
        "status": charts.bar_chart("chart-status", "Enrolments by status", [
            ("Completed", summary.completed), ("In progress", summary.in_progress),
            ("Overdue", summary.overdue)]),
        "rights": charts.bar_chart("chart-rights", "Posting rights", [
            (rights.STATUS_LABELS[s], n) for s, n in summary.rights.items()]),
        # Two charts, not one: a percentage and a head count do not share an axis.
        "trend": charts.line_chart("chart-trend", "Completion rate by week", trend.labels,
                                   [("Completion rate", trend.completion_rate)], unit="%",
                                   maximum=100),
        "overdue_trend": charts.line_chart("chart-overdue-trend", "Overdue enrolments by week",
                                           trend.labels, [("Overdue", trend.overdue)]),
    }
    if len(snapshots) >= 2:
        result["rights_trend"] = charts.line_chart(
            "chart-rights-trend", "Cleared to post, by day", [s.day.strftime("%d %b")
                                                             for s in snapshots],
            [("Cleared to post", [s.counts.get("eligible", 0) for s in snapshots])])
    return result


@bp.get("/")
@hr_only
def home():
    filters = _filters()
    org_id = _org_id()
    as_of = rights.ensure_fresh(org_id)
    db.session.commit()  # the refreshed report cache (posting-rights answers)
    now = utcnow()
    trend = dashboard.trend(org_id, filters, now)
    summary = dashboard.summary(org_id, filters, now, trend)
    summary.rights_as_of = as_of
    snapshots = rights.snapshots(org_id)
    return render_template("hr/dashboard.html", filters=filters, summary=summary, trend=trend,
                           charts=dashboard_charts(summary, trend, snapshots),
                           choices=dashboard.choices(org_id),
                           statuses=dashboard.ENROLLMENT_STATUSES)


@bp.get("/people")
@hr_only
def people():
    filters = _filters()
    sort = request.args.get("sort", "name")
    descending = request.args.get("order") == "desc"
    page = request.args.get("page", "1")
    page_number = int(page) if page.isdigit() else 1
    result = dashboard.people_page(_org_id(), filters, sort=sort, descending=descending,
                                   page=page_number)
    return render_template("hr/people.html", filters=filters, page=result,
                           choices=dashboard.choices(_org_id()),
                           statuses=dashboard.ENROLLMENT_STATUSES,
                           labels=rights.STATUS_LABELS, sorts=dashboard.SORTS)


@bp.get("/people/<int:user_id>")
@hr_only
def person(user_id: int):
    user = get_scoped_or_404(User, user_id)
    profile = db.session.execute(
        select(EmployeeProfile).filter_by(user_id=user.id)).scalar_one_or_none()
    open_enrollments = db.session.execute(
        select(Enrollment, Course).join(Course, Course.id == Enrollment.course_id)
        .where(Enrollment.user_id == user.id, Enrollment.completed_at.is_(None),
               Enrollment.organization_id == _org_id())).all()
    return render_template("hr/person.html", person=user, profile=profile,
                           rights=posting_rights_for(user),
                           events=dashboard.timeline(_org_id(), user),
                           open_enrollments=open_enrollments, now=utcnow(), form=ConfirmForm())


@bp.post("/enrollments/<int:enrollment_id>/remind")
@hr_only
def remind(enrollment_id: int):
    enrollment = get_scoped_or_404(Enrollment, enrollment_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        queued = reminders.send_reminder_now(enrollment)
    except reminders.ReminderError as exc:
        flash(_sentence(str(exc)), "warning")
    else:
        if queued:
            audit.record(enrollment.organization_id, "reminder.requested", actor=current_user,
                         subject=enrollment.user, course=enrollment.course.slug)
            flash(f"A reminder to {enrollment.user.email} is queued; the worker sends it "
                  "within a minute.", "success")
        else:
            flash("A reminder for this course was already sent today; it is not sent twice.",
                  "info")
        db.session.commit()
    return redirect(url_for(".person", user_id=enrollment.user_id))


# -- roster -------------------------------------------------------------------------------

@bp.route("/roster", methods=["GET", "POST"])
@hr_only
def roster_upload():
    form = RosterUploadForm()
    if form.validate_on_submit():
        content = form.roster.data.read()
        upload = RosterUpload(organization_id=_org_id(), uploaded_by_id=current_user.id,
                              filename=(form.roster.data.filename or "roster.csv")[:200],
                              content=content,
                              deactivate_missing=bool(form.deactivate_missing.data))
        db.session.add(upload)
        db.session.commit()  # only the file is kept; no employee is written before confirming
        return redirect(url_for(".roster_preview", upload_id=upload.id))
    status = 400 if form.errors else 200
    return render_template("hr/roster.html", form=form, columns=roster.COLUMNS), status


@bp.get("/roster/template.csv")
@hr_only
def roster_template():
    example = ("email,name,department,manager_email,location,hire_date,external_id\r\n"
               "sam@example.com,Sam Okafor,Sales,lee@example.com,Berlin,2025-03-01,E1001\r\n")
    return Response(reports.BOM + example, mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="roster-template.csv"'})


def _plan(upload: RosterUpload) -> roster.RosterPlan:
    records, errors, notes, first = roster.read_csv(upload.content)
    return roster.plan(upload.organization_id, records, first_row=first,
                       deactivate_missing=upload.deactivate_missing, errors=errors, notes=notes)


@bp.get("/roster/<int:upload_id>")
@hr_only
def roster_preview(upload_id: int):
    upload = get_scoped_or_404(RosterUpload, upload_id)
    return render_template("hr/roster_preview.html", upload=upload, plan=_plan(upload),
                           form=ConfirmForm())


@bp.post("/roster/<int:upload_id>/apply")
@hr_only
def roster_apply(upload_id: int):
    upload = get_scoped_or_404(RosterUpload, upload_id)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    if upload.applied_at is not None:
        flash("This file was already imported; upload it again to re-import.", "info")
        return redirect(url_for(".roster_preview", upload_id=upload.id))
    plan = _plan(upload)
    if not plan.ok:
        return render_template("hr/roster_preview.html", upload=upload, plan=plan,
                               form=form), 400
    records, _, _, first = roster.read_csv(upload.content)
    result = roster.apply(current_user.organization, records, first_row=first,
                          deactivate_missing=upload.deactivate_missing, actor=current_user)
    enrolled = rules.apply_rules(upload.organization_id, result.user_ids)
    upload.applied_at = utcnow()
    db.session.commit()
    counts = result.counts
    flash(f"Roster imported: {counts['created']} new, {counts['updated']} updated, "
          f"{counts['reactivated']} reactivated, {counts['unchanged']} unchanged, "
          f"{counts['deactivated']} deactivated; {len(enrolled)} new enrolment(s).", "success")
    return redirect(url_for(".people"))


# -- enrolment rules ----------------------------------------------------------------------

def _rule_form() -> RuleForm:
    form = RuleForm()
    form.course.choices = [SelectChoice(c.id, c.title) for c in db.session.execute(
        select(Course).where(Course.organization_id == _org_id()).order_by(Course.title)
    ).scalars()]
    return form


@bp.route("/rules", methods=["GET", "POST"])
@hr_only
def rules_page():
    form = _rule_form()
    status = 200
    if form.validate_on_submit():
        course = get_scoped_or_404(Course, form.course.data)
        try:
            rules.add_rule(_org_id(), course, form.kind.data, value=form.value.data or "",
                           due_days=form.due_days.data)
        except rules.RuleError as exc:
            form.value.errors.append(_sentence(str(exc)))
            db.session.rollback()
        else:
            db.session.commit()
            flash("Rule added. It applies on the next roster import, or now with "
                  "'Apply rules now'.", "success")
            return redirect(url_for(".rules_page"))
    if form.errors:
        status = 400
    return render_template("hr/rules.html", form=form, rules=rules.rules_of(_org_id()),
                           confirm=ConfirmForm()), status


@bp.post("/rules/<int:rule_id>/deactivate")
@hr_only
def rule_deactivate(rule_id: int):
    from .models import EnrollmentRule

    rule = get_scoped_or_404(EnrollmentRule, rule_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    rule.active = False
    db.session.commit()
    flash("Rule switched off; enrolments it made are kept.", "info")
    return redirect(url_for(".rules_page"))


@bp.post("/rules/apply")
@hr_only
def rules_apply():
    if not ConfirmForm().validate_on_submit():
        abort(400)
    created = rules.apply_rules(_org_id())
    db.session.commit()
    flash(f"{len(created)} new enrolment(s).", "success")
    return redirect(url_for(".rules_page"))


# -- reminder settings (admin) ------------------------------------------------------------

@bp.route("/reminders", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def reminder_settings():
    settings = reminders.settings_for(_org_id())
    form_class = reminder_settings_form_class()
    form = form_class()
    if request.method == "GET":
        form.enabled.data = settings.enabled
        form.before_due_days.data = ", ".join(map(str, settings.before_due_days or []))
        form.after_due_days.data = ", ".join(map(str, settings.after_due_days or []))
        form.escalate_after_days.data = settings.escalate_after_days
        form.expiry_notice_days.data = ", ".join(map(str, settings.expiry_notice_days or []))
        for kind in reminders.KINDS:
            template = reminders.template_for(settings, kind)
            form[f"{kind}_subject"].data = template["subject"]
            form[f"{kind}_body"].data = template["body"]
    elif form.validate_on_submit():
        values = {}
        for name in ("before_due_days", "after_due_days", "expiry_notice_days"):
            try:
                values[name] = reminders.parse_days(form[name].data or "", form[name].label.text)
            except reminders.ReminderError as exc:
                form[name].errors.append(str(exc))
        templates = {kind: {"subject": form[f"{kind}_subject"].data.strip(),
                            "body": form[f"{kind}_body"].data.replace("\r\n", "\n")}
                     for kind in reminders.KINDS}
        for kind, template in templates.items():
            try:
                reminders.check_template(kind, template["subject"], template["body"])
            except reminders.ReminderError as exc:
                form[f"{kind}_{exc.field}"].errors.append(str(exc))
        if not form.errors:
            reminders.save_settings(_org_id(), enabled=bool(form.enabled.data),
                                    escalate_after_days=form.escalate_after_days.data,
                                    templates=templates, **values)
            audit.record(_org_id(), "reminders.settings_changed", actor=current_user)
            db.session.commit()
            flash("Reminder settings saved.", "success")
            return redirect(url_for(".reminder_settings"))
    status = 400 if form.errors else 200
    return render_template("hr/reminders.html", form=form, kinds=reminders.KINDS,
                           placeholders=reminders.PLACEHOLDERS), status


# -- reports ------------------------------------------------------------------------------

@bp.get("/reports/")
@hr_only
def reports_page():
    return render_template("hr/reports.html", reports=reports.REPORTS.values(),
                           filters=_filters(), choices=dashboard.choices(_org_id()),
                           statuses=dashboard.ENROLLMENT_STATUSES, formats=reports.FORMATS)


@bp.get("/reports/<name>.<fmt>")
@hr_only
def download(name: str, fmt: str):
    report = reports.REPORTS.get(name)
    if report is None or fmt not in reports.FORMATS:
        abort(404)
    filters = dashboard.Filters.from_args(request.args)
    org_id, now = _org_id(), utcnow()
    audit.record(org_id, "report.exported", actor=current_user, report=name, format=fmt,
                 filters=filters.as_args())
    db.session.commit()  # the export is on record before the first byte leaves
    filename = f"{name}-{now:%Y-%m-%d}.{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if fmt == "csv":
        return Response(stream_with_context(reports.csv_chunks(report, org_id, filters, now)),
                        content_type="text/csv; charset=utf-8", headers=disposition)
    if fmt == "xlsx":
        chunks, size = reports.xlsx_file(report, org_id, filters, now)
        return Response(chunks, headers=disposition | {"Content-Length": str(size)},
                        mimetype="application/vnd.openxmlformats-officedocument."
                                 "spreadsheetml.sheet")
    rows, truncated = reports.pdf_rows(report, org_id, filters, now)
    trend = dashboard.trend(org_id, filters, now)
    summary = dashboard.summary(org_id, filters, now, trend)
    html = render_template("hr/report_pdf.html", report=report, rows=rows, truncated=truncated,
                           limit=reports.PDF_ROW_LIMIT, filters=filters, now=now,
                           summary=summary,
                           charts=dashboard_charts(summary, trend, rights.snapshots(org_id)),
                           organization=current_user.organization)
    return Response(reports.render_pdf(html), mimetype="application/pdf", headers=disposition)


def init_app(app) -> None:
    from . import api

    add_nav_item("hr.home", "HR dashboard", (Role.HR,), group="HR")
    app.register_blueprint(bp)
    api.init_app(app)
