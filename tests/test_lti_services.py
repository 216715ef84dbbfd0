"""AGS grade passback, deep linking, NRPS rosters and tool keys against the in-test platform."""

from __future__ import annotations

import html
import json
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from sqlalchemy import select

from course import services as course_services
from course.models import Enrollment
from lms_plugin.core import outbox
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Role, User
from lms_plugin.core.timeutil import utcnow
from lms_plugin.lti import keys
from lms_plugin.lti.models import LtiContext, LtiPlatform, LtiToolKey
from quizzes import services as quiz_services

from .lti_platform import (  # noqa: F401 - the fixtures are used by name
    CLIENT_ID,
    DEPLOYMENT_ID,
    LTI,
    acme_fixture,
    launch,
    platform_fixture,
)
from .test_skeleton_flow import BANK, correct_answer

INSTRUCTOR = ["http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"]
DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"


def finish_course(app, email="ngozi@acme.test", fail_first=False):
    """The learner reads every lesson and passes the quiz (through the same services)."""
    with app.app_context():
        user = db.session.execute(select(User).filter_by(email=email)).scalar_one()
        enrollment = db.session.execute(select(Enrollment).filter_by(user_id=user.id)
                                        ).scalar_one()
        version = course_services.current_module_version(user.organization_id, "tiny-module")
        for lesson in version.module.lessons:
            course_services.mark_lesson_read(enrollment, version, lesson.slug)
        if fail_first:
            attempt = quiz_services.start_attempt(user, version.quiz_version)
            quiz_services.submit_attempt(attempt, {qid: ["9"] for qid in BANK})
        attempt = quiz_services.start_attempt(user, version.quiz_version)
        quiz_services.submit_attempt(attempt, {qid: correct_answer(q) for qid, q in BANK.items()})
        db.session.commit()


def deliver(app):
    with app.app_context():
        return outbox.process_due()


# -- Assignment and Grade Services ------------------------------------------------------------

def test_attempt_and_completion_scores_reach_the_line_item(app, client, platform, acme):
    assert launch(client, platform).status_code == 302
    finish_course(app, fail_first=True)
    # A failed attempt (progress), then the passing one that completes the course: its
    # completion is the final grade, not overwritten by "in progress".
    assert deliver(app) == {"delivered": 2, "retry": 0, "failed": 0}

    assert len(platform.scores) == 2
    for sent in platform.scores:
        assert sent["path"] == "/courses/7/lineitems/1/lineitem/scores"
        assert sent["query"] == "type=quiz"
        assert sent["content_type"] == "application/vnd.ims.lis.v1.score+json"
        assert sent["authorization"].startswith("Bearer token-")
        assert sent["body"]["userId"] == "lms-user-42"
    attempt, completion = (s["body"] for s in platform.scores)
    assert attempt["activityProgress"] == "InProgress"
    assert attempt["gradingProgress"] == "Pending"
    assert attempt["scoreGiven"] == 0.0
    assert attempt["comment"].startswith("quiz:tiny-module: ")
    assert attempt["comment"].endswith("/100")
    assert completion["scoreGiven"] == 100.0 and completion["scoreMaximum"] == 100.0
    assert completion["activityProgress"] == "Completed"
    assert completion["gradingProgress"] == "FullyGraded"

    # The scores were sent with a token won by a client assertion signed with our published
    # key; the token is reused while it is valid (the platform says 3600 s).
    assert len(platform.token_requests) == 1
    for request in platform.token_requests:
        assert request["error"] is None
        assert request["form"]["grant_type"] == "client_credentials"
        assert request["form"]["scope"] == "https://purl.imsglobal.org/spec/lti-ags/scope/score"
        assert request["claims"]["sub"] == CLIENT_ID

    # Delivered once: running the worker again sends nothing more.
    assert deliver(app) == {"delivered": 0, "retry": 0, "failed": 0}


def test_a_module_link_gets_the_quiz_score_as_its_final_grade(app, client, platform, acme):
    assert launch(client, platform, **{LTI + "custom": {"module": "tiny-module"}}
                  ).status_code == 302
    with app.app_context():
        user = db.session.execute(select(User).filter_by(email="ngozi@acme.test")).scalar_one()
        version = course_services.current_module_version(user.organization_id, "tiny-module")
        attempt = quiz_services.start_attempt(user, version.quiz_version)
        quiz_services.submit_attempt(attempt, {qid: ["9"] for qid in BANK})
        db.session.commit()
        percent = attempt.percent
    assert percent < 60
    deliver(app)
    [sent] = platform.scores
    assert sent["body"]["scoreGiven"] == percent
    assert sent["body"]["activityProgress"] == "Completed"


