"""LTI 1.3 login and launch against an in-test platform over real HTTP, and every refusal."""

from __future__ import annotations

import html
import logging
import time
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select

from course.models import Enrollment
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Role, User
from lms_plugin.lti.models import LtiIdentity, LtiLoginState

from .lti_platform import (  # noqa: F401 - the fixtures are used by name
    CLIENT_ID,
    LTI,
    acme_fixture,
    launch,
    new_rsa_key,
    platform_fixture,
    start_login,
)


def users_named(app, name="Ngozi Adeyemi") -> list[User]:
    with app.app_context():
        return list(db.session.execute(select(User).filter_by(name=name)).scalars())


def test_login_redirects_to_the_platform_with_state_nonce_and_a_cross_site_cookie(
        client, platform, acme):
    response = client.get("/lti/login", query_string={
        "iss": platform.issuer, "login_hint": "u1", "client_id": CLIENT_ID,
        "target_link_uri": "http://localhost/lti/launch", "lti_message_hint": "m1"})
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == platform.auth_login_url
    sent = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert sent["client_id"] == CLIENT_ID
    assert sent["redirect_uri"] == "http://localhost/lti/launch"
    assert sent["response_mode"] == "form_post" and sent["prompt"] == "none"
    assert sent["login_hint"] == "u1" and sent["lti_message_hint"] == "m1"
    assert len(sent["state"]) >= 32 and len(sent["nonce"]) >= 32
    cookie = response.headers["Set-Cookie"]
    assert sent["state"] in cookie
    assert "SameSite=None" in cookie and "Secure" in cookie and "HttpOnly" in cookie


def test_learner_launch_creates_the_account_enrols_and_opens_the_course(app, client, platform,
                                                                       acme):
    response = launch(client, platform)
    assert response.status_code == 302, response.text
    assert response.headers["Location"] == "/learn/"
    session_cookie = [c for c in response.headers.getlist("Set-Cookie")
                      if c.startswith("session=")][0]
    assert "SameSite=None" in session_cookie and "Secure" in session_cookie

    page = client.get("/learn/")
    assert page.status_code == 200
    assert "Onboarding" in page.text and "Ngozi Adeyemi" in page.text
    [user] = users_named(app)
    with app.app_context():
        user = db.session.get(User, user.id)
        assert user.email == "ngozi@acme.test"
        assert user.roles == {Role.LEARNER}
        identity = db.session.execute(select(LtiIdentity)).scalar_one()
        assert (identity.issuer, identity.subject, identity.user_id) == (
            platform.issuer, "lms-user-42", user.id)
        assert db.session.execute(select(Enrollment).filter_by(user_id=user.id)).scalar_one()

    # The second launch finds the same person: no second account, no second enrolment.
    again = launch(app.test_client(), platform)
    assert again.status_code == 302
    assert len(users_named(app)) == 1
    with app.app_context():
        assert db.session.execute(select(func.count(Enrollment.id))).scalar() == 1


def test_launch_without_email_makes_an_account_nobody_can_sign_in_to(app, client, platform,
                                                                      acme):
    assert launch(client, platform, email=None).status_code == 302
    [user] = users_named(app)
    assert user.email.endswith("@lti.invalid")
    assert user.password_hash is None


def _trust_emails(app):
    with app.app_context():
        from lms_plugin.lti.models import LtiPlatform

        db.session.execute(select(LtiPlatform)).scalar_one().link_by_email = True
        db.session.commit()


def test_a_trusted_platform_links_an_existing_learner_by_email(app, client, make, platform,
                                                               acme):
    org, _ = acme
    existing = make.user(org, "ngozi@acme.test", name="Ngozi A.")
    _trust_emails(app)
    assert launch(client, platform).status_code == 302
    with app.app_context():
        identity = db.session.execute(select(LtiIdentity)).scalar_one()
        assert identity.user_id == existing.id


def test_by_default_an_lms_email_never_takes_over_an_account(app, client, make, platform, acme):
    # On Moodle people can type any e-mail into their profile: it proves nothing.
    org, _ = acme
    existing = make.user(org, "ngozi@acme.test", name="Ngozi A.")
    assert launch(client, platform).status_code == 302
    with app.app_context():
        identity = db.session.execute(select(LtiIdentity)).scalar_one()
        assert identity.user_id != existing.id
        assert identity.user.email.endswith("@lti.invalid")


def test_a_staff_account_is_never_linked_by_email(app, client, make, platform, acme):
    org, _ = acme
    admin = make.user(org, "ngozi@acme.test", name="Ngozi A.", roles=(Role.ADMIN,))
    _trust_emails(app)
    assert launch(client, platform).status_code == 302
    with app.app_context():
        identity = db.session.execute(select(LtiIdentity)).scalar_one()
        assert identity.user_id != admin.id
        assert db.session.get(User, identity.user_id).roles == {Role.LEARNER}


