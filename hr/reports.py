"""Downloadable reports: completion, overdue, certificates, posting rights and the audit log.

Each report is one row query; the same rows become a streamed CSV (UTF-8 with a BOM so
Excel opens it), an XLSX (XlsxWriter in constant-memory mode) or a PDF (WeasyPrint, with
the dashboard's charts). Text that a spreadsheet would run as a formula is neutralised.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import xlsxwriter
from sqlalchemy import Float, String, and_, cast, func, select, type_coerce
from xlsxwriter.utility import xl_col_to_name
from xlsxwriter.worksheet import Worksheet

from advocacy.services import posting_rights_for
from certificates import codes
from certificates.models import Certificate
from course.models import Course, Enrollment
from lms_plugin.core.extensions import db
from lms_plugin.core.models import AuditEntry, User

from . import dashboard
from .dashboard import Filters, Manager
from .models import EmployeeProfile

BOM = "\ufeff"
# A cell starting with one of these is run by spreadsheets as a formula (or DDE command).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
PDF_ROW_LIMIT = 2000
FETCH_BATCH = 2000
STATUS_LABELS = dashboard.ENROLLMENT_STATUSES


def neutralise(text: str) -> str:
    """Prefix a single quote so the cell is shown as text and never evaluated."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


@dataclass(frozen=True)
class Column:
    header: str
    kind: str = "text"  # text | date | datetime | number
    width: int = 18


@dataclass(frozen=True)
class Report:
    name: str
    title: str
    description: str
    columns: tuple[Column, ...]
    # (organization id, filters, now, text_times=False) -> rows; with text_times a report
    # may hand times over as ISO text (only the CSV asks).
    rows: Callable[..., Iterator[tuple]]


def _stream(query) -> Iterator[tuple]:
    # Core rows through the session's connection: same transaction, no ORM loading cost.
    connection = db.session.connection()
    yield from connection.execute(query.execution_options(yield_per=FETCH_BATCH))


def _excel_serial(column):
    """The time as Excel's day number, computed by the database (cheaper than parsing
    300,000 times into datetime objects and converting them here)."""
    if db.engine.dialect.name == "sqlite":
        # Stored as ISO text; julianday() of 1899-12-30 00:00 is 2415018.5 (to the ms).
        return cast(func.julianday(type_coerce(column, String)) - 2415018.5, Float)
    return cast(func.extract("epoch", column) / 86400.0 + 25569, Float)


def _completion_query(organization_id: int, filters: Filters, now: datetime,
                      text_times: bool = False, excel_times: bool = False):
    # For text output the dates may stay as the database hands them over: on SQLite that
    # is ISO text, and skipping the parse to datetime and back halves the CSV's time.
    def raw(column):
        if excel_times:
            return _excel_serial(column)
        return type_coerce(column, String) if text_times else column

    return (dashboard.enrollments_query(
        organization_id, filters, now, User.name, User.email, User.external_id,
        EmployeeProfile.department, EmployeeProfile.location, Manager.name,
        raw(EmployeeProfile.hire_date), Course.title, Enrollment.cycle,
        raw(Enrollment.enrolled_at), raw(Enrollment.due_at), raw(Enrollment.completed_at),
        dashboard.enrollment_status(now))
        .join(Course, Course.id == Enrollment.course_id)
        .outerjoin(Manager, Manager.id == EmployeeProfile.manager_id)
        .order_by(User.name, User.id, Enrollment.id))


def completion_rows(organization_id: int, filters: Filters, now: datetime, *,
                    text_times: bool = False, excel_times: bool = False) -> Iterator[tuple]:
    """With ``excel_times`` the dates and times come as Excel day numbers (for XLSX)."""
    for row in _stream(_completion_query(organization_id, filters, now, text_times,
                                         excel_times)):
        yield (*row[:-1], STATUS_LABELS[row[-1]])


def overdue_rows(organization_id: int, filters: Filters, now: datetime,
                 **_options) -> Iterator[tuple]:
    filters = dashboard.with_filters(filters, status="overdue")
    for row in _stream(_completion_query(organization_id, filters, now)):
        due = row[10]
        yield (*row[:-2], (now - due).days, STATUS_LABELS[row[-1]])