def test_a_failed_delivery_is_retried_through_the_outbox(app, client, platform, acme):
    assert launch(client, platform).status_code == 302
    finish_course(app, fail_first=True)
    platform.score_failures = 1
    assert deliver(app) == {"delivered": 1, "retry": 1, "failed": 0}
    with app.app_context():
        waiting = db.session.execute(select(outbox.OutboxMessage).filter_by(
            status=outbox.PENDING)).scalar_one()
        assert "503" in waiting.last_error
        assert waiting.next_attempt_at > utcnow()
        waiting.next_attempt_at = utcnow()  # the backoff has passed
        db.session.commit()
    assert deliver(app) == {"delivered": 1, "retry": 0, "failed": 0}
    assert len(platform.scores) == 2


def test_a_revoked_token_is_dropped_and_a_new_one_won_on_retry(app, client, platform, acme):
    assert launch(client, platform).status_code == 302
    finish_course(app, fail_first=True)
    platform.issued_tokens.clear()  # the platform revokes every token it gave
    with app.app_context():
        from lms_plugin.lti import services

        services.access_token(db.session.get(LtiPlatform, 1), [services.SCORE_SCOPE])
    platform.issued_tokens.clear()  # ...and the one just cached too
    assert deliver(app) == {"delivered": 1, "retry": 1, "failed": 0}
    with app.app_context():
        waiting = db.session.execute(select(outbox.OutboxMessage).filter_by(
            status=outbox.PENDING)).scalar_one()
        assert "401" in waiting.last_error
        waiting.next_attempt_at = utcnow()
        db.session.commit()
    assert deliver(app) == {"delivered": 1, "retry": 0, "failed": 0}
    assert len(platform.scores) == 2


def test_grades_of_people_who_never_came_through_lti_stay_home(app, make, platform, acme):
    org, course = acme
    local = make.user(org, "local@acme.test")
    make.enrollment(local, course)
    finish_course(app, "local@acme.test")
    with app.app_context():
        assert db.session.execute(select(outbox.OutboxMessage)).first() is None


# -- Deep Linking --------------------------------------------------------------------------

def deep_link_launch(client, platform, roles=INSTRUCTOR):
    return launch(client, platform, **{
        LTI + "message_type": "LtiDeepLinkingRequest", LTI + "roles": roles,
        LTI + "resource_link": None,
        DL + "deep_linking_settings": {
            "deep_link_return_url": platform.base + "/deep-link-return",
            "accept_types": ["ltiResourceLink"], "accept_presentation_document_targets":
                ["iframe", "window"], "data": "opaque-platform-data"}})


def test_an_instructor_places_a_module_through_deep_linking(app, client, platform, acme):
    response = deep_link_launch(client, platform)
    assert response.status_code == 302
    chooser_url = response.headers["Location"]
    assert chooser_url.startswith("/lti/deep-link/")
    # The chooser works without cookies: a fresh client stands for a cookie-less iframe.
    frame = app.test_client()
    chooser = frame.get(chooser_url)
    assert chooser.status_code == 200
    assert "Onboarding" in chooser.text and "Posting basics (test)" in chooser.text

    answer = frame.post(chooser_url, data={"choice": "module:tiny-module"})
    assert answer.status_code == 200
    page = html.unescape(answer.text)
    assert f'action="{platform.base}/deep-link-return"' in page
    token = page.split('name="JWT" value="')[1].split('"')[0]
    published = client.get("/lti/jwks.json").json
    kid = jwt.get_unverified_header(token)["kid"]
    jwk = next(k for k in published["keys"] if k["kid"] == kid)
    claims = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["RS256"],
                        audience=platform.issuer, issuer=CLIENT_ID)
    assert claims[LTI + "message_type"] == "LtiDeepLinkingResponse"
    assert claims[LTI + "deployment_id"] == DEPLOYMENT_ID
    assert claims[DL + "data"] == "opaque-platform-data"
    [item] = claims[DL + "content_items"]
    assert item["type"] == "ltiResourceLink"
    assert item["url"] == "http://localhost/lti/launch"
    assert item["custom"] == {"module": "tiny-module"}
    assert item["lineItem"]["scoreMaximum"] == 100

    # The placed link then launches into that module.
    placed = launch(app.test_client(), platform, **{LTI + "custom": item["custom"]})
    assert placed.headers["Location"].endswith("/tiny-module/")
    # The chooser cannot be used twice.
    assert frame.post(chooser_url, data={"choice": "course:onboarding"}).status_code == 400


def test_deep_linking_refuses_an_unknown_choice_and_learners(app, client, platform, acme):
    chooser_url = deep_link_launch(client, platform).headers["Location"]
    wrong = client.post(chooser_url, data={"choice": "course:nope"})
    assert wrong.status_code == 400
    assert "There is no course" in html.unescape(wrong.text)
    learner = deep_link_launch(app.test_client(), platform,
                               roles=["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"])
    assert learner.status_code == 403
    assert "Only instructors" in learner.text