def test_a_deactivated_account_cannot_launch(app, client, platform, acme):
    assert launch(client, platform).status_code == 302
    with app.app_context():
        db.session.execute(select(User).filter_by(name="Ngozi Adeyemi")).scalar_one().active = False
        db.session.commit()
    again = launch(app.test_client(), platform)
    assert again.status_code == 403
    assert "<code>account_inactive</code>" in again.text


@pytest.mark.parametrize(("lti_roles", "expected"), [
    (["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"], {Role.TRAINER}),
    (["http://purl.imsglobal.org/vocab/lis/v2/membership#ContentDeveloper"], {Role.TRAINER}),
    (["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator"], {Role.ADMIN}),
    (["Learner"], {Role.LEARNER}),
    (["http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"], {Role.LEARNER}),
])
def test_lti_roles_map_to_ours(app, client, platform, acme, lti_roles, expected):
    assert launch(client, platform, **{LTI + "roles": lti_roles}).status_code == 302
    [user] = users_named(app)
    with app.app_context():
        assert db.session.get(User, user.id).roles == expected


def test_a_module_link_opens_that_module(app, client, platform, acme):
    response = launch(client, platform, **{LTI + "custom": {"module": "tiny-module"}})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/tiny-module/")
    assert client.get(response.headers["Location"]).status_code == 200


def test_a_link_to_content_that_does_not_exist_gets_a_clear_page(app, client, platform, acme):
    response = launch(client, platform, **{LTI + "custom": {"course": "gone"}})
    assert response.status_code == 404
    assert "does not exist in your organisation" in response.text


def test_without_third_party_cookies_a_one_time_link_continues_in_a_new_window(
        app, client, platform, acme):
    state, nonce = start_login(client, platform)
    cookieless = app.test_client()  # the iframe that never got (or sends) our cookies
    response = cookieless.post("/lti/launch", data={
        "id_token": platform.id_token(nonce), "state": state})
    assert response.status_code == 200
    assert "Open the training in a new window" in response.text
    link = response.text.split('href="/lti/continue/')[1].split('"')[0]
    window = app.test_client()
    opened = window.get(f"/lti/continue/{link}")
    assert opened.status_code == 302 and opened.headers["Location"] == "/learn/"
    assert "Onboarding" in window.get("/learn/").text
    # The link works once.
    reused = app.test_client().get(f"/lti/continue/{link}")
    assert reused.status_code == 400
    assert "expired or was already used" in reused.text


def test_jwks_is_cached_and_refetched_once_for_a_new_platform_key(app, client, platform, acme):
    assert launch(client, platform).status_code == 302
    assert launch(app.test_client(), platform).status_code == 302
    assert platform.jwks_requests == 1

    rotated = new_rsa_key()
    platform.extra_keys["platform-key-2"] = rotated
    response = launch(app.test_client(), platform,
                      token_options={"key": rotated, "kid": "platform-key-2"})
    assert response.status_code == 302
    assert platform.jwks_requests == 2


def test_unknown_kid_is_refused_after_exactly_one_refetch(app, client, platform, acme, caplog):
    assert launch(client, platform).status_code == 302
    before = platform.jwks_requests
    caplog.set_level(logging.WARNING, logger="lms_plugin.lti")
    response = launch(app.test_client(), platform,
                      token_options={"key": new_rsa_key(), "kid": "never-published"})
    assert response.status_code == 400
    assert "unknown_key" in response.text
    assert platform.jwks_requests == before + 1
    assert "LTI rejected unknown_key" in caplog.text


# -- every rejection: a clear page, a log line, nothing created -----------------------------

def _public_pem(platform) -> bytes:
    return platform.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _unsigned(platform, nonce) -> str:
    return jwt.encode(platform.claims(nonce), None, algorithm="none",
                      headers={"kid": platform.kid})


def _hs256_with_public_key(platform, nonce) -> str:
    # The classic confusion attack: HMAC keyed with the platform's *public* key. PyJWT refuses
    # to sign with a PEM as an HMAC secret, so the token is assembled by hand.
    import base64
    import hashlib
    import hmac
    import json

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    head = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": platform.kid}).encode())
    body = b64(json.dumps(platform.claims(nonce)).encode())
    signature = hmac.new(_public_pem(platform), head + b"." + body, hashlib.sha256).digest()
    return (head + b"." + body + b"." + b64(signature)).decode()


