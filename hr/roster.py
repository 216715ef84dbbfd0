"""The roster: employees from a CSV file or the API, checked row by row, then upserted."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from lms_plugin.core import accounts, audit
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Organization, Role, User
from lms_plugin.core.timeutil import utcnow

from .models import EmployeeProfile

COLUMNS = ("email", "name", "department", "manager_email", "location", "hire_date",
           "external_id")
REQUIRED = ("email", "name")
LIMITS = {"email": 254, "name": 200, "department": 120, "location": 120, "external_id": 200,
          "manager_email": 254}
MAX_ROWS = 100_000


class RosterError(ValueError):
    """The roster cannot be applied (it has row errors); nothing was written."""


@dataclass(frozen=True)
class RowError:
    row: int  # the CSV line number (header = 1), or the index in the API's list
    column: str
    message: str

    def as_json(self) -> dict:
        return {"row": self.row, "field": self.column, "message": self.message}


@dataclass
class RosterRow:
    row: int
    email: str
    name: str
    department: str = ""
    manager_email: str = ""
    location: str = ""
    hire_date: date | None = None
    external_id: str | None = None


@dataclass
class RosterPlan:
    """What applying the roster would do, and every problem that stops it."""

    rows: list[RosterRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    create: list[str] = field(default_factory=list)
    update: list[str] = field(default_factory=list)
    reactivate: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deactivate: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def counts(self) -> dict[str, int]:
        return {"rows": len(self.rows), "created": len(self.create), "updated": len(self.update),
                "reactivated": len(self.reactivate), "unchanged": len(self.unchanged),
                "deactivated": len(self.deactivate)}


# -- reading -----------------------------------------------------------------------------

def _header_key(name: str) -> str:
    return "_".join(name.strip().lower().replace("-", " ").split())


def read_csv(content: bytes) -> tuple[list[dict], list[RowError], list[str], int]:
    """Records keyed by column, header problems, notes, and the first data line number."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return [], [RowError(0, "file", f"the file is not UTF-8 text (byte {exc.start}): in "
                             "Excel choose 'Save as' > 'CSV UTF-8', then upload again")], [], 2
    if not text.strip():
        return [], [RowError(0, "file", "the file is empty: export the roster with a header "
                             f"row ({', '.join(COLUMNS)})")], [], 2
    first_line = text.splitlines()[0]
    # European spreadsheets save CSV with semicolons; take whichever the header uses.
    delimiter = max((",", ";", "\t"), key=first_line.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [_header_key(h) for h in next(reader)]
    except csv.Error as exc:
        return [], [RowError(1, "header", f"the header cannot be read: {exc}")], [], 2
    errors: list[RowError] = []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        errors.append(RowError(1, "header", f"the header lacks {', '.join(missing)}: the "
                               f"columns are {', '.join(COLUMNS)}"))
    notes = [f"column '{h}' is not a roster column and is ignored"
             for h in header if h and h not in COLUMNS]
    records: list[dict] = []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                records.append({})  # keep line numbers true: blank lines are skipped later
                continue
            record = {h: v for h, v in zip(header, values, strict=False) if h in COLUMNS}
            if len(values) > len(header):
                record["__extra__"] = "1"
            records.append(record)
            if len(records) > MAX_ROWS:
                errors.append(RowError(len(records) + 1, "file", f"more than {MAX_ROWS} rows: "
                                       "split the file"))
                break
    except csv.Error as exc:
        errors.append(RowError(reader.line_num, "file", f"the CSV is malformed here: {exc}"))
    return records, errors, notes, 2


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date: write it as YYYY-MM-DD, "
                         "for example 2025-03-01") from None


