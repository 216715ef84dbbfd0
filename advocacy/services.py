"""Posting rights: the one function that decides whether an employee may post, and its transitions.

``posting_rights_for`` is the rule. Everything else (the API, the hub, webhooks, the sweep)
asks it. Because the answer is derived, a transition is found by comparing the answer with
the last status recorded in ``PostingRightsState``; ``refresh_posting_rights`` does that and
writes the audit entry and the webhook outbox messages in the caller's transaction.
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from flask import Flask, current_app
from sqlalchemy import and_, bindparam, event, exists, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, lazyload

from certificates.models import Certificate
from course.models import Course, Enrollment, PolicyAcknowledgment, PolicyVersion
from lms_plugin.core import audit, outbox
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Organization, User
from lms_plugin.core.timeutil import utcnow

from .models import PostingRightsState, Share, Suspension, WebhookEndpoint

STATUSES = (
    "not_started",
    "in_training",
    "eligible",
    "probation",
    "expired",
    "policy_update_required",
    "suspended",
)
#: Statuses in which the employee may share from the hub (in probation, through approval).
MAY_SHARE = ("eligible", "probation")
WEBHOOK_TOPIC = "advocacy.webhook"


class AdvocacyError(ValueError):
    """A request the rules refuse; the message says what to do instead."""


@dataclass(frozen=True)
class Step:
    """Something the employee must do to (re)gain posting rights, for a link in the hub."""

    kind: str  # course | policy | probation | hr
    text: str
    course_id: int | None = None


@dataclass(frozen=True)
class PostingRights:
    eligible: bool
    status: str  # one of STATUSES
    reasons: list[str] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    probation_remaining: int = 0

    @property
    def may_share(self) -> bool:
        return self.status in MAY_SHARE

    def as_json(self) -> dict:
        body = {"eligible": self.eligible, "status": self.status, "reasons": self.reasons}
        if self.status == "probation":
            body["probation_remaining"] = self.probation_remaining
        return body


def open_suspension(user: User) -> Suspension | None:
    return db.session.execute(
        select(Suspension)
        .where(Suspension.user_id == user.id, Suspension.reinstated_at.is_(None))
        .order_by(Suspension.suspended_at.desc())
        .limit(1)
    ).scalar_one_or_none()


def approved_probation_shares(user: User | Employee) -> int:
    return db.session.execute(
        select(func.count(Share.id)).where(
            Share.user_id == user.id, Share.during_probation.is_(True), Share.status == "approved"
        )
    ).scalar_one()


def _probation_shares(settings: dict | None) -> int:
    try:
        return max(0, int((settings or {}).get("probation_shares", 0) or 0))
    except (TypeError, ValueError):
        return 0


def _facts_statements():
    """Built once with bound parameters: building a statement costs more than running it."""
    user_id, org_id = bindparam("user_id"), bindparam("org_id")
    current_policy = (
        select(PolicyVersion.id)
        .where(PolicyVersion.organization_id == org_id)
        .order_by(PolicyVersion.number.desc())
        .limit(1)
        .scalar_subquery()
    )
    row = select(
        Organization.settings,
        select(Suspension.id)
        .where(Suspension.user_id == user_id, Suspension.reinstated_at.is_(None))
        .order_by(Suspension.suspended_at.desc())
        .limit(1)
        .scalar_subquery(),
        current_policy,
        select(PolicyAcknowledgment.id)
        .where(
            PolicyAcknowledgment.user_id == user_id,
            PolicyAcknowledgment.policy_version_id == current_policy,
        )
        .limit(1)
        .scalar_subquery(),
    ).where(Organization.id == org_id)
    enrolled = exists().where(Enrollment.user_id == user_id, Enrollment.course_id == Course.id)
    courses = (
        select(
            Course.id,
            Course.title,
            Certificate.id,
            Certificate.revoked_at,
            Certificate.expires_at,
            enrolled,
        )
        .select_from(Course)
        .outerjoin(
            Certificate, and_(Certificate.course_id == Course.id, Certificate.user_id == user_id)
        )
        .where(Course.organization_id == org_id, Course.required_for_posting.is_(True))
        .order_by(Course.id, Certificate.id)
    )
    return row, courses


_FACTS_ROW, _FACTS_COURSES = _facts_statements()


class Employee(NamedTuple):
    """The three facts about the account itself that the rule reads (the API loads only these)."""

    id: int
    organization_id: int
    active: bool


def _read_connection():
    """The session's connection for plain column reads: no ORM result machinery (measurably
    cheaper on the hot API path), after the autoflush the session would have done itself."""
    session = db.session()
    if session.autoflush and (session.new or session.dirty or session.deleted):
        session.flush()
    return session.connection()


def _facts(user: User | Employee):
    """Everything the rule reads, in two indexed queries (the eligibility API is hot)."""
    params = {"user_id": user.id, "org_id": user.organization_id}
    connection = _read_connection()
    return (
        connection.execute(_FACTS_ROW, params).one(),
        connection.execute(_FACTS_COURSES, params).all(),
    )


def _certificate_status(revoked_at, expires_at, now: datetime) -> str:
    """The same reading as ``Certificate.status``, on bare columns."""
    if revoked_at is not None:
        return "revoked"
    if expires_at is not None and expires_at <= now:
        return "expired"
    return "valid"


def posting_rights_for(user: User | Employee, now: datetime | None = None) -> PostingRights:
    """The rule: active, every required course certified and valid, policy acknowledged,
    no suspension in force; then, if the organisation asks for it, a probation period."""
    now = now or utcnow()
    if not user.active:
        return PostingRights(
            False,
            "suspended",
            ["The account is deactivated."],
            [Step("hr", "Ask HR to reactivate your account.")],
        )
    (settings, suspension_id, policy_id, acknowledgment_id), courses = _facts(user)
    if suspension_id is not None:
        suspension = db.session.get(Suspension, suspension_id)
        return PostingRights(
            False,
            "suspended",
            [
                f"Posting rights were suspended on {suspension.suspended_at:%d %B %Y}: "
                f"{suspension.reason}"
            ],
            [Step("hr", "Only HR or an administrator can reinstate posting rights.")],
        )

    by_course: dict[int, tuple[str, set[str], bool]] = {}
    for course_id, title, certificate_id, revoked_at, expires_at, enrolled in courses:
        _, seen, _ = by_course.setdefault(course_id, (title, set(), bool(enrolled)))
        if certificate_id is not None:
            seen.add(_certificate_status(revoked_at, expires_at, now))
    reasons: list[str] = []
    steps: list[Step] = []
    statuses: set[str] = set()
    for course_id, (title, mine, enrolled) in by_course.items():
        if "valid" in mine:
            continue
        if "expired" in mine:
            statuses.add("expired")
            text = f"The certificate for '{title}' has expired: retake the course."
        elif "revoked" in mine:
            statuses.add("in_training")
            text = f"The certificate for '{title}' was revoked: ask HR why, then retake the course."
        elif enrolled:
            statuses.add("in_training")
            text = f"'{title}' is not completed yet."
        else:
            statuses.add("not_started")
            text = f"Not enrolled in '{title}' yet: ask HR or your trainer to enrol you."
        reasons.append(text)
        steps.append(Step("course", text, course_id))

    if policy_id is not None and acknowledgment_id is None:
        policy = db.session.get(PolicyVersion, policy_id)
        statuses.add("policy_update_required")
        text = (
            f"Read and acknowledge the social media policy (version {policy.number}, "
            f"'{policy.title}')."
        )
        reasons.append(text)
        steps.append(Step("policy", text))

    for status in ("expired", "in_training", "not_started", "policy_update_required"):
        if status in statuses:
            return PostingRights(False, status, reasons, steps)

    required_shares = _probation_shares(settings)
    if required_shares:
        approved = approved_probation_shares(user)
        if approved < required_shares:
            remaining = required_shares - approved
            text = (
                f"Probation: your shares are reviewed before they count. "
                f"{approved} of {required_shares} approved; {remaining} to go."
            )
            return PostingRights(
                False, "probation", [text], [Step("probation", text)], probation_remaining=remaining
            )
    return PostingRights(True, "eligible", [])


_FIND_EMPLOYEE = (
    select(User)
    .options(lazyload(User.role_rows))
    .where(
        User.organization_id == bindparam("org_id"),
        or_(User.email == bindparam("email"), User.external_id == bindparam("identifier")),
    )
    .order_by(User.id)
    .limit(1)
)


_FIND_EMPLOYEE_FACTS = (
    select(User.id, User.organization_id, User.active)
    .where(
        User.organization_id == bindparam("org_id"),
        or_(User.email == bindparam("email"), User.external_id == bindparam("identifier")),
    )
    .order_by(User.id)
    .limit(1)
)


def _identifier_params(organization_id: int, identifier: str) -> dict:
    return {"org_id": organization_id, "email": identifier.lower(), "identifier": identifier}


def find_employee_facts(organization_id: int, identifier: str) -> Employee | None:
    """``find_employee`` for the hot API path: the same match, only the columns the rule reads."""
    identifier = identifier.strip()
    if not identifier:
        return None
    row = (
        _read_connection()
        .execute(_FIND_EMPLOYEE_FACTS, _identifier_params(organization_id, identifier))
        .one_or_none()
    )
    return Employee(*row) if row is not None else None


def find_employee(organization_id: int, identifier: str) -> User | None:
    """By e-mail or external id, only within ``organization_id``."""
    identifier = identifier.strip()
    if not identifier:
        return None
    return db.session.execute(
        _FIND_EMPLOYEE, _identifier_params(organization_id, identifier)
    ).scalar_one_or_none()


def find_employees(organization_id: int, identifiers: list[str]) -> dict[str, User]:
    """Many at once (the batch API): identifier -> user, only within ``organization_id``."""
    cleaned = {i.strip() for i in identifiers if i.strip()}
    if not cleaned:
        return {}
    users = db.session.execute(
        select(User)
        .options(lazyload(User.role_rows))
        .where(
            User.organization_id == organization_id,
            or_(User.email.in_({i.lower() for i in cleaned}), User.external_id.in_(cleaned)),
        )
        .order_by(User.id)
    ).scalars()
    by_key: dict[str, User] = {}
    for user in users:
        by_key.setdefault(user.email, user)
        if user.external_id:
            by_key.setdefault(user.external_id, user)
    found = {}
    for identifier in identifiers:
        key = identifier.strip()
        user = by_key.get(key) or by_key.get(key.lower())
        if user is not None:
            found[identifier] = user
    return found


# -- the eligibility API's brief answer cache -------------------------------------------------
# Advocacy platforms ask about the same people again and again (before every post). The API
# keeps ``posting_rights_for``'s answer for a few seconds: the rule is still only computed
# there. Any write committed (or flushed) in this process forgets every answer at once, so a
# suspension, a revoked certificate, a new policy or a new certificate is seen by the next
# request here; other processes see it within RIGHTS_CACHE_SECONDS, and so does what time
# alone changes (a certificate expiring).

#: Seconds an answer may be reused (app config RIGHTS_CACHE_SECONDS; 0 turns caching off).
RIGHTS_CACHE_SECONDS = 2.0
RIGHTS_CACHE_SIZE = 10_000

_write_generation = itertools.count(1)
_generation = 0
_generation_lock = threading.Lock()
_BEGUN_AT = "advocacy_rights_generation"


def _bump_generation(*_args: object, **_kwargs: object) -> None:
    """A write happened somewhere in this process: answers read before it are stale."""
    global _generation
    with _generation_lock:
        _generation = next(_write_generation)


def _note_transaction_begin(session: Session, transaction, connection) -> None:
    # What this transaction reads may be as old as its start (SQLite snapshots there), so an
    # answer computed in it is stamped with the generation current when it began.
    session.info.setdefault(_BEGUN_AT, _generation)


def _forget_transaction_begin(session: Session, *_args: object) -> None:
    session.info.pop(_BEGUN_AT, None)


def _bump_if_written(session: Session, flush_context) -> None:
    _bump_generation()


class RightsCache:
    """(organisation id, identifier as sent) -> the answer, for ``ttl`` seconds, LRU-bounded.

    An entry is only served while no write has happened in this process since the
    transaction that computed it began (the generation), and while it is younger than ``ttl``.
    """

    def __init__(self, ttl: float = RIGHTS_CACHE_SECONDS, size: int = RIGHTS_CACHE_SIZE):
        self.ttl, self.size = ttl, size
        self._entries: OrderedDict[tuple[int, str], tuple[float, int, dict]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, organization_id: int, identifier: str) -> dict | None:
        key = (organization_id, identifier)
        with self._lock:
            hit = self._entries.get(key)
            if hit is None:
                return None
            stored_at, generation, answer = hit
            if generation != _generation or time.monotonic() - stored_at >= self.ttl:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return answer

    def put(self, organization_id: int, identifier: str, generation: int, answer: dict) -> None:
        if self.ttl <= 0 or self.size <= 0 or generation != _generation:
            return
        key = (organization_id, identifier)
        with self._lock:
            self._entries[key] = (time.monotonic(), generation, answer)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def rights_cache(app: Flask | None = None) -> RightsCache:
    """This application's answer cache (one per app, so test apps never share answers)."""
    app = app or current_app
    cache = app.extensions.get("advocacy_rights_cache")
    if cache is None:
        cache = app.extensions["advocacy_rights_cache"] = RightsCache(
            float(app.config.get("RIGHTS_CACHE_SECONDS", RIGHTS_CACHE_SECONDS))
        )
    return cache


