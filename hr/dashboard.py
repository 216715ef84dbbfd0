"""HR's questions as queries: filters, headline numbers, trends, the people table, a timeline.

Every query here takes the organisation id explicitly and filters on it first: HR of one
organisation sees only its organisation.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta

from sqlalchemy import Integer, Select, and_, case, cast, func, or_, select
from sqlalchemy.orm import aliased

from certificates.models import Certificate
from course.models import Course, Enrollment, LessonProgress, PolicyAcknowledgment
from lms_plugin.core.extensions import db
from lms_plugin.core.models import AuditEntry, User
from lms_plugin.core.timeutil import utcnow
from quizzes.models import Attempt, QuizVersion

from . import rights
from .models import EmployeeProfile, PostingRightsStatus

ENROLLMENT_STATUSES = {"completed": "Completed", "in_progress": "In progress",
                       "overdue": "Overdue"}
SORTS = ("name", "department", "location", "manager", "hire_date", "completed", "overdue",
         "status")
PAGE_SIZE = 50

Manager = aliased(User, name="manager")


@dataclass(frozen=True)
class Filters:
    department: str = ""
    manager_id: int | None = None
    location: str = ""
    cohort: str = ""  # hire month "YYYY-MM" or year "YYYY"
    course_id: int | None = None
    status: str = ""  # one of ENROLLMENT_STATUSES
    problems: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_args(cls, args) -> Filters:
        """Read the query string; a value that makes no sense is dropped with a message."""
        problems = []

        def number(key: str, label: str) -> int | None:
            raw = (args.get(key) or "").strip()
            if not raw:
                return None
            if raw.isdigit():
                return int(raw)
            problems.append(f"{label} filter {raw[:40]!r} is not valid and was ignored")
            return None

        cohort = (args.get("cohort") or "").strip()
        if cohort and not _cohort_range(cohort):
            problems.append(f"hire cohort {cohort[:20]!r} is not YYYY or YYYY-MM and was "
                            "ignored")
            cohort = ""
        status = (args.get("status") or "").strip()
        if status and status not in ENROLLMENT_STATUSES:
            problems.append(f"status {status[:20]!r} is unknown and was ignored")
            status = ""
        return cls(department=(args.get("department") or "").strip()[:120],
                   manager_id=number("manager", "manager"),
                   location=(args.get("location") or "").strip()[:120],
                   cohort=cohort, course_id=number("course", "course"), status=status,
                   problems=tuple(problems))

    def as_args(self) -> dict[str, str]:
        values = {"department": self.department, "manager": self.manager_id or "",
                  "location": self.location, "cohort": self.cohort,
                  "course": self.course_id or "", "status": self.status}
        return {k: str(v) for k, v in values.items() if v}

    def describe(self) -> str:
        parts = [f"{k}: {v}" for k, v in self.as_args().items()]
        return "; ".join(parts) if parts else "everyone"


def _cohort_range(cohort: str) -> tuple[date, date] | None:
    try:
        if len(cohort) == 4 and cohort.isdigit():
            return date(int(cohort), 1, 1), date(int(cohort) + 1, 1, 1)
        if len(cohort) == 7 and cohort[4] == "-":
            start = date(int(cohort[:4]), int(cohort[5:]), 1)
            end = date(start.year + start.month // 12, start.month % 12 + 1, 1)
            return start, end
    except ValueError:
        return None
    return None


def people_query(organization_id: int, filters: Filters, *columns,
                 profile: bool = True) -> Select:
    """Active people of the organisation matching the person filters (profile outer-joined).

    A count that reads no profile column passes ``profile=False``: the profile is then
    joined only when a person filter needs it (one lookup less per person; the outer join
    on the unique user_id never changes a count).
    """
    query = select(*columns).select_from(User)
    if profile or filters.department or filters.location or filters.manager_id \
            or filters.cohort:
        query = query.outerjoin(EmployeeProfile, EmployeeProfile.user_id == User.id)
    query = query.where(User.organization_id == organization_id, User.active)
    if filters.department:
        query = query.where(EmployeeProfile.department == filters.department)
    if filters.location:
        query = query.where(EmployeeProfile.location == filters.location)
    if filters.manager_id:
        query = query.where(EmployeeProfile.manager_id == filters.manager_id)
    if filters.cohort:
        start, end = _cohort_range(filters.cohort)
        query = query.where(EmployeeProfile.hire_date >= start, EmployeeProfile.hire_date < end)
    return query


def status_condition(status: str, now: datetime):
    if status == "completed":
        return Enrollment.completed_at.is_not(None)
    if status == "overdue":
        return and_(Enrollment.completed_at.is_(None), Enrollment.due_at < now)
    return and_(Enrollment.completed_at.is_(None),
                or_(Enrollment.due_at.is_(None), Enrollment.due_at >= now))


def enrollment_status(now: datetime):
    return case((Enrollment.completed_at.is_not(None), "completed"),
                (Enrollment.due_at < now, "overdue"), else_="in_progress")


def enrollments_query(organization_id: int, filters: Filters, now: datetime, *columns,
                      apply_status: bool = True, profile: bool = True) -> Select:
    query = people_query(organization_id, filters, *columns, profile=profile).join(
        Enrollment, and_(Enrollment.user_id == User.id,
                         Enrollment.organization_id == organization_id))
    if filters.course_id:
        query = query.where(Enrollment.course_id == filters.course_id)
    if apply_status and filters.status:
        query = query.where(status_condition(filters.status, now))
    return query


@dataclass
class Trend:
    labels: list[str]
    completion_rate: list[float]
    overdue: list[int]
    completed: list[int]
    enrolled: list[int] = field(default_factory=list)


@dataclass
class Summary:
    enrollments: int
    completed: int
    in_progress: int
    overdue: int
    expiring_30: int
    people: int
    rights: dict[str, int]
    rights_as_of: datetime | None

    @property
    def completion_rate(self) -> float:
        return 100.0 * self.completed / self.enrollments if self.enrollments else 0.0


def summary(organization_id: int, filters: Filters, now: datetime | None = None,
            trend: Trend | None = None) -> Summary:
    """Headline numbers. Given the ``trend`` for the same filters and moment (and no status
    filter, which the trend ignores), its last point is "now" and saves a second scan."""
    now = now or utcnow()
    if trend is not None and not filters.status and trend.enrolled:
        total, done, late = trend.enrolled[-1], trend.completed[-1], trend.overdue[-1]
    else:
        completed = func.sum(case((Enrollment.completed_at.is_not(None), 1), else_=0))
        overdue = func.sum(case((status_condition("overdue", now), 1), else_=0))
        total, done, late = db.session.execute(
            enrollments_query(organization_id, filters, now, func.count(Enrollment.id),
                              completed, overdue, profile=False)).one()
        total, done, late = int(total or 0), int(done or 0), int(late or 0)
    expiring = people_query(organization_id, filters, func.count(Certificate.id),
                            profile=False).join(
        Certificate, and_(Certificate.user_id == User.id,
                          Certificate.organization_id == organization_id)).where(
        Certificate.revoked_at.is_(None), Certificate.expires_at > now,
        Certificate.expires_at <= now + timedelta(days=30))
    if filters.course_id:
        expiring = expiring.where(Certificate.course_id == filters.course_id)
    # People and their posting-rights answers in one pass: the group without an answer
    # (NULL) counts towards the people only.
    by_status = db.session.execute(
        people_query(organization_id, filters, PostingRightsStatus.status,
                     func.count(User.id), profile=False)
        .outerjoin(PostingRightsStatus, PostingRightsStatus.user_id == User.id)
        .group_by(PostingRightsStatus.status)).all()
    people = sum(int(count) for _, count in by_status)
    rights_counts = {status: count for status, count in by_status if status is not None}
    return Summary(total, done, total - done - late, late,
                   int(db.session.execute(expiring).scalar() or 0), people,
                   {s: int(rights_counts.get(s, 0)) for s in rights.STATUSES
                    if rights_counts.get(s) or s in ("eligible", "in_training", "not_started")},
                   None)


WEEK_ORIGIN_OFFSET = 10_000  # weeks before "now": every stored time is after it


def _week_number(column, origin: datetime):
    """Whole weeks from ``origin`` to ``column`` (NULL stays NULL), in the database."""
    if db.engine.dialect.name == "sqlite":
        # Times are stored as ISO text; origin is far enough back that truncation floors.
        return cast((func.julianday(column) - func.julianday(
            origin.strftime("%Y-%m-%d %H:%M:%S.%f"))) / 7, Integer)
    return cast(func.floor(func.date_part("epoch", column - origin) / 604800), Integer)


def trend(organization_id: int, filters: Filters, now: datetime | None = None,
          weeks: int = 12) -> Trend:
    """Week by week, computed from the enrolment timestamps (no snapshots needed).

    One scan groups enrolments by the week they were enrolled, completed and due; the
    running totals are added up here. The point for week i is the state at ``now`` minus
    ``weeks - 1 - i`` weeks.
    """
    now = now or utcnow()
    origin = now - timedelta(weeks=WEEK_ORIGIN_OFFSET)
    enrolled = _week_number(Enrollment.enrolled_at, origin)
    completed = _week_number(Enrollment.completed_at, origin)
    due = _week_number(Enrollment.due_at, origin)
    groups = db.session.execute(
        enrollments_query(organization_id, filters, now, enrolled.label("e"),
                          completed.label("c"), due.label("d"), func.count(),
                          apply_status=False, profile=False)
        .group_by(enrolled, completed, due)).all()
    points = [now - timedelta(weeks=weeks - 1 - i) for i in range(weeks)]
    result = Trend([t.strftime("%d %b") for t in points], [], [], [])
    for i in range(weeks):
        # Times before the point t fall in a week number below this boundary.
        boundary = WEEK_ORIGIN_OFFSET - (weeks - 1 - i)
        enrolled_by = completed_by = overdue = 0
        for e, c, d, count in groups:
            if e is not None and e < boundary:
                enrolled_by += count
            if c is not None and c < boundary:
                completed_by += count
            if d is not None and d < boundary and (c is None or c >= boundary):
                overdue += count
        result.completion_rate.append(round(100.0 * completed_by / enrolled_by, 1)
                                      if enrolled_by else 0)
        result.completed.append(completed_by)
        result.overdue.append(overdue)
        result.enrolled.append(enrolled_by)
    return result


def choices(organization_id: int) -> dict[str, list]:
    """The values the filter menus offer, from the organisation's own data."""
    def distinct(column):
        return [v for v in db.session.execute(
            select(column).distinct().where(EmployeeProfile.organization_id == organization_id,
                                            column.is_not(None), column != "")
            .order_by(column)).scalars()]

    managers = db.session.execute(
        select(User.id, User.name).where(User.id.in_(
            select(EmployeeProfile.manager_id).where(
                EmployeeProfile.organization_id == organization_id)),
            User.organization_id == organization_id).order_by(User.name)).all()
    courses = db.session.execute(
        select(Course.id, Course.title).where(Course.organization_id == organization_id)
        .order_by(Course.title)).all()
    hire_years = sorted({d.year for d in db.session.execute(
        select(EmployeeProfile.hire_date).distinct().where(
            EmployeeProfile.organization_id == organization_id,
            EmployeeProfile.hire_date.is_not(None))).scalars()}, reverse=True)
    return {"departments": distinct(EmployeeProfile.department),
            "locations": distinct(EmployeeProfile.location),
            "managers": managers, "courses": courses, "cohorts": [str(y) for y in hire_years]}