# -- Names and Roles ------------------------------------------------------------------------

def test_hr_pulls_the_roster_and_sees_who_has_not_started(app, client, make, platform, acme,
                                                          auth):
    org, _ = acme
    assert launch(app.test_client(), platform).status_code == 302  # Ngozi started
    finish_course(app)
    assert launch(app.test_client(), platform, sub="lms-user-43", name="Tomás Ruiz",
                  email="tomas@acme.test").status_code == 302  # enrolled, nothing done
    platform.members = [
        {"user_id": "lms-user-42", "name": "Ngozi Adeyemi", "email": "ngozi@acme.test",
         "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]},
        {"user_id": "lms-user-43", "name": "Tomás Ruiz", "email": "tomas@acme.test",
         "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]},
        {"user_id": "lms-user-44", "name": "Aiko Tanaka", "email": "aiko@acme.test",
         "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"]},
    ]
    make.user(org, "hr@acme.test", name="Harper HR", roles=(Role.HR,))
    auth.login("hr@acme.test")
    listing = client.get("/lti/rosters")
    assert "Onboarding 2026" in listing.text
    with app.app_context():
        context = db.session.execute(select(LtiContext)).scalar_one()
    page = client.get(f"/lti/rosters/{context.id}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "2 of 3 people have not started" in text
    rows = {name: text.split(name)[1].split("</tr>")[0] for name in
            ("Ngozi Adeyemi", "Tomás Ruiz", "Aiko Tanaka")}
    assert "completed" in rows["Ngozi Adeyemi"]
    assert "not started" in rows["Tomás Ruiz"]
    assert "no account yet" in rows["Aiko Tanaka"]
    assert len(platform.membership_requests) == 2  # two pages, followed by the Link header
    for request in platform.membership_requests:
        assert request["authorization"].startswith("Bearer token-")
        assert "membershipcontainer" in request["accept"]


def test_rosters_are_for_hr_and_their_own_organisation(app, client, make, platform, acme, auth):
    assert launch(app.test_client(), platform).status_code == 302
    other = make.org("other")
    make.user(other, "hr@other.test", roles=(Role.HR,))
    make.user(acme[0], "learner@acme.test")
    with app.app_context():
        context_id = db.session.execute(select(LtiContext.id)).scalar_one()
    auth.login("learner@acme.test")
    assert client.get("/lti/rosters").status_code == 403
    auth.logout()
    auth.login("hr@other.test")
    assert client.get(f"/lti/rosters/{context_id}").status_code == 404


# -- tool keys -------------------------------------------------------------------------------

def test_a_key_is_made_on_first_use_and_published(client):
    first = client.get("/lti/jwks.json").json
    assert len(first["keys"]) == 1
    key = first["keys"][0]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
    assert len(jwt.utils.base64url_decode(key["n"])) * 8 == 2048
    assert "d" not in key and "p" not in key  # never the private half
    assert client.get("/lti/jwks.json").json == first


def test_rotation_publishes_the_new_key_before_it_signs_and_keeps_the_old_one(app, client,
                                                                           runner):
    old_kid = client.get("/lti/jwks.json").json["keys"][0]["kid"]
    result = runner.invoke(args=["lti", "rotate-key", "--lead-minutes", "60"])
    assert result.exit_code == 0, result.output
    published = [k["kid"] for k in client.get("/lti/jwks.json").json["keys"]]
    assert len(published) == 2 and old_kid in published
    new_kid = next(k for k in published if k != old_kid)
    with app.app_context():
        assert jwt.get_unverified_header(keys.sign({"x": 1}))["kid"] == old_kid
        new = db.session.execute(select(LtiToolKey).filter_by(kid=new_kid)).scalar_one()
        old = db.session.execute(select(LtiToolKey).filter_by(kid=old_kid)).scalar_one()
        assert old.retire_after == new.signs_from + keys.TOKEN_LIFETIME
        # The lead time passes: the new key signs, the old stays published a while.
        new.signs_from = utcnow()
        old.retire_after = utcnow() + timedelta(minutes=4)
        db.session.commit()
        assert jwt.get_unverified_header(keys.sign({"x": 1}))["kid"] == new_kid
    assert old_kid in [k["kid"] for k in client.get("/lti/jwks.json").json["keys"]]
    with app.app_context():
        old = db.session.execute(select(LtiToolKey).filter_by(kid=old_kid)).scalar_one()
        old.retire_after = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert [k["kid"] for k in client.get("/lti/jwks.json").json["keys"]] == [new_kid]


# -- registration: CLI, admin page, configuration -------------------------------------------

def register_args(**overrides):
    values = {"--org": "acme", "--issuer": "https://canvas.instructure.com",
              "--client-id": "10000000000001",
              "--auth-login-url": "https://sso.canvaslms.com/api/lti/authorize_redirect",
              "--auth-token-url": "https://sso.canvaslms.com/login/oauth2/token",
              "--key-set-url": "https://sso.canvaslms.com/api/lti/security/jwks",
              "--deployment-id": "1:abc"} | overrides
    return ["lti", "register"] + [part for pair in values.items() for part in pair]


def test_cli_registers_a_platform_and_adds_deployments(app, runner, make):
    make.org("acme")
    result = runner.invoke(args=register_args())
    assert result.exit_code == 0, result.output
    assert "registered https://canvas.instructure.com client 10000000000001" in result.output
    again = runner.invoke(args=register_args(**{"--deployment-id": "2:def"}))
    assert "updated" in again.output and "1:abc, 2:def" in again.output
    # Another Canvas instance shares the issuer with a different client id.
    make.org("beta")
    third = runner.invoke(args=register_args(**{"--org": "beta", "--client-id": "2000"}))
    assert third.exit_code == 0
    with app.app_context():
        assert len(db.session.execute(select(LtiPlatform)).scalars().all()) == 2


@pytest.mark.parametrize(("overrides", "message"), [
    ({"--org": "nobody"}, "organisation 'nobody' does not exist"),
    ({"--key-set-url": "canvas/jwks"}, "key set url 'canvas/jwks' is not a URL"),
    ({"--deployment-id": " "}, "deployment id is empty"),
])
def test_cli_registration_mistakes_are_explained(app, runner, make, overrides, message):
    make.org("acme")
    result = runner.invoke(args=register_args(**overrides))
    assert result.exit_code != 0
    assert message in result.output
    with app.app_context():
        assert db.session.execute(select(LtiPlatform)).first() is None


def test_a_registration_cannot_be_taken_over_by_another_organisation(app, runner, make):
    make.org("acme")
    make.org("beta")
    assert runner.invoke(args=register_args()).exit_code == 0
    stolen = runner.invoke(args=register_args(**{"--org": "beta"}))
    assert stolen.exit_code != 0 and "another organisation" in stolen.output


def test_admin_registers_a_platform_on_the_admin_page(app, client, make, auth):
    from .conftest import csrf_from

    org = make.org("acme")
    make.user(org, "admin@acme.test", roles=(Role.ADMIN,))
    make.user(org, "trainer@acme.test", roles=(Role.TRAINER,))
    auth.login("trainer@acme.test")
    assert client.get("/lti/admin").status_code == 403
    auth.logout()
    auth.login("admin@acme.test")
    page = client.get("/lti/admin")
    assert "http://localhost/lti/login" in page.text
    assert "http://localhost/lti/jwks.json" in page.text
    fields = {"issuer": "https://moodle.acme.test", "client_id": "abc123",
              "deployment_id": "4", "auth_login_url": "https://moodle.acme.test/mod/lti/auth.php",
              "auth_token_url": "https://moodle.acme.test/mod/lti/token.php",
              "key_set_url": "https://moodle.acme.test/mod/lti/certs.php"}
    missing = client.post("/lti/admin", data=fields | {"client_id": "",
                                                       "csrf_token": csrf_from(page.text)})
    assert missing.status_code == 400
    assert 'id="client_id-error"' in missing.text and "Enter the client ID." in missing.text
    saved = client.post("/lti/admin", data=fields | {"csrf_token": csrf_from(page.text)},
                        follow_redirects=True)
    assert saved.status_code == 200
    assert "Registered https://moodle.acme.test" in saved.text
    with app.app_context():
        platform = db.session.execute(select(LtiPlatform)).scalar_one()
        assert platform.organization_id == org.id
        assert [d.deployment_id for d in platform.deployments] == ["4"]


def test_canvas_configuration_json_has_every_url(client):
    config = client.get("/lti/config.json").json
    assert config["oidc_initiation_url"] == "http://localhost/lti/login"
    assert config["target_link_uri"] == "http://localhost/lti/launch"
    assert config["public_jwk_url"] == "http://localhost/lti/jwks.json"
    assert "https://purl.imsglobal.org/spec/lti-ags/scope/score" in config["scopes"]
    assert ("https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
            in config["scopes"])
    placements = {p["placement"]: p for p in config["extensions"][0]["settings"]["placements"]}
    assert placements["link_selection"]["message_type"] == "LtiDeepLinkingRequest"
    json.dumps(config)  # plain JSON a Canvas admin can paste
    parse_qs(urlsplit(config["target_link_uri"]).query)