REJECTIONS = {
    "bad_signature": (lambda p, n: p.id_token(n, key=new_rsa_key()), "signature does not match"),
    "alg_none": (_unsigned, "algorithm 'none'"),
    "hs256_public_key": (_hs256_with_public_key, "algorithm 'HS256'"),
    "expired": (lambda p, n: p.id_token(n, iat=int(time.time()) - 900,
                                        exp=int(time.time()) - 600), "has expired"),
    "future_iat": (lambda p, n: p.id_token(n, iat=int(time.time()) + 600,
                                           exp=int(time.time()) + 900), "dated in the future"),
    "wrong_audience": (lambda p, n: p.id_token(n, aud="another-tool", azp="another-tool"),
                       "meant for another tool"),
    "unknown_deployment": (lambda p, n: p.id_token(n, **{LTI + "deployment_id": "rogue"}),
                           "deployment 'rogue' is not registered"),
    "wrong_nonce": (lambda p, n: p.id_token("a-nonce-we-never-issued"),
                    "nonce does not belong to this login"),
}
CODES = {"alg_none": "bad_algorithm", "hs256_public_key": "bad_algorithm",
         "future_iat": "issued_in_future"}


@pytest.mark.parametrize("case", sorted(REJECTIONS))
def test_a_forged_or_stale_launch_is_refused_with_a_page_and_a_log_line(
        app, client, platform, acme, caplog, case):
    make_token, sentence = REJECTIONS[case]
    state, nonce = start_login(client, platform)
    caplog.set_level(logging.WARNING, logger="lms_plugin.lti")
    response = client.post("/lti/launch", data={"id_token": make_token(platform, nonce),
                                                "state": state})
    code = CODES.get(case, case)
    assert response.status_code == 400
    assert "The launch could not be completed" in response.text
    assert sentence in html.unescape(response.text)
    assert f"<code>{code}</code>" in response.text
    assert f"LTI rejected {code}" in caplog.text
    assert users_named(app) == []
    assert client.get("/learn/").status_code == 302  # not signed in


def test_a_replayed_launch_is_refused(app, client, platform, acme, caplog):
    state, nonce = start_login(client, platform)
    form = {"id_token": platform.id_token(nonce), "state": state}
    assert client.post("/lti/launch", data=form).status_code == 302
    caplog.set_level(logging.WARNING, logger="lms_plugin.lti")
    replay = app.test_client().post("/lti/launch", data=form)
    assert replay.status_code == 400
    assert "already used" in replay.text and "<code>replayed</code>" in replay.text
    assert "LTI rejected replayed" in caplog.text


@pytest.mark.parametrize(("state", "code"), [(None, "missing_state"),
                                             ("made-up-state", "unknown_state")])
def test_a_launch_without_our_state_is_refused(app, client, platform, acme, caplog, state, code):
    _, nonce = start_login(client, platform)
    caplog.set_level(logging.WARNING, logger="lms_plugin.lti")
    form = {"id_token": platform.id_token(nonce)}
    if state:
        form["state"] = state
    response = client.post("/lti/launch", data=form)
    assert response.status_code == 400
    assert f"<code>{code}</code>" in response.text
    assert f"LTI rejected {code}" in caplog.text
    assert users_named(app) == []


def test_a_state_cookie_from_another_login_is_refused(app, client, platform, acme):
    state, nonce = start_login(client, platform)
    from lms_plugin.lti.launch import state_cookie_name

    client.set_cookie(state_cookie_name(state), state[:16] + "-someone-else", path="/lti/")
    response = client.post("/lti/launch", data={"id_token": platform.id_token(nonce),
                                                "state": state})
    assert response.status_code == 400 and "<code>state_mismatch</code>" in response.text


def test_an_expired_login_cannot_be_completed(app, client, platform, acme):
    state, nonce = start_login(client, platform)
    with app.app_context():
        login = db.session.execute(select(LtiLoginState).filter_by(state=state)).scalar_one()
        login.expires_at = login.created_at
        db.session.commit()
    response = client.post("/lti/launch", data={"id_token": platform.id_token(nonce),
                                                "state": state})
    assert response.status_code == 400 and "<code>unknown_state</code>" in response.text


def test_login_from_an_unregistered_platform_is_refused(client, platform, acme, caplog):
    caplog.set_level(logging.WARNING, logger="lms_plugin.lti")
    response = client.get("/lti/login", query_string={
        "iss": "https://rogue.example", "login_hint": "x", "target_link_uri": "http://localhost/"})
    assert response.status_code == 400
    assert "is not registered with Cleared to Post" in response.text
    assert "LTI rejected unknown_platform" in caplog.text


def test_login_without_required_fields_says_which(client, platform, acme):
    response = client.get("/lti/login", query_string={"iss": platform.issuer})
    assert response.status_code == 400 and "no 'login_hint'" in html.unescape(response.text)


def test_purge_removes_only_expired_logins(app, client, runner, platform, acme):
    stale, _ = start_login(client, platform)
    fresh, _ = start_login(client, platform)
    with app.app_context():
        login = db.session.execute(select(LtiLoginState).filter_by(state=stale)).scalar_one()
        login.expires_at = login.created_at
        db.session.commit()
    result = runner.invoke(args=["lti", "purge"])
    assert "removed 1 expired logins and 0 expired tickets" in result.output
    with app.app_context():
        assert [row.state for row in db.session.execute(select(LtiLoginState)).scalars()] == [
            fresh]