@dataclass
class PersonRow:
    user_id: int
    name: str
    email: str
    department: str
    location: str
    manager: str
    hire_date: date | None
    enrolled: int
    completed: int
    overdue: int
    status: str | None


@dataclass
class Page:
    rows: list[PersonRow]
    total: int
    page: int
    pages: int
    sort: str
    descending: bool


def people_page(organization_id: int, filters: Filters, *, sort: str = "name",
                descending: bool = False, page: int = 1, now: datetime | None = None,
                per_page: int = PAGE_SIZE) -> Page:
    now = now or utcnow()
    sort = sort if sort in SORTS else "name"
    per_enrollment = select(
        Enrollment.user_id.label("user_id"),
        func.count(Enrollment.id).label("enrolled"),
        func.sum(case((Enrollment.completed_at.is_not(None), 1), else_=0)).label("completed"),
        func.sum(case((status_condition("overdue", now), 1), else_=0)).label("overdue"),
    ).where(Enrollment.organization_id == organization_id)
    if filters.course_id:
        per_enrollment = per_enrollment.where(Enrollment.course_id == filters.course_id)
    if filters.status:
        per_enrollment = per_enrollment.where(status_condition(filters.status, now))
    # Enrolment figures decide who is listed (course/status filters) or the order: then they
    # are aggregated for everyone. Otherwise only for the one page shown, which keeps the
    # page fast for 100,000 people.
    by_enrollment = bool(filters.course_id or filters.status or sort in ("completed",
                                                                          "overdue"))
    person_order = {"name": User.name, "department": EmployeeProfile.department,
                    "location": EmployeeProfile.location, "manager": Manager.name,
                    "hire_date": EmployeeProfile.hire_date,
                    "status": PostingRightsStatus.status}

    def listing(*columns):
        return people_query(organization_id, filters, *columns).outerjoin(
            Manager, Manager.id == EmployeeProfile.manager_id).outerjoin(
            PostingRightsStatus, PostingRightsStatus.user_id == User.id)

    if by_enrollment:
        stats = per_enrollment.group_by(Enrollment.user_id).subquery()
        order = {"completed": stats.c.completed, "overdue": stats.c.overdue}.get(
            sort, person_order.get(sort))
        joined = listing(User.id).join(stats, stats.c.user_id == User.id) \
            if filters.course_id or filters.status else \
            listing(User.id).outerjoin(stats, stats.c.user_id == User.id)
        total = db.session.execute(select(func.count()).select_from(joined.subquery())).scalar()
    else:
        order = person_order[sort]
        total = db.session.execute(people_query(organization_id, filters,
                                                func.count(User.id), profile=False)).scalar()
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    direction = order.desc() if descending else order.asc()
    page_ids = None
    if not by_enrollment:
        # The page's ids once, as a list: the row query and the figures then touch only
        # those people instead of sorting everyone a second time.
        page_ids = list(db.session.execute(
            listing(User.id).order_by(direction, User.id).limit(per_page).offset(
                (page - 1) * per_page)).scalars())
        stats = per_enrollment.where(Enrollment.user_id.in_(page_ids)).group_by(
            Enrollment.user_id).subquery()
    query = listing(
        User.id, User.name, User.email, func.coalesce(EmployeeProfile.department, ""),
        func.coalesce(EmployeeProfile.location, ""), func.coalesce(Manager.name, ""),
        EmployeeProfile.hire_date, func.coalesce(stats.c.enrolled, 0),
        func.coalesce(stats.c.completed, 0), func.coalesce(stats.c.overdue, 0),
        PostingRightsStatus.status)
    query = query.join(stats, stats.c.user_id == User.id) \
        if filters.course_id or filters.status else \
        query.outerjoin(stats, stats.c.user_id == User.id)
    if by_enrollment and sort in ("completed", "overdue"):
        direction = func.coalesce(order, 0).desc() if descending else \
            func.coalesce(order, 0).asc()
    if page_ids is not None:
        query = query.where(User.id.in_(page_ids)).order_by(direction, User.id)
    else:
        query = query.order_by(direction, User.id).limit(per_page).offset(
            (page - 1) * per_page)
    rows = db.session.execute(query).all()
    return Page([PersonRow(*row) for row in rows], total, page, pages, sort, descending)


