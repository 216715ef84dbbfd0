"""LTI operations: registrations, launch to user and course, deep linking, AGS and NRPS."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import select

from course import services as course_services
from course.models import Course, Enrollment, LessonProgress
from lms_plugin.core import accounts, audit
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Organization, Role, User
from lms_plugin.core.outbox import OutboxMessage, RetryLater, enqueue
from lms_plugin.core.timeutil import utcnow
from quizzes.core.grades import GradeEvent
from quizzes.models import Attempt

from . import keys, platform_http
from .launch import LTI, Launch
from .models import (
    LtiContext,
    LtiDeployment,
    LtiGradeLink,
    LtiIdentity,
    LtiPlatform,
    LtiTicket,
)

log = logging.getLogger(__name__)

AGS = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
SCORE_SCOPE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
NRPS_SCOPE = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
SCORE_TOPIC = "lti.score"
TICKET_LIFETIME = timedelta(minutes=5)
DEEP_LINK_LIFETIME = timedelta(minutes=30)

#: LTI role (the name after the last '#' or '/') -> our role.
ROLE_MAP = {
    "Learner": Role.LEARNER,
    "Student": Role.LEARNER,
    "Instructor": Role.TRAINER,
    "TeachingAssistant": Role.TRAINER,
    "ContentDeveloper": Role.TRAINER,
    "Administrator": Role.ADMIN,
}


class LtiError(ValueError):
    """A request we cannot honour, with what to do about it."""


# -- registrations -------------------------------------------------------------------------

URL_FIELDS = ("issuer", "auth_login_url", "auth_token_url", "key_set_url")


def register_platform(org: Organization, *, issuer: str, client_id: str, auth_login_url: str,
                      auth_token_url: str, key_set_url: str, deployment_id: str,
                      link_by_email: bool | None = None,
                      actor: User | None = None) -> tuple[LtiPlatform, bool]:
    """Register a platform (or add a deployment to it). Returns ``(platform, created)``."""
    values = {"issuer": issuer.strip(), "client_id": client_id.strip(),
              "auth_login_url": auth_login_url.strip(), "auth_token_url": auth_token_url.strip(),
              "key_set_url": key_set_url.strip(), "deployment_id": deployment_id.strip()}
    for field, value in values.items():
        if not value:
            raise LtiError(f"{field.replace('_', ' ')} is empty: copy it from the platform's "
                           "developer key or tool registration page")
        if len(value) > 255 and field in ("client_id", "deployment_id", "issuer"):
            raise LtiError(f"{field.replace('_', ' ')} is longer than 255 characters")
    for field in URL_FIELDS:
        parts = urlsplit(values[field])
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise LtiError(f"{field.replace('_', ' ')} {values[field]!r} is not a URL: "
                           "give the full address starting with https://")
    platform = db.session.execute(select(LtiPlatform).filter_by(
        issuer=values["issuer"], client_id=values["client_id"])).scalar_one_or_none()
    created = platform is None
    if platform is None:
        platform = LtiPlatform(organization_id=org.id, issuer=values["issuer"],
                               client_id=values["client_id"])
        db.session.add(platform)
    elif platform.organization_id != org.id:
        raise LtiError(f"issuer {values['issuer']} with client id {values['client_id']} is "
                       "already registered to another organisation")
    platform.auth_login_url = values["auth_login_url"]
    platform.auth_token_url = values["auth_token_url"]
    platform.key_set_url = values["key_set_url"]
    if link_by_email is not None:
        platform.link_by_email = link_by_email
    elif platform.link_by_email is None:
        platform.link_by_email = False
    platform.jwks, platform.jwks_fetched_at = None, None
    db.session.flush()
    if values["deployment_id"] not in {d.deployment_id for d in platform.deployments}:
        platform.deployments.append(LtiDeployment(deployment_id=values["deployment_id"]))
    db.session.flush()
    audit.record(org.id, "lti.platform_registered", actor=actor, subject=platform,
                 issuer=platform.issuer, client_id=platform.client_id,
                 deployment_id=values["deployment_id"])
    return platform, created


def platforms_of(org_id: int) -> list[LtiPlatform]:
    return list(db.session.execute(select(LtiPlatform).filter_by(organization_id=org_id)
                                   .order_by(LtiPlatform.id)).scalars())


# -- launch -> user, course ------------------------------------------------------------------

def map_roles(lti_roles: list[str]) -> set[Role]:
    mapped = set()
    for uri in lti_roles or []:
        name = re.split(r"[#/]", str(uri))[-1]
        if name in ROLE_MAP:
            mapped.add(ROLE_MAP[name])
    return mapped or {Role.LEARNER}


def _may_link(platform: LtiPlatform, user: User) -> bool:
    """Whether a first launch may take over an existing account with the same e-mail:
    only when the registration trusts the platform's e-mails, and never a staff account
    (trainer, HR, admin), which an LMS e-mail alone must not unlock."""
    if not platform.link_by_email:
        return False
    return user.roles <= {Role.LEARNER}


def user_for_launch(launch: Launch) -> User:
    """Find the user by iss+sub in the platform's organisation, or create them."""
    platform, claims = launch.platform, launch.claims
    identity = db.session.execute(select(LtiIdentity).filter_by(
        organization_id=platform.organization_id, issuer=platform.issuer,
        subject=claims["sub"])).scalar_one_or_none()
    roles = map_roles(launch.claim("roles", []))
    name = (claims.get("name") or " ".join(
        p for p in (claims.get("given_name"), claims.get("family_name")) if p)
        or "LMS learner")[:200]
    if identity is not None:
        user = identity.user
    else:
        email = (claims.get("email") or "").strip().lower()
        user = accounts.find_user(platform.organization_id, email) if email else None
        if user is not None and not _may_link(platform, user):
            user, email = None, ""  # a separate account; the existing one stays untouched
        if user is None:
            if not accounts.EMAIL_SHAPE.match(email):
                # No e-mail shared by the platform: a stable address nobody can sign in with.
                digest = hashlib.sha256(f"{platform.issuer}|{claims['sub']}".encode())
                email = f"lti-{digest.hexdigest()[:24]}@lti.invalid"
            user = accounts.create_user(platform.organization, email, name, password=None,
                                        roles=tuple(roles),
                                        external_id=f"lti:{claims['sub']}"[:200])
        identity = LtiIdentity(organization_id=platform.organization_id,
                               issuer=platform.issuer, subject=claims["sub"], user_id=user.id)
        db.session.add(identity)
        audit.record(platform.organization_id, "lti.identity_linked", actor=user,
                     subject=user, issuer=platform.issuer, sub=claims["sub"])
    for role in roles:
        user.grant(role)
    identity.last_launch_at = utcnow()
    db.session.flush()
    return user