def certificate_rows(organization_id: int, filters: Filters, now: datetime,
                     **_options) -> Iterator[tuple]:
    query = dashboard.people_query(
        organization_id, filters, User.name, User.email, EmployeeProfile.department,
        EmployeeProfile.location, Certificate.course_title, Certificate.code,
        Certificate.issued_at, Certificate.expires_at, Certificate.revoked_at,
        Certificate.revoked_reason,
    ).join(Certificate, and_(Certificate.user_id == User.id,
                             Certificate.organization_id == organization_id))
    if filters.course_id:
        query = query.where(Certificate.course_id == filters.course_id)
    for row in _stream(query.order_by(User.name, User.id, Certificate.issued_at)):
        name, email, department, location, course, code, issued, expires, revoked, why = row
        status = "Revoked" if revoked else "Expired" if expires and expires <= now else "Valid"
        yield (name, email, department, location, course, codes.display(code), issued,
               expires, status, why)


def posting_rights_rows(organization_id: int, filters: Filters, now: datetime,
                        **_options) -> Iterator[tuple]:
    """Asked of ``posting_rights_for`` person by person: the one place that decides."""
    query = dashboard.people_query(
        organization_id, filters, User, EmployeeProfile.department, EmployeeProfile.location,
        Manager.name).outerjoin(Manager, Manager.id == EmployeeProfile.manager_id)
    for user, department, location, manager in db.session.execute(
            query.order_by(User.name, User.id).execution_options(yield_per=500)):
        rights = posting_rights_for(user)
        yield (user.name, user.email, user.external_id, department, location, manager,
               rights.status.replace("_", " "), "Yes" if rights.eligible else "No",
               " ".join(rights.reasons), now)


def audit_rows(organization_id: int, filters: Filters, now: datetime,
               **_options) -> Iterator[tuple]:
    actor = User.__table__.alias("actor")
    query = (select(AuditEntry.created_at, actor.c.name, AuditEntry.action,
                    AuditEntry.subject_type, AuditEntry.subject_id, AuditEntry.reason,
                    AuditEntry.detail)
             .outerjoin(actor, actor.c.id == AuditEntry.actor_id)
             .where(AuditEntry.organization_id == organization_id)
             .order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()))
    for when, who, action, subject_type, subject_id, reason, detail in _stream(query):
        subject = f"{subject_type} {subject_id}" if subject_type else ""
        yield (when, who or "system", action, subject, reason,
               json.dumps(detail or {}, sort_keys=True, ensure_ascii=False))


_PERSON = (Column("Name", width=26), Column("E-mail", width=30))
_ENROLMENT = (*_PERSON, Column("External id"), Column("Department"), Column("Location"),
              Column("Manager", width=24), Column("Hire date", "date", 12),
              Column("Course", width=28), Column("Round", "number", 8),
              Column("Enrolled (UTC)", "datetime"), Column("Due (UTC)", "datetime"))
REPORTS: dict[str, Report] = {r.name: r for r in (
    Report("completion", "Completion", "Every enrolment with its due date, completion and "
           "status.", (*_ENROLMENT, Column("Completed (UTC)", "datetime"),
                       Column("Status", width=12)), completion_rows),
    Report("overdue", "Overdue", "Open enrolments past their due date, most useful with a "
           "department or manager filter.", (*_ENROLMENT, Column("Days overdue", "number", 10),
                                              Column("Status", width=12)), overdue_rows),
    Report("certificates", "Certificates", "Every certificate with its code, expiry and "
           "status.", (*_PERSON, Column("Department"), Column("Location"),
                       Column("Course", width=28), Column("Code", width=22),
                       Column("Issued (UTC)", "datetime"), Column("Expires (UTC)", "datetime"),
                       Column("Status", width=10), Column("Revocation reason", width=30)),
           certificate_rows),
    Report("posting-rights", "Posting rights", "Who is cleared to post now, and why not.",
           (*_PERSON, Column("External id"), Column("Department"), Column("Location"),
            Column("Manager", width=24), Column("Status", width=20), Column("Eligible",
                                                                           width=9),
            Column("Reasons", width=60), Column("Checked (UTC)", "datetime")),
           posting_rights_rows),
    Report("audit-log", "Audit log", "Grants, suspensions, revocations, policy changes, "
           "roster imports and exports, newest first.",
           (Column("When (UTC)", "datetime"), Column("Actor", width=24),
            Column("Action", width=26), Column("Subject", width=20), Column("Reason", width=30),
            Column("Details", width=60)), audit_rows),
)}
FORMATS = ("csv", "xlsx", "pdf")


# -- CSV ------------------------------------------------------------------------------------

_TRIGGER_SET = frozenset(FORMULA_TRIGGERS)


def _csv_text(value: Any) -> Any:
    if value is None:
        return ""
    if value.__class__ is str:
        return "'" + value if value and value[0] in _TRIGGER_SET else value
    return value