@dataclass(frozen=True)
class Event:
    when: datetime
    kind: str
    text: str


def timeline(organization_id: int, user: User) -> list[Event]:
    """Everything that happened to one person's training, newest first."""
    assert user.organization_id == organization_id
    events: list[Event] = []
    enrollments = db.session.execute(
        select(Enrollment, Course).join(Course, Course.id == Enrollment.course_id)
        .where(Enrollment.user_id == user.id, Enrollment.organization_id == organization_id)
    ).all()
    for enrollment, course in enrollments:
        due = f", due {enrollment.due_at:%d %b %Y}" if enrollment.due_at else ""
        events.append(Event(enrollment.enrolled_at, "Enrolled",
                            f"Enrolled in {course.title} (round {enrollment.cycle}){due}"))
        if enrollment.completed_at:
            events.append(Event(enrollment.completed_at, "Completed",
                                f"Completed {course.title}"))
    for progress, in db.session.execute(
            select(LessonProgress).where(LessonProgress.organization_id == organization_id,
                                         LessonProgress.enrollment_id.in_(
                                             [e.id for e, _ in enrollments]))).all():
        events.append(Event(progress.read_at, "Lesson", f"Read lesson {progress.lesson_slug}"))
    for attempt, quiz in db.session.execute(
            select(Attempt, QuizVersion)
            .join(QuizVersion, QuizVersion.id == Attempt.quiz_version_id)
            .where(Attempt.user_id == user.id, Attempt.organization_id == organization_id)).all():
        if attempt.submitted_at:
            outcome = "passed" if attempt.passed else "not passed"
            events.append(Event(attempt.submitted_at, "Quiz attempt",
                                f"{quiz.title}: {attempt.percent or 0:.0f}%, {outcome}"))
        else:
            events.append(Event(attempt.started_at, "Quiz attempt",
                                f"{quiz.title}: started, not submitted"))
    for ack, in db.session.execute(
            select(PolicyAcknowledgment).where(PolicyAcknowledgment.user_id == user.id,
                                               PolicyAcknowledgment.organization_id ==
                                               organization_id)).all():
        events.append(Event(ack.acknowledged_at, "Policy",
                            f"Acknowledged policy version {ack.policy_version.number} as "
                            f"'{ack.typed_name}'"))
    for certificate, in db.session.execute(
            select(Certificate).where(Certificate.user_id == user.id,
                                      Certificate.organization_id == organization_id)).all():
        expires = f", expires {certificate.expires_at:%d %b %Y}" if certificate.expires_at else ""
        events.append(Event(certificate.issued_at, "Certificate",
                            f"Certificate for {certificate.course_title} issued{expires}"))
        if certificate.revoked_at:
            events.append(Event(certificate.revoked_at, "Certificate",
                                f"Certificate for {certificate.course_title} revoked: "
                                f"{certificate.revoked_reason or 'no reason given'}"))
    for entry, in db.session.execute(
            select(AuditEntry).where(
                AuditEntry.organization_id == organization_id,
                AuditEntry.subject_type == "User", AuditEntry.subject_id == str(user.id),
            )).all():
        label = "Posting rights" if entry.action.startswith(("posting_rights", "rights")) \
            else "Record"
        reason = f": {entry.reason}" if entry.reason else ""
        events.append(Event(entry.created_at, label, f"{entry.action}{reason}"))
    events.extend(_shares(organization_id, user))
    return sorted(events, key=lambda e: e.when, reverse=True)


def _shares(organization_id: int, user: User) -> list[Event]:
    """Shares, when the advocacy hub's table exists (it is built by another feature)."""
    table = next((db.metadata.tables[name] for name in ("share", "advocacy_share", "post_share")
                  if name in db.metadata.tables), None)
    if table is None or not {"user_id", "organization_id"} <= set(table.c.keys()):
        return []
    when = next((table.c[name] for name in ("shared_at", "created_at") if name in table.c), None)
    if when is None:
        return []
    rows = db.session.execute(select(when).where(table.c.user_id == user.id,
                                                 table.c.organization_id == organization_id))
    return [Event(value, "Share", "Shared a post") for value, in rows if value is not None]


def with_filters(filters: Filters, **changes) -> Filters:
    return replace(filters, **changes)