@dataclass(frozen=True)
class Target:
    course: Course
    module_slug: str | None


def _custom_target(launch: Launch) -> dict:
    custom = dict(launch.claim("custom", {}) or {})
    if not custom.get("course") and not custom.get("module"):
        # Fall back to ?course=... or ?module=... on the link's URL (hand-made placements).
        from urllib.parse import parse_qs

        query = parse_qs(urlsplit(launch.claim("target_link_uri", "")).query)
        for key in ("course", "module"):
            if query.get(key):
                custom[key] = query[key][0]
    return custom


def target_for(launch: Launch) -> Target:
    org_id = launch.platform.organization_id
    custom = _custom_target(launch)
    if custom.get("course"):
        course = db.session.execute(select(Course).filter_by(
            organization_id=org_id, slug=str(custom["course"]))).scalar_one_or_none()
        if course is None:
            raise LtiError(f"This link opens the course {custom['course']!r}, which does not "
                           "exist in your organisation. Ask your instructor to place it again.")
        return Target(course, None)
    if custom.get("module"):
        slug = str(custom["module"])
        for course in db.session.execute(select(Course).filter_by(organization_id=org_id)
                                         .order_by(Course.id)).scalars():
            if slug in course.module_slugs:
                return Target(course, slug)
        raise LtiError(f"This link opens the module {slug!r}, which is in none of your "
                       "organisation's courses. Ask your trainer to add it to a course.")
    raise LtiError("This link does not say which course or module to open. Ask your "
                   "instructor to place it again with the content picker (deep linking).")