def posting_rights_json(organization_id: int, identifier: str) -> dict | None:
    """The API's answer for one identifier in ``organization_id`` (None: no such employee),
    from ``posting_rights_for``, reused for at most RIGHTS_CACHE_SECONDS."""
    cache = rights_cache()
    answer = cache.get(organization_id, identifier)
    if answer is not None:
        return answer
    employee = find_employee_facts(organization_id, identifier)
    if employee is None:
        return None
    answer = posting_rights_for(employee).as_json()
    session = db.session()
    cache.put(organization_id, identifier, session.info.get(_BEGUN_AT, -1), answer)
    return answer


def connect_rights_cache() -> None:
    for target, name, fn in (
        (Engine, "commit", _bump_generation),
        (Session, "after_flush", _bump_if_written),
        (Session, "after_commit", _bump_generation),
        (Session, "after_begin", _note_transaction_begin),
        (Session, "after_transaction_end", _forget_transaction_begin),
    ):
        if not event.contains(target, name, fn):
            event.listen(target, name, fn)


# -- transitions --------------------------------------------------------------------------


def _transition(previous: str, current: str) -> str | None:
    """Name the change from ``previous`` to ``current`` as an event, or None if it is not one."""
    if previous == current:
        return None
    if current == "suspended":
        return "suspended"
    if previous == "suspended":
        return "reinstated"
    if current in MAY_SHARE:
        # Probation -> eligible is the grant of full rights; anything else -> eligible too.
        return "granted"
    if current == "expired":
        return "expired"
    if current == "policy_update_required":
        return "policy_update_required"
    if previous in MAY_SHARE:
        return "revoked"  # a certificate withdrawn, a required course added, ...
    return None  # not_started <-> in_training: training progress, not a rights change