def _csv_datetime(value: datetime | None) -> str:
    # Stored times are UTC (UTCDateTime): str() is ISO with a space; keep to the second.
    if not value:
        return ""
    if value.__class__ is str:
        return value[:19]  # SQLite's stored UTC text, "YYYY-MM-DD HH:MM:SS.ffffff"
    return (value.astimezone(UTC) if value.utcoffset() else value).isoformat(" ", "seconds")[:19]


def _csv_date(value: date | None) -> str:
    return value.isoformat() if value else ""


def _csv_number(value: Any) -> Any:
    return "" if value is None else value


def _csv_cell(kind: str) -> Callable[[Any], Any]:
    return {"datetime": _csv_datetime, "date": _csv_date, "number": _csv_number}.get(
        kind, _csv_text)


def csv_row_converter(columns: tuple[Column, ...]) -> Callable[[tuple], list]:
    """A row to CSV cells: times to text, text neutralised; None, numbers and dates as they
    are (the csv module writes None as empty and a date as YYYY-MM-DD). Per column kind
    rather than per cell, because this runs for every row of a 300,000-row report."""
    texts = [i for i, c in enumerate(columns) if c.kind == "text"]
    times = [i for i, c in enumerate(columns) if c.kind == "datetime"]
    triggers = _TRIGGER_SET

    def convert(row: tuple) -> list:
        cells = list(row)
        for i in times:
            value = cells[i]
            if value is not None:
                cells[i] = _csv_datetime(value)
        for i in texts:
            value = cells[i]
            if value and value.__class__ is str and value[0] in triggers:
                cells[i] = "'" + value
        return cells

    return convert


def csv_chunks(report: Report, organization_id: int, filters: Filters, now: datetime,
               rows_per_chunk: int = 1000) -> Iterator[bytes]:
    """The CSV in chunks of bytes: memory stays flat whatever the row count."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow([c.header for c in report.columns])
    convert = csv_row_converter(report.columns)
    writerow = writer.writerow
    count = 0
    for row in report.rows(organization_id, filters, now, text_times=True):
        writerow(convert(row))
        count += 1
        if count % rows_per_chunk == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


# -- XLSX -----------------------------------------------------------------------------------

EXCEL_EPOCH = datetime(1899, 12, 30, tzinfo=UTC)
EXCEL_EPOCH_ORDINAL = date(1899, 12, 30).toordinal()


def excel_serial(value: date | datetime) -> float:
    """Excel's day number (1900 date system): a real date once given a date format."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return (value - EXCEL_EPOCH).total_seconds() / 86400
    return float(value.toordinal() - EXCEL_EPOCH_ORDINAL)


_XML_SPECIAL = re.compile(r"[\x00-\x08\x0b-\x1f&<>\"\n\ufffe\uffff]|_x")


class RowSheet(Worksheet):
    """A constant-memory worksheet that writes a whole data row of plain cells in one go.

    XlsxWriter stores every cell in a table and then writes it through a general path that
    checks a dozen cases per cell; for a 300,000-row report that is most of the time. This
    writes the same XML (inline strings and numbers, byte for byte what XlsxWriter writes
    for them, tests compare the two) straight to the sheet's file. Text that needs escaping
    goes through XlsxWriter's own escaping functions; a row with anything unusual (a number
    that is not finite) falls back to the ordinary per-cell calls.
    """

    def write_plain_row(self, row: int, cells: list[tuple[int, str | float, int]]) -> None:
        """``cells`` are (column, value, format index or 0) with str or finite numbers."""
        if not self.constant_memory or not cells or row <= self.previous_row \
                or self._check_dimensions(row, cells[-1][0]) \
                or self._check_dimensions(row, cells[0][0]):
            raise ValueError("write_plain_row needs constant_memory and increasing rows "
                             "within the sheet")
        self._write_single_row(row)  # flushes the previous row, as write_string would
        suffix = str(row + 1)
        letters = _COLUMN_LETTERS
        parts = [f'<row r="{suffix}">']
        for col, value, xf in cells:
            style = f' s="{xf}"' if xf else ""
            if value.__class__ is str:
                if _XML_SPECIAL.search(value):
                    value = self._escape_data(self._escape_control_characters(value))
                preserve = ' xml:space="preserve"' if value[0].isspace() or \
                    value[-1].isspace() else ""
                parts.append(f'<c r="{letters[col]}{suffix}"{style} t="inlineStr"><is>'
                             f"<t{preserve}>{value}</t></is></c>")
            else:
                parts.append(f'<c r="{letters[col]}{suffix}"{style}><v>{value:.16G}</v></c>')
        parts.append("</row>")
        self.fh.write("".join(parts))