def record_launch(launch: Launch, user: User, target: Target) -> Enrollment:
    """Enrol the learner, remember the LMS course (roster) and where grades go (line item)."""
    platform, org_id = launch.platform, launch.platform.organization_id
    context = launch.claim("context") or {}
    if context.get("id"):
        row = db.session.execute(select(LtiContext).filter_by(
            platform_id=platform.id, context_id=str(context["id"]))).scalar_one_or_none()
        if row is None:
            row = LtiContext(organization_id=org_id, platform_id=platform.id,
                             context_id=str(context["id"]))
            db.session.add(row)
        row.title = (context.get("title") or context.get("label") or row.title or "")[:255]
        nrps = launch.claims.get(NRPS) or {}
        row.memberships_url = nrps.get("context_memberships_url") or row.memberships_url
        row.course_id = target.course.id
        row.updated_at = utcnow()
    enrollment = course_services.enroll(user, target.course)
    resource = launch.claim("resource_link") or {}
    ags = launch.claims.get(AGS) or {}
    if resource.get("id"):
        link = db.session.execute(select(LtiGradeLink).filter_by(
            platform_id=platform.id, resource_link_id=str(resource["id"]), user_id=user.id,
        )).scalar_one_or_none()
        if link is None:
            link = LtiGradeLink(organization_id=org_id, platform_id=platform.id,
                                user_id=user.id, resource_link_id=str(resource["id"]))
            db.session.add(link)
        link.subject = launch.claims["sub"]
        link.course_id = target.course.id
        link.module_slug = target.module_slug
        link.lineitem_url = ags.get("lineitem")
        link.scopes = list(ags.get("scope") or [])
        link.updated_at = utcnow()
    db.session.flush()
    return enrollment


# -- one-time tickets (cookie-less continuation, deep-linking choice) -------------------------

def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_ticket(purpose: str, user: User, payload: dict, lifetime: timedelta) -> str:
    token = secrets.token_urlsafe(32)
    db.session.add(LtiTicket(token_hash=_hash(token), purpose=purpose, user_id=user.id,
                             payload=payload, expires_at=utcnow() + lifetime))
    db.session.flush()
    return token


def peek_ticket(purpose: str, token: str) -> LtiTicket:
    ticket = db.session.execute(select(LtiTicket).filter_by(
        token_hash=_hash(token or ""), purpose=purpose)).scalar_one_or_none()
    if ticket is None or ticket.used_at is not None or ticket.expires_at < utcnow():
        raise LtiError("This link has expired or was already used. Open the activity again "
                       "from your course in the learning platform.")
    return ticket


def use_ticket(purpose: str, token: str) -> LtiTicket:
    ticket = peek_ticket(purpose, token)
    ticket.used_at = utcnow()
    db.session.flush()
    return ticket


def purge_expired() -> tuple[int, int]:
    """Delete logins and tickets past their expiry: ``(logins, tickets)`` removed."""
    from sqlalchemy import delete

    from .models import LtiLoginState

    now = utcnow()
    logins = db.session.execute(delete(LtiLoginState).where(LtiLoginState.expires_at < now))
    tickets = db.session.execute(delete(LtiTicket).where(LtiTicket.expires_at < now))
    return logins.rowcount, tickets.rowcount


# -- deep linking ---------------------------------------------------------------------------

def deep_link_choices(org_id: int) -> list[tuple[str, str, str]]:
    """(kind, slug, title) of every course and module an instructor can place."""
    choices = []
    courses = list(db.session.execute(select(Course).filter_by(organization_id=org_id)
                                      .order_by(Course.title)).scalars())
    modules: dict[str, str] = {}
    for course in courses:
        choices.append(("course", course.slug, course.title))
        for version in course_services.course_modules(course):
            modules.setdefault(version.slug, version.title)
    choices += [("module", slug, title) for slug, title in sorted(modules.items(),
                                                                    key=lambda i: i[1])]
    return choices


def deep_link_request_payload(launch: Launch) -> dict:
    settings = launch.claims.get(DL + "deep_linking_settings") or {}
    if not settings.get("deep_link_return_url"):
        raise LtiError("The platform sent no deep_link_return_url; it cannot receive a choice.")
    return {"platform_id": launch.platform.id, "return_url": settings["deep_link_return_url"],
            "data": settings.get("data"),
            "deployment_id": launch.claims[LTI + "deployment_id"]}