def check_records(records: Iterable[dict],
                  first_row: int) -> tuple[list[RosterRow], list[RowError]]:
    """Validate each record on its own and against the others in the same file."""
    rows: list[RosterRow] = []
    errors: list[RowError] = []
    seen_email: dict[str, int] = {}
    seen_external: dict[str, int] = {}
    for offset, record in enumerate(records):
        number = first_row + offset
        if not record:
            continue
        if not isinstance(record, dict):
            errors.append(RowError(number, "row", "each employee must be an object"))
            continue
        row_errors: list[RowError] = []

        def value(column: str, record=record, number=number, row_errors=row_errors) -> str:
            raw = record.get(column)
            if raw is None:
                return ""
            if not isinstance(raw, str):
                row_errors.append(RowError(number, column, "must be text"))
                return ""
            text = " ".join(raw.split()) if column != "external_id" else raw.strip()
            if len(text) > LIMITS.get(column, 10_000):
                row_errors.append(RowError(number, column, f"is longer than {LIMITS[column]} "
                                           "characters: shorten it"))
            return text

        if record.get("__extra__"):
            row_errors.append(RowError(number, "row", "has more cells than the header: "
                                       "check for an unquoted comma"))
        email = accounts.normalize_email(value("email"))
        name = value("name")
        manager_email = accounts.normalize_email(value("manager_email"))
        external_id = value("external_id") or None
        hire_text = value("hire_date")
        if not email:
            row_errors.append(RowError(number, "email", "is empty: every employee needs an "
                                       "e-mail address"))
        elif not accounts.EMAIL_SHAPE.match(email):
            row_errors.append(RowError(number, "email", f"{email!r} is not an e-mail address: "
                                       "write it as name@example.com"))
        elif email in seen_email:
            row_errors.append(RowError(number, "email", f"{email} is also on row "
                                       f"{seen_email[email]}: keep one row per person"))
        if not name:
            row_errors.append(RowError(number, "name", "is empty: give the person's full name"))
        if manager_email:
            if not accounts.EMAIL_SHAPE.match(manager_email):
                row_errors.append(RowError(number, "manager_email", f"{manager_email!r} is not "
                                           "an e-mail address: write it as name@example.com"))
            elif manager_email == email:
                row_errors.append(RowError(number, "manager_email", "is the employee's own "
                                           "address: give the manager's, or leave it empty"))
        hire_date = None
        if hire_text:
            try:
                hire_date = parse_date(hire_text)
            except ValueError as exc:
                row_errors.append(RowError(number, "hire_date", str(exc)))
        if external_id and external_id in seen_external:
            row_errors.append(RowError(number, "external_id", f"{external_id!r} is also on row "
                                       f"{seen_external[external_id]}: external ids are unique"))
        if email and email not in seen_email:
            seen_email[email] = number
        if external_id and external_id not in seen_external:
            seen_external[external_id] = number
        if row_errors:
            errors.extend(row_errors)
            continue
        rows.append(RosterRow(number, email, name, value("department"), manager_email,
                              value("location"), hire_date, external_id))
    return rows, errors


# -- planning against the database ---------------------------------------------------------

@dataclass
class _Directory:
    by_email: dict[str, User]
    by_external: dict[str, User]
    profiles: dict[int, EmployeeProfile]
    by_id: dict[int, User]


def _directory(organization_id: int) -> _Directory:
    users = list(db.session.execute(
        select(User).where(User.organization_id == organization_id)).scalars())
    profiles = db.session.execute(
        select(EmployeeProfile).where(EmployeeProfile.organization_id == organization_id)
    ).scalars()
    return _Directory({u.email: u for u in users},
                      {u.external_id: u for u in users if u.external_id},
                      {p.user_id: p for p in profiles}, {u.id: u for u in users})


def _match(directory: _Directory, row: RosterRow) -> User | None:
    if row.external_id and row.external_id in directory.by_external:
        return directory.by_external[row.external_id]
    return directory.by_email.get(row.email)


def _differs(user: User, profile: EmployeeProfile | None, row: RosterRow,
             manager: User | None) -> bool:
    if profile is None:
        return True
    return (user.email, user.name, user.external_id or None, profile.department,
            profile.location, profile.hire_date, profile.manager_id) != (
        row.email, row.name, row.external_id or user.external_id or None, row.department,
        row.location, row.hire_date, manager.id if manager else None)