def new_event_id() -> str:
    return f"evt_{uuid.uuid4().hex}"


def refresh_posting_rights(
    user: User, *, actor: User | None = None, reason: str | None = None, cause: str | None = None
) -> PostingRights:
    """Recompute; on a status change, audit it and queue the webhooks (same transaction)."""
    rights = posting_rights_for(user)
    state = db.session.get(PostingRightsState, user.id)
    previous = state.status if state is not None else "not_started"
    if state is None:
        state = PostingRightsState(
            user_id=user.id,
            organization_id=user.organization_id,
            status=rights.status,
            changed_at=utcnow(),
        )
        db.session.add(state)
    elif state.status != rights.status:
        state.status = rights.status
        state.changed_at = utcnow()
    name = _transition(previous, rights.status)
    if name is not None:
        _announce(user, name, previous, rights, actor=actor, reason=reason, cause=cause)
    db.session.flush()
    return rights


def _announce(
    user: User,
    name: str,
    previous: str,
    rights: PostingRights,
    *,
    actor: User | None,
    reason: str | None,
    cause: str | None,
) -> None:
    event_id = new_event_id()
    audit.record(
        user.organization_id,
        f"posting_rights.{name}",
        actor=actor,
        subject=user,
        reason=reason,
        event_id=event_id,
        previous_status=previous,
        status=rights.status,
        reasons=rights.reasons,
        cause=cause,
    )
    body = {
        "id": event_id,
        "type": f"posting_rights.{name}",
        "created_at": utcnow().isoformat(),
        "data": {
            "email": user.email,
            "external_id": user.external_id,
            "previous_status": previous,
            **rights.as_json(),
        },
    }
    endpoints = db.session.execute(
        select(WebhookEndpoint.id).where(
            WebhookEndpoint.organization_id == user.organization_id,
            WebhookEndpoint.active.is_(True),
        )
    ).scalars()
    for endpoint_id in endpoints:
        outbox.enqueue(
            WEBHOOK_TOPIC,
            {"endpoint_id": endpoint_id, "event": body},
            organization_id=user.organization_id,
            dedupe_key=f"webhook:{event_id}:{endpoint_id}",
        )