def deep_link_response(payload: dict, kind: str, slug: str, launch_url: str) -> tuple[str, str]:
    """The signed LtiDeepLinkingResponse JWT and the URL to post it to."""
    platform = db.session.get(LtiPlatform, payload["platform_id"])
    choice = next((c for c in deep_link_choices(platform.organization_id)
                   if c[0] == kind and c[1] == slug), None)
    if choice is None:
        raise LtiError(f"There is no {kind} {slug!r} to place: choose one from the list.")
    item = {
        "type": "ltiResourceLink", "title": choice[2], "url": launch_url,
        "custom": {kind: slug},
        "lineItem": {"scoreMaximum": 100, "label": choice[2], "resourceId": f"{kind}:{slug}"},
    }
    claims = {
        "iss": platform.client_id, "aud": platform.issuer, "azp": platform.client_id,
        "nonce": secrets.token_urlsafe(16),
        LTI + "deployment_id": payload["deployment_id"],
        LTI + "message_type": "LtiDeepLinkingResponse",
        LTI + "version": "1.3.0",
        DL + "content_items": [item],
    }
    if payload.get("data") is not None:
        claims[DL + "data"] = payload["data"]
    return keys.sign(claims), payload["return_url"]


# -- tokens from the platform (client credentials with a signed assertion) -----------------

#: (platform id, token URL, scopes) -> (token, monotonic expiry). Per process and only a
#: saving: any process can always win its own token, so nothing depends on this cache.
_tokens: dict[tuple, tuple[str, float]] = {}
TOKEN_MARGIN_SECONDS = 60


def access_token(platform: LtiPlatform, scopes: list[str]) -> str:
    """A bearer token for ``scopes``: reused until a minute before it expires."""
    import time

    cache_key = (platform.id, platform.auth_token_url, " ".join(sorted(scopes)))
    cached = _tokens.get(cache_key)
    if cached and cached[1] > time.monotonic():
        return cached[0]
    token, lifetime = _request_token(platform, scopes)
    if lifetime > TOKEN_MARGIN_SECONDS:
        _tokens[cache_key] = (token, time.monotonic() + lifetime - TOKEN_MARGIN_SECONDS)
    return token


def forget_tokens(platform: LtiPlatform) -> None:
    for key in [k for k in _tokens if k[0] == platform.id]:
        _tokens.pop(key, None)


def _request_token(platform: LtiPlatform, scopes: list[str]) -> tuple[str, int]:
    assertion = keys.sign({"iss": platform.client_id, "sub": platform.client_id,
                           "aud": platform.auth_token_url})
    answer = platform_http.post_form(platform.auth_token_url, {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
        "scope": " ".join(scopes),
    })
    token = answer.get("access_token")
    if not token or not isinstance(token, str):
        raise platform_http.PlatformError(f"{platform.auth_token_url} returned no access_token")
    try:
        lifetime = int(answer.get("expires_in") or 0)
    except (TypeError, ValueError):
        lifetime = 0
    return token, lifetime


# -- Assignment and Grade Services --------------------------------------------------------

def _links_for(event: GradeEvent) -> list[tuple[LtiGradeLink, bool]]:
    """The grade links an event reaches, each with whether it is the link's final grade."""
    kind, _, slug = event.activity.partition(":")
    links = db.session.execute(select(LtiGradeLink).filter_by(
        user_id=event.user_id, organization_id=event.organization_id)).scalars()
    reached = []
    for link in links:
        if not link.lineitem_url or SCORE_SCOPE not in (link.scopes or []):
            continue
        course = db.session.get(Course, link.course_id)
        if link.module_slug is not None:
            if kind == "quiz" and slug == link.module_slug:
                reached.append((link, True))
        elif kind == "course" and slug == course.slug:
            reached.append((link, True))
        elif kind == "quiz" and slug in course.module_slugs and not _completed(link):
            # Progress towards the course's grade. Once the course is complete its grade is
            # final: a later attempt (or this one, announced after the completion it caused)
            # must not overwrite it with "in progress".
            reached.append((link, False))
    return reached


def _completed(link: LtiGradeLink) -> bool:
    return db.session.execute(select(Enrollment.id).where(
        Enrollment.user_id == link.user_id, Enrollment.course_id == link.course_id,
        Enrollment.completed_at.is_not(None)).limit(1)).first() is not None