_COLUMN_LETTERS = [xl_col_to_name(i) for i in range(64)]
TEXT, NUMBER = -1, -2


def write_xlsx(report: Report, organization_id: int, filters: Filters, now: datetime,
               target: str) -> int:
    """Write the workbook to the file ``target``; returns the number of data rows."""
    workbook = xlsxwriter.Workbook(target, {
        "constant_memory": True,  # rows are flushed to disk as they are written
        "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
        "tmpdir": os.path.dirname(target) or None,
    })
    sheet = workbook.add_worksheet(report.title[:31], worksheet_class=RowSheet)
    bold = workbook.add_format({"bold": True, "bottom": 1})
    formats = {"date": workbook.add_format({"num_format": "yyyy-mm-dd"}),
               "datetime": workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})}
    for index, column in enumerate(report.columns):
        sheet.set_column(index, index, column.width)
        sheet.write_string(0, index, column.header, bold)
    sheet.freeze_panes(1, 0)
    # Per column: TEXT, NUMBER, or the date format's index (a positive number).
    kinds = [formats[c.kind]._get_xf_index() if c.kind in formats else
             NUMBER if c.kind == "number" else TEXT for c in report.columns]
    write_plain_row, triggers, isfinite = sheet.write_plain_row, _TRIGGER_SET, math.isfinite
    row_number = 0
    for row_number, row in enumerate(
            report.rows(organization_id, filters, now, excel_times=True), start=1):
        cells = []
        plain = True
        for col, value in enumerate(row):
            if value is None or value == "":
                continue
            kind = kinds[col]
            if kind == TEXT:
                value = value if value.__class__ is str else str(value)
                if value[0] in triggers:
                    value = "'" + value
                cells.append((col, value, 0))
            elif kind == NUMBER:
                if value.__class__ is bool:
                    cells.append((col, "Yes" if value else "No", 0))
                else:
                    plain = plain and isfinite(value)
                    cells.append((col, value, 0))
            else:
                if value.__class__ is not float:
                    value = excel_serial(value)
                plain = plain and isfinite(value)
                cells.append((col, value, kind))
        if plain and cells:
            write_plain_row(row_number, cells)
        else:
            _write_cells(sheet, row_number, cells, formats)
    sheet.autofilter(0, 0, max(row_number, 1), len(report.columns) - 1)
    workbook.close()
    return row_number


def _write_cells(sheet: Worksheet, row: int, cells: list, formats: dict) -> None:
    """The ordinary XlsxWriter calls, for a row the fast path does not take."""
    by_index = {f._get_xf_index(): f for f in formats.values()}
    for col, value, xf in cells:
        if value.__class__ is str:
            sheet.write_string(row, col, value)
        else:
            sheet.write_number(row, col, value, by_index.get(xf))


def xlsx_file(report: Report, organization_id: int, filters: Filters,
              now: datetime) -> tuple[Iterator[bytes], int]:
    """The finished workbook as chunks read from a temporary file, and its size in bytes.

    The file is unlinked at once; the chunk generator keeps it open until the last chunk
    (or until the response is closed), so nothing is left behind on disk.
    """
    folder = tempfile.mkdtemp(prefix="hr-report-")
    path = os.path.join(folder, "report.xlsx")
    try:
        write_xlsx(report, organization_id, filters, now, path)
        handle = open(path, "rb")  # noqa: SIM115 - closed by the generator below
        size = os.fstat(handle.fileno()).st_size
    finally:
        for leftover in os.listdir(folder):
            os.unlink(os.path.join(folder, leftover))
        os.rmdir(folder)

    def chunks() -> Iterator[bytes]:
        with handle:
            while block := handle.read(256 * 1024):
                yield block

    return chunks(), size


# -- PDF ------------------------------------------------------------------------------------

def pdf_rows(report: Report, organization_id: int, filters: Filters,
             now: datetime) -> tuple[list[list[str]], bool]:
    """Up to PDF_ROW_LIMIT rows as display text, and whether more were left out."""
    cells = [_csv_cell(c.kind) for c in report.columns]
    rows: list[list[str]] = []
    for row in report.rows(organization_id, filters, now):
        if len(rows) == PDF_ROW_LIMIT:
            return rows, True
        rows.append([str(convert(value)) for convert, value in zip(cells, row, strict=True)])
    return rows, False


def render_pdf(html: str) -> bytes:
    from weasyprint import HTML

    from .pdf import NothingExternal

    return HTML(string=html, url_fetcher=NothingExternal()).write_pdf(pdf_tags=True)