def refresh_organization(organization_id: int, *, cause: str) -> int:
    """Refresh everyone in an organisation (a new policy version concerns all). Returns changes."""
    changed = 0
    for user in db.session.execute(
        select(User).where(User.organization_id == organization_id).order_by(User.id)
    ).scalars():
        before = db.session.get(PostingRightsState, user.id)
        before_status = before.status if before is not None else None
        if refresh_posting_rights(user, cause=cause).status != before_status:
            changed += 1
    return changed


def sweep(now: datetime | None = None, *, everyone: bool = False) -> dict[str, int]:
    """Find what time alone changed (certificates expiring): run from cron via ``cleared sweep``.

    ``everyone`` recomputes every user instead: once after installing or upgrading, to record
    the statuses of people certified before transitions were tracked.
    """
    now = now or utcnow()
    if everyone:
        query = select(User).order_by(User.id)
    else:
        due_users = select(Certificate.user_id).where(
            Certificate.expires_at.is_not(None), Certificate.expires_at <= now
        )
        query = (
            select(User)
            .join(PostingRightsState, PostingRightsState.user_id == User.id)
            .where(PostingRightsState.status.in_(MAY_SHARE), User.id.in_(due_users))
            .order_by(User.id)
        )
    counts = {"checked": 0, "changed": 0}
    for user in list(db.session.execute(query).scalars()):
        counts["checked"] += 1
        state = db.session.get(PostingRightsState, user.id)
        before = state.status if state is not None else None
        if refresh_posting_rights(user, cause="sweep").status != before:
            counts["changed"] += 1
    return counts


