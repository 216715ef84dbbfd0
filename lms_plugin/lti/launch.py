"""OIDC login and launch validation: every check an LTI 1.3 id_token must pass, in order.

Each refusal is a ``LaunchRejected`` with a machine code (logged, and tested) and a sentence
for the person in front of the screen. Nothing here reads ``flask.request``: the view hands
in the form fields and the state cookie it found.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

import jwt
from sqlalchemy import select, update

from lms_plugin.core.extensions import db
from lms_plugin.core.timeutil import utcnow

from . import platform_http
from .models import LtiLoginState, LtiPlatform

log = logging.getLogger(__name__)

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
LOGIN_LIFETIME = timedelta(minutes=10)
#: Clock skew we tolerate between the platform and us (exp, iat).
LEEWAY_SECONDS = 60
JWKS_MAX_AGE = timedelta(hours=1)
MESSAGE_TYPES = {"LtiResourceLinkRequest", "LtiDeepLinkingRequest"}


class LaunchRejected(Exception):
    """A login or launch we refuse: ``code`` for logs and tests, ``message`` for people."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


def state_cookie_name(state: str) -> str:
    # One cookie per login, so two launches in two tabs do not overwrite each other.
    return f"ctp_lti_{state[:16]}"


def find_platform(issuer: str, client_id: str | None) -> LtiPlatform:
    query = select(LtiPlatform).where(LtiPlatform.issuer == issuer)
    if client_id:
        query = query.where(LtiPlatform.client_id == client_id)
    platforms = list(db.session.execute(query).scalars())
    if not platforms:
        raise LaunchRejected(
            "unknown_platform",
            f"This learning platform ({issuer}, client {client_id or 'not given'}) is not "
            "registered with Cleared to Post. Ask your administrator to register it "
            "(see the embedding guide).")
    if len(platforms) > 1:
        raise LaunchRejected(
            "client_id_required",
            f"Several registrations share the issuer {issuer}; the platform must send "
            "client_id with the login request.")
    return platforms[0]


def begin_login(params: dict) -> tuple[LtiLoginState, LtiPlatform]:
    """Record a login (state + nonce) for the OIDC initiation request."""
    for field in ("iss", "login_hint", "target_link_uri"):
        if not params.get(field):
            raise LaunchRejected("bad_login", f"The login request has no '{field}': the "
                                 "platform must send iss, login_hint and target_link_uri.")
    platform = find_platform(params["iss"], params.get("client_id"))
    login = LtiLoginState(
        state=secrets.token_urlsafe(32), nonce=secrets.token_urlsafe(32),
        platform_id=platform.id, target_link_uri=params["target_link_uri"][:1000],
        expires_at=utcnow() + LOGIN_LIFETIME,
    )
    db.session.add(login)
    db.session.flush()
    return login, platform


def _platform_key(platform: LtiPlatform, kid: str | None) -> jwt.PyJWK:
    """The platform's key for ``kid``: cached JWKS, refetched once when stale or unknown."""
    fresh = platform.jwks_fetched_at and utcnow() - platform.jwks_fetched_at < JWKS_MAX_AGE
    for attempt in ("cache", "refetch"):
        if attempt == "refetch" or not fresh or not platform.jwks:
            try:
                platform.jwks = platform_http.get_json(platform.key_set_url)
            except platform_http.PlatformError as exc:
                raise LaunchRejected("jwks_unavailable", f"We could not fetch the platform's "
                                     f"public keys ({exc}). Try again in a minute.", 502) from exc
            platform.jwks_fetched_at = utcnow()
            db.session.flush()
            fresh = True
            attempt = "refetch"
        keys = [k for k in (platform.jwks or {}).get("keys", []) if k.get("kty") == "RSA"]
        match = [k for k in keys if kid is None or k.get("kid") == kid]
        if kid is None and len(keys) == 1:
            match = keys
        if match and (kid is not None or len(match) == 1):
            return jwt.PyJWK(match[0], algorithm="RS256")
        if attempt == "refetch":
            break
    raise LaunchRejected("unknown_key", f"The launch was signed with a key (kid {kid!r}) that "
                         "the platform does not publish. The launch cannot be trusted.")


@dataclass
class Launch:
    platform: LtiPlatform
    claims: dict
    login: LtiLoginState
    cookie_bound: bool  # the browser proved it started this login (state cookie present)

    @property
    def message_type(self) -> str:
        return self.claims[LTI + "message_type"]

    def claim(self, name: str, default=None):
        return self.claims.get(LTI + name, default)