def on_grade_published(event: GradeEvent) -> None:
    """Queue the score for every line item the grade belongs to (same transaction)."""
    for link, final in _links_for(event):
        enqueue(SCORE_TOPIC, {
            "grade_link_id": link.id,
            "score_given": event.score if final else 0.0,
            "score_maximum": event.maximum,
            "activity_progress": "Completed" if final else "InProgress",
            "grading_progress": "FullyGraded" if final else "Pending",
            "timestamp": event.timestamp.isoformat(),
            "comment": None if final else f"{event.activity}: {event.score:g}/"
                                          f"{event.maximum:g}",
        }, organization_id=event.organization_id,
            dedupe_key=f"lti-score:{link.id}:{event.reference}")


def scores_url(lineitem_url: str) -> str:
    parts = urlsplit(lineitem_url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "/scores"))


def deliver_score(message: OutboxMessage) -> None:
    """Outbox handler: token, then POST the score to the line item. Failures are retried."""
    payload = message.payload
    link = db.session.get(LtiGradeLink, payload["grade_link_id"])
    if link is None:
        return  # the link was removed with its platform: nothing to deliver to
    score = {"userId": link.subject, "scoreGiven": payload["score_given"],
             "scoreMaximum": payload["score_maximum"],
             "activityProgress": payload["activity_progress"],
             "gradingProgress": payload["grading_progress"], "timestamp": payload["timestamp"]}
    if payload.get("comment"):
        score["comment"] = payload["comment"]
    try:
        token = access_token(link.platform, [SCORE_SCOPE])
        platform_http.post_json(scores_url(link.lineitem_url), score, token=token,
                                content_type="application/vnd.ims.lis.v1.score+json")
    except platform_http.PlatformError as exc:
        forget_tokens(link.platform)  # a revoked or expired token must not be retried
        raise RetryLater(str(exc)) from exc


# -- Names and Role Provisioning Services -------------------------------------------------

@dataclass(frozen=True)
class RosterRow:
    name: str
    email: str
    roles: list[str]
    status: str  # "not started" | "in progress" | "completed" | "no account yet"
    lms_status: str


def _started(enrollment: Enrollment) -> bool:
    """Any lesson read or any quiz attempt in the course's modules."""
    if db.session.execute(select(LessonProgress.id).filter_by(
            enrollment_id=enrollment.id).limit(1)).first():
        return True
    quiz_ids = [v.quiz_version_id for v in course_services.course_modules(enrollment.course)
                if v.quiz_version_id]
    return bool(quiz_ids) and db.session.execute(select(Attempt.id).where(
        Attempt.user_id == enrollment.user_id, Attempt.quiz_version_id.in_(quiz_ids)).limit(1)
    ).first() is not None


def roster(context: LtiContext) -> list[RosterRow]:
    """Everyone in the LMS course, with how far each is in the linked course."""
    if not context.memberships_url:
        raise LtiError("The platform did not offer the Names and Roles service for this "
                       "course: enable it in the tool's settings in the LMS.")
    try:
        token = access_token(context.platform, [NRPS_SCOPE])
        pages = platform_http.get_json_pages(
            context.memberships_url, token=token,
            accept="application/vnd.ims.lti-nrps.v2.membershipcontainer+json")
    except platform_http.PlatformError as exc:
        raise LtiError(f"The roster could not be fetched from the platform: {exc}") from exc
    course = db.session.get(Course, context.course_id) if context.course_id else None
    rows = []
    for page in pages:
        for member in page.get("members", []):
            identity = db.session.execute(select(LtiIdentity).filter_by(
                organization_id=context.organization_id, issuer=context.platform.issuer,
                subject=str(member.get("user_id")))).scalar_one_or_none()
            status = "no account yet"
            if identity is not None:
                status = "not started"
                if course is not None:
                    enrollments = list(db.session.execute(select(Enrollment).filter_by(
                        user_id=identity.user_id, course_id=course.id)).scalars())
                    if any(e.completed_at for e in enrollments):
                        status = "completed"
                    elif any(_started(e) for e in enrollments):
                        status = "in progress"
            rows.append(RosterRow(
                name=member.get("name") or " ".join(
                    p for p in (member.get("given_name"), member.get("family_name")) if p)
                or str(member.get("user_id")),
                email=member.get("email") or "",
                roles=[re.split(r"[#/]", r)[-1] for r in member.get("roles", [])],
                status=status, lms_status=member.get("status", "Active")))
    order = {"no account yet": 0, "not started": 1, "in progress": 2, "completed": 3}
    return sorted(rows, key=lambda r: (order[r.status], r.name.casefold()))