# -- suspensions --------------------------------------------------------------------------


def suspend(user: User, reason: str, *, by: User) -> Suspension:
    """Withdraw posting rights now, with the reason that the audit log and webhooks carry."""
    if by.organization_id != user.organization_id:
        raise AdvocacyError("you can only suspend people in your own organisation")
    reason = (reason or "").strip()
    if not reason:
        raise AdvocacyError("a reason is required: say what happened, for the audit log")
    if open_suspension(user) is not None:
        raise AdvocacyError(f"{user.name}'s posting rights are already suspended")
    suspension = Suspension(
        organization_id=user.organization_id,
        user_id=user.id,
        reason=reason[:2000],
        suspended_at=utcnow(),
        suspended_by_id=by.id,
    )
    db.session.add(suspension)
    db.session.flush()
    refresh_posting_rights(user, actor=by, reason=reason, cause="suspension")
    return suspension


def reinstate(user: User, reason: str, *, by: User) -> Suspension:
    """End the suspension in force; the employee's rights follow the rule again."""
    if by.organization_id != user.organization_id:
        raise AdvocacyError("you can only reinstate people in your own organisation")
    reason = (reason or "").strip()
    if not reason:
        raise AdvocacyError("a reason is required: say why the suspension ends")
    suspension = open_suspension(user)
    if suspension is None:
        raise AdvocacyError(f"{user.name}'s posting rights are not suspended")
    suspension.reinstated_at = utcnow()
    suspension.reinstated_by_id = by.id
    suspension.reinstate_reason = reason[:2000]
    db.session.flush()
    rights = refresh_posting_rights(user, actor=by, reason=reason, cause="reinstatement")
    if rights.status == "suspended":  # deactivated account: say so rather than pretend
        raise AdvocacyError("the suspension ended but the account itself is deactivated")
    return suspension


def suspensions_of(user: User) -> list[Suspension]:
    return list(
        db.session.execute(
            select(Suspension)
            .where(Suspension.user_id == user.id)
            .order_by(Suspension.suspended_at.desc())
        ).scalars()
    )


# -- keeping PostingRightsState current -----------------------------------------------------
# Anything that can change the answer marks the user (or the organisation, for a new policy)
# during the flush; just before the transaction commits, the marked ones are refreshed, so
# the audit entry and the webhook message commit with the change that caused them, whichever
# package made it.