def plan(organization_id: int, records: Iterable[dict], *, first_row: int = 2,
         deactivate_missing: bool = False, errors: list[RowError] | None = None,
         notes: list[str] | None = None) -> RosterPlan:
    """Check the records and say what applying them would change. Writes nothing."""
    rows, row_errors = check_records(records, first_row)
    result = RosterPlan(rows=rows, errors=list(errors or []) + row_errors,
                        notes=list(notes or []))
    directory = _directory(organization_id)
    in_file = {row.email for row in rows}
    matched: set[int] = set()
    for row in rows:
        user = _match(directory, row)
        if user is not None and user.email != row.email:
            other = directory.by_email.get(row.email)
            if other is not None and other.id != user.id:
                result.errors.append(RowError(row.row, "external_id", f"{row.external_id!r} "
                    f"belongs to {user.email}, but {row.email} is another person: correct "
                    "the e-mail or the external id"))
                continue
        if row.manager_email and row.manager_email not in in_file and \
                row.manager_email not in directory.by_email:
            result.errors.append(RowError(row.row, "manager_email", f"{row.manager_email} is "
                "neither in this file nor an existing employee: add the manager's row or "
                "leave the cell empty"))
            continue
        manager = directory.by_email.get(row.manager_email) if row.manager_email else None
        if user is None:
            result.create.append(row.email)
            continue
        matched.add(user.id)
        if not user.active:
            result.reactivate.append(row.email)
        elif manager is None and row.manager_email:
            result.update.append(row.email)  # the manager is created by this same file
        elif _differs(user, directory.profiles.get(user.id), row, manager):
            result.update.append(row.email)
        else:
            result.unchanged.append(row.email)
    if deactivate_missing:
        for user_id in directory.profiles:
            user = directory.by_id[user_id]
            if user_id not in matched and user.active and user.email not in in_file:
                result.deactivate.append(user.email)
    result.errors.sort(key=lambda e: (e.row, COLUMNS.index(e.column)
                                      if e.column in COLUMNS else -1))
    return result


@dataclass
class RosterResult:
    counts: dict[str, int]
    user_ids: list[int]


def apply(org: Organization, records: list[dict], *, first_row: int = 2,
          deactivate_missing: bool = False, actor: User | None = None,
          source: str = "csv") -> RosterResult:
    """Upsert the employees (idempotent) and deactivate the missing when asked. Flushes only."""
    checked = plan(org.id, records, first_row=first_row, deactivate_missing=deactivate_missing)
    if not checked.ok:
        raise RosterError(f"the roster has {len(checked.errors)} problem(s); nothing was written")
    directory = _directory(org.id)
    now = utcnow()
    touched: list[tuple[User, RosterRow]] = []
    for row in checked.rows:
        user = _match(directory, row)
        if user is None:
            user = accounts.create_user(org, row.email, row.name, password=None,
                                        roles=(Role.LEARNER,), external_id=row.external_id)
            directory.by_email[user.email] = user
        else:
            if user.email != row.email:
                audit.record(org.id, "employee.email_changed", actor=actor, subject=user,
                             old=user.email, new=row.email)
                user.email = row.email
                directory.by_email[row.email] = user
            user.name = row.name
            if row.external_id:
                user.external_id = row.external_id
            if not user.active:
                user.active = True
                audit.record(org.id, "employee.reactivated", actor=actor, subject=user)
        touched.append((user, row))
    for user, row in touched:
        profile = directory.profiles.get(user.id)
        if profile is None:
            profile = EmployeeProfile(organization_id=org.id, user_id=user.id)
            db.session.add(profile)
            directory.profiles[user.id] = profile
        manager = directory.by_email.get(row.manager_email) if row.manager_email else None
        profile.department, profile.location = row.department, row.location
        profile.hire_date = row.hire_date
        profile.manager_id = manager.id if manager else None
        profile.left_at = None
        profile.updated_at = now
    for email in checked.deactivate:
        user = directory.by_email[email]
        user.active = False
        directory.profiles[user.id].left_at = now
        audit.record(org.id, "employee.deactivated", actor=actor, subject=user,
                     reason="missing from the complete roster")
    db.session.flush()
    counts = checked.counts()
    audit.record(org.id, "roster.imported", actor=actor, source=source, **counts)
    return RosterResult(counts, [user.id for user, _ in touched])


def deactivate(user: User, *, actor: User | None = None, reason: str = "left") -> None:
    """Mark one person as gone: the account is disabled, every record is kept."""
    if not user.active:
        return
    user.active = False
    profile = db.session.execute(
        select(EmployeeProfile).filter_by(user_id=user.id)).scalar_one_or_none()
    if profile is not None:
        profile.left_at = utcnow()
    audit.record(user.organization_id, "employee.deactivated", actor=actor, subject=user,
                 reason=reason)
    db.session.flush()