def validate_launch(form: dict, cookies: dict) -> Launch:
    """Check an id_token POSTed to /lti/launch. Returns the trusted launch or raises."""
    state = form.get("state")
    if not state:
        raise LaunchRejected("missing_state", "The launch has no state. Start again from your "
                             "course in the learning platform.")
    id_token = form.get("id_token")
    if not id_token:
        error = form.get("error_description") or form.get("error")
        raise LaunchRejected("missing_id_token", "The platform sent no id_token"
                             + (f" ({error})." if error else ". Start again from your course."))
    login = db.session.execute(
        select(LtiLoginState).filter_by(state=state)).scalar_one_or_none()
    if login is None or login.expires_at < utcnow():
        raise LaunchRejected("unknown_state", "This launch's state is unknown or expired. "
                             "Start again from your course in the learning platform.")
    cookie = cookies.get(state_cookie_name(state))
    if cookie is not None and not secrets.compare_digest(cookie, state):
        raise LaunchRejected("state_mismatch", "This launch was started in another browser.")

    try:
        header = jwt.get_unverified_header(id_token)
        unverified = jwt.decode(id_token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise LaunchRejected("malformed_token", f"The id_token is not a JWT ({exc}).") from exc
    if header.get("alg") != "RS256":
        raise LaunchRejected("bad_algorithm", f"The id_token uses the algorithm "
                             f"{header.get('alg')!r}; LTI 1.3 launches must be signed RS256.")

    platform = db.session.get(LtiPlatform, login.platform_id)
    if unverified.get("iss") != platform.issuer:
        raise LaunchRejected("wrong_issuer", f"The id_token comes from {unverified.get('iss')!r}"
                             f", not from {platform.issuer!r} which started this login.")
    aud = unverified.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if platform.client_id not in audiences:
        raise LaunchRejected("wrong_audience", "The id_token is meant for another tool "
                             f"(aud {aud!r}, we are client {platform.client_id!r}).")
    if len(audiences) > 1 and unverified.get("azp") != platform.client_id:
        raise LaunchRejected("wrong_audience", "The id_token has several audiences and its "
                             "azp is not our client id.")

    key = _platform_key(platform, header.get("kid"))
    try:
        claims = jwt.decode(
            id_token, key, algorithms=["RS256"], audience=platform.client_id,
            issuer=platform.issuer, leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "nonce"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise LaunchRejected("expired", "The launch has expired. Start again from your "
                             "course in the learning platform.") from exc
    except jwt.ImmatureSignatureError as exc:
        raise LaunchRejected("issued_in_future", "The launch is dated in the future; the "
                             "platform's clock may be wrong.") from exc
    except jwt.InvalidSignatureError as exc:
        raise LaunchRejected("bad_signature", "The launch's signature does not match the "
                             "platform's keys. The launch cannot be trusted.") from exc
    except jwt.InvalidTokenError as exc:
        raise LaunchRejected("invalid_token", f"The id_token is not valid ({exc}).") from exc
    # PyJWT refuses a future iat too; this keeps the rule explicit whatever its version.
    if claims["iat"] > utcnow().timestamp() + LEEWAY_SECONDS:
        raise LaunchRejected("issued_in_future", "The launch is dated in the future; the "
                             "platform's clock may be wrong.")

    if not secrets.compare_digest(str(claims["nonce"]), login.nonce):
        raise LaunchRejected("wrong_nonce", "The launch's nonce does not belong to this login.")
    # Single use, even under concurrent replays: only one UPDATE can flip used_at.
    used = db.session.execute(
        update(LtiLoginState).where(LtiLoginState.id == login.id, LtiLoginState.used_at.is_(None))
        .values(used_at=utcnow()))
    if used.rowcount != 1:
        raise LaunchRejected("replayed", "This launch was already used. Start again from your "
                             "course in the learning platform.")

    deployment_id = claims.get(LTI + "deployment_id")
    if deployment_id not in {d.deployment_id for d in platform.deployments}:
        raise LaunchRejected("unknown_deployment", f"The deployment {deployment_id!r} is not "
                             "registered for this platform. Ask your administrator to add it.")
    if claims.get(LTI + "version") != "1.3.0":
        raise LaunchRejected("bad_version", "Only LTI 1.3.0 launches are supported.")
    if claims.get(LTI + "message_type") not in MESSAGE_TYPES:
        raise LaunchRejected("bad_message_type", f"The message type "
                             f"{claims.get(LTI + 'message_type')!r} is not supported.")
    if not claims.get("sub"):
        raise LaunchRejected("anonymous_launch", "The launch does not say who you are (no sub).")
    return Launch(platform=platform, claims=claims, login=login, cookie_bound=cookie is not None)