_USERS, _ORGS = "advocacy_refresh_users", "advocacy_refresh_orgs"


def mark_user(user_id: int, session: Session | None = None) -> None:
    (session or db.session()).info.setdefault(_USERS, set()).add(user_id)


def _after_flush(session: Session, flush_context) -> None:
    for obj in list(session.new) + list(session.dirty) + list(session.deleted):
        if isinstance(obj, Certificate | PolicyAcknowledgment | Suspension | Share):
            mark_user(obj.user_id, session)
        elif isinstance(obj, User) and obj in session.dirty and obj.id is not None:
            mark_user(obj.id, session)
        elif isinstance(obj, PolicyVersion) and obj in session.new:
            session.info.setdefault(_ORGS, set()).add(obj.organization_id)


def _before_commit(session: Session) -> None:
    try:
        if session is not db.session():
            return  # a session of its own (a script's): the refresh reads through db.session
    except RuntimeError:  # outside an application context
        return
    session.flush()  # before_commit runs before the final flush: see every pending change
    for _ in range(5):  # a refresh may mark again (it flushes); settle in a few rounds
        orgs = session.info.pop(_ORGS, set())
        users = session.info.pop(_USERS, set())
        if not orgs and not users:
            return
        for org_id in sorted(orgs):
            refresh_organization(org_id, cause="policy_published")
        for user_id in sorted(users):
            user = session.get(User, user_id)
            if user is not None:
                refresh_posting_rights(user, cause="change")


def _after_rollback(session: Session, previous_transaction) -> None:
    if previous_transaction.nested or previous_transaction.parent is not None:
        return  # a savepoint rolled back (an outbox dedupe race): the outer work goes on
    session.info.pop(_USERS, None)
    session.info.pop(_ORGS, None)


def _on_certificate(sender: object, **extra: object) -> None:
    # Defensive about the sender: the certificate itself, or passed as ``certificate=``.
    certificate = extra.get("certificate", sender)
    user_id = getattr(certificate, "user_id", None)
    if user_id is not None:
        mark_user(user_id)


def connect_signals() -> None:
    from certificates import services as certificate_services

    certificate_services.certificate_issued.connect(_on_certificate)
    # Revocation is announced by name so this works whether or not the signal exists yet.
    certificate_services.signals.signal("certificate-revoked").connect(_on_certificate)
    revoked = getattr(certificate_services, "certificate_revoked", None)
    if revoked is not None:
        revoked.connect(_on_certificate)
    for name, fn in (
        ("after_flush", _after_flush),
        ("before_commit", _before_commit),
        ("after_soft_rollback", _after_rollback),
    ):
        if not event.contains(Session, name, fn):
            event.listen(Session, name, fn)


# -- the draft checker's rules for an organisation ----------------------------------------


def checker_rules(org: Organization):
    """The organisation's lexicon and limits as ``checker.Rules`` (the checker stays pure)."""
    from .checker import Rules
    from .models import ConfidentialTerm

    terms = db.session.execute(
        select(ConfidentialTerm.term, ConfidentialTerm.severity)
        .where(ConfidentialTerm.organization_id == org.id)
        .order_by(ConfidentialTerm.id)
    ).all()
    defaults = Rules()

    def number(key: str, default: int) -> int:
        try:
            return max(0, int(org.setting(key, default)))
        except (TypeError, ValueError):
            return default

    brand = [org.name.split(" (")[0]] + list(org.setting("brand_terms", []) or [])
    disclosures = tuple(org.setting("disclosures", []) or ()) + defaults.disclosures
    return Rules(
        confidential_terms=tuple((t, s) for t, s in terms),
        brand_terms=tuple(b for b in brand if b and b.strip()),
        disclosures=disclosures,
        max_hashtags=number("max_hashtags", defaults.max_hashtags),
        max_mentions=number("max_mentions", defaults.max_mentions),
        allowed_domains=tuple(org.setting("allowed_link_domains", []) or ()),
    )


def add_confidential_term(
    org: Organization, term: str, severity: str, note: str = "", *, actor: User | None = None
):
    from .models import ConfidentialTerm

    term = " ".join((term or "").split())
    if not term:
        raise AdvocacyError("the term is empty: type the word or phrase to flag")
    if len(term) > 200:
        raise AdvocacyError("the term is longer than 200 characters")
    if severity not in ("block", "review"):
        raise AdvocacyError("severity must be 'block' or 'review'")
    exists = db.session.execute(
        select(ConfidentialTerm.id).where(
            ConfidentialTerm.organization_id == org.id,
            func.lower(ConfidentialTerm.term) == term.lower(),
        )
    ).first()
    if exists is not None:
        raise AdvocacyError(f"'{term}' is already on the list")
    row = ConfidentialTerm(
        organization_id=org.id, term=term, severity=severity, note=(note or "").strip()[:300]
    )
    db.session.add(row)
    db.session.flush()
    audit.record(
        org.id, "checker.term_added", actor=actor, subject=row, term=term, severity=severity
    )
    return row


# -- the advocacy hub -------------------------------------------------------------------------

NETWORKS = {
    "linkedin": "LinkedIn",
    "x": "X",
    "facebook": "Facebook",
}


def publish_post(
    org: Organization,
    *,
    title: str,
    suggested_text: str,
    disclosure: str,
    link: str | None = None,
    image_url: str | None = None,
    hashtags: list[str] | None = None,
    networks: list[str] | None = None,
    expires_at: datetime | None = None,
    by: User | None = None,
    image: bytes | None = None,
):
    """Comms staff add an approved post to the library. Errors name the field at fault."""
    from .models import AdvocacyPost

    problems: dict[str, str] = {}
    title, suggested_text = (title or "").strip(), (suggested_text or "").strip()
    disclosure = " ".join((disclosure or "").split())
    if not title:
        problems["title"] = "Give the post a title staff will recognise."
    if not suggested_text:
        problems["suggested_text"] = "Write the suggested text employees start from."
    if not disclosure:
        problems["disclosure"] = (
            "Every post needs a disclosure (for example '#employee' or 'I work at Acme')."
        )
    for name, value in (("link", link), ("image_url", image_url)):
        if value and not value.strip().lower().startswith(("https://", "http://")):
            problems[name] = "Use a full web address starting with https://."
    tags = []
    for tag in hashtags or []:
        tag = tag.strip().lstrip("#")
        if tag and not tag.replace("_", "").isalnum():
            problems["hashtags"] = f"'#{tag}' is not a hashtag: letters, digits and _ only."
        elif tag:
            tags.append(tag)
    chosen = [n for n in (networks or []) if n]
    unknown = [n for n in chosen if n not in NETWORKS]
    if unknown:
        problems["networks"] = f"Unknown network '{unknown[0]}': choose from {', '.join(NETWORKS)}."
    elif not chosen:
        problems["networks"] = "Choose at least one network."
    image_type = None
    if image is not None:
        image_type = image_kind(image)
        if image_type is None:
            problems["image"] = "The upload is not a PNG, JPEG, GIF or WebP image."
        elif len(image) > MAX_IMAGE_BYTES:
            problems["image"] = (
                f"The image is {len(image) // 1024:,} KB; the limit is "
                f"{MAX_IMAGE_BYTES // 1024:,} KB."
            )
    if expires_at is not None and expires_at <= utcnow():
        problems["expires_at"] = "The expiry is in the past: choose a future date or none."
    if problems:
        raise PostError(problems)
    post = AdvocacyPost(
        organization_id=org.id,
        title=title[:200],
        suggested_text=suggested_text,
        link=(link or "").strip() or None,
        image_url=(image_url or "").strip() or None,
        hashtags=tags,
        disclosure=disclosure[:200],
        networks=chosen,
        expires_at=expires_at,
        created_by_id=by.id if by else None,
        image_type=image_type if image is not None else None,
        image_data=image if image_type else None,
    )
    db.session.add(post)
    db.session.flush()
    audit.record(org.id, "advocacy.post_published", actor=by, subject=post, title=post.title)
    return post


MAX_IMAGE_BYTES = 2 * 1024 * 1024
_IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def image_kind(data: bytes) -> str | None:
    """The image type from the file's first bytes (the name and the browser's claim lie)."""
    for signature, kind in _IMAGE_SIGNATURES:
        if data.startswith(signature):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


class PostError(AdvocacyError):
    """Several fields can be wrong at once: ``problems`` maps field name to message."""

    def __init__(self, problems: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


def library(org_id: int, now: datetime | None = None) -> list:
    from .models import AdvocacyPost

    now = now or utcnow()
    return list(
        db.session.execute(
            select(AdvocacyPost)
            .where(
                AdvocacyPost.organization_id == org_id,
                AdvocacyPost.withdrawn_at.is_(None),
                or_(AdvocacyPost.expires_at.is_(None), AdvocacyPost.expires_at > now),
            )
            .order_by(AdvocacyPost.created_at.desc(), AdvocacyPost.id.desc())
        ).scalars()
    )


def default_text(post) -> str:
    """The suggested text with hashtags and the disclosure, as the employee first sees it."""
    parts = [post.suggested_text]
    tags = " ".join(f"#{t}" for t in post.hashtags or [])
    if tags:
        parts.append(tags)
    parts.append(post.disclosure)
    return "\n\n".join(parts)


def share_url(network: str, text: str, link: str | None) -> str:
    """The network's own share link (the employee posts from their own account)."""
    from urllib.parse import quote, urlencode

    if network == "linkedin":
        return "https://www.linkedin.com/sharing/share-offsite/?" + urlencode(
            {"url": link or ""}, quote_via=quote
        )
    if network == "x":
        body = f"{text} {link}" if link else text
        return "https://twitter.com/intent/tweet?" + urlencode({"text": body}, quote_via=quote)
    if network == "facebook":
        return "https://www.facebook.com/sharer/sharer.php?" + urlencode(
            {"u": link or ""}, quote_via=quote
        )
    raise AdvocacyError(f"unknown network {network!r}")


def share_post(user: User, post, network: str, text: str, now: datetime | None = None):
    """Record a share. In probation it waits in the approval queue. Returns the ``Share``."""
    from .checker import has_disclosure

    if post.organization_id != user.organization_id:
        raise AdvocacyError("this post is not in your organisation's library")
    now = now or utcnow()
    if post.withdrawn_at is not None or (post.expires_at is not None and post.expires_at <= now):
        raise AdvocacyError("this post has expired: pick another one from the library")
    if network not in (post.networks or []):
        raise AdvocacyError(f"this post is not meant for {NETWORKS.get(network, network)}")
    rights = posting_rights_for(user, now)
    if not rights.may_share:
        raise AdvocacyError("you are not cleared to post yet: " + " ".join(rights.reasons))
    text = (text or "").strip()
    if not text:
        raise AdvocacyError("the text is empty: start from the suggested text")
    if len(text) > 3000:
        raise AdvocacyError("the text is longer than 3,000 characters")
    if not has_disclosure(text, post.disclosure):
        # Enforced here, not only in the page: the disclosure is not optional.
        raise AdvocacyError(f"the required disclosure '{post.disclosure}' must stay in the text")
    probation = rights.status == "probation"
    share = Share(
        organization_id=user.organization_id,
        user_id=user.id,
        post_id=post.id,
        network=network,
        text=text,
        status="pending" if probation else "shared",
        during_probation=probation,
        created_at=now,
    )
    db.session.add(share)
    db.session.flush()
    return share


def approval_queue(org_id: int) -> list[Share]:
    return list(
        db.session.execute(
            select(Share)
            .where(Share.organization_id == org_id, Share.status == "pending")
            .order_by(Share.created_at, Share.id)
        ).scalars()
    )


def review_share(share: Share, *, approve: bool, by: User, note: str = "") -> Share:
    """Approve (it counts towards ending probation) or reject (it does not) a queued share."""
    if share.organization_id != by.organization_id:
        raise AdvocacyError("this share is not in your organisation")
    if share.status != "pending":
        raise AdvocacyError("this share was already reviewed")
    if share.user_id == by.id:
        raise AdvocacyError("you cannot review your own share")
    if not approve and not (note or "").strip():
        raise AdvocacyError("say why the share is rejected, so the employee can learn from it")
    share.status = "approved" if approve else "rejected"
    share.reviewed_at = utcnow()
    share.reviewed_by_id = by.id
    share.review_note = (note or "").strip()[:2000] or None
    db.session.flush()
    audit.record(
        share.organization_id,
        f"advocacy.share_{share.status}",
        actor=by,
        subject=share,
        user_id=share.user_id,
        reason=share.review_note,
    )
    refresh_posting_rights(share.user, actor=by, cause="probation_review")
    return share
