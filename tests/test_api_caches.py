"""The eligibility API's brief caches: the key cache and the answer cache, their expiry,
their in-process invalidation and their tenant isolation."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from advocacy import services
from advocacy.services import RightsCache
from certificates import services as certificate_services
from certificates.models import Certificate
from lms_plugin.core.api import ApiKeyCache, AuthenticatedKey, key_cache
from lms_plugin.core.extensions import db
from lms_plugin.core.models import ApiKey, Role, User

from .conftest import submit_form

SHORT = 0.3  # seconds: long enough for two requests, short enough to wait out in a test


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def rights(client, key: str, identifier: str):
    return client.get(f"/api/v1/posting-rights/{identifier}", headers=bearer(key))


def write_behind_our_back(app, sql: str, **params) -> None:
    """A write as another process would make it: a bare DBAPI connection, none of our events."""
    with app.app_context():
        connection = db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            placeholder = "?" if db.engine.dialect.paramstyle == "qmark" else "%s"
            cursor.execute(sql.replace(":id", placeholder), (params["id"],))
            connection.commit()
        finally:
            connection.close()


@pytest.fixture
def app_config(app_config):
    # Long by default so that only invalidation can explain a fresh answer; tests of expiry
    # shorten them on the app.
    return app_config | {"RIGHTS_CACHE_SECONDS": 60, "API_KEY_CACHE_SECONDS": 60}


@pytest.fixture
def cleared(make):
    """An organisation with a required course, one certified employee and a reader key."""
    org = make.org()
    course = make.course(org)
    person = make.user(org, "sam@acme.test", external_id="E-1")
    make.certified_for_posting(person, course)
    return org, course, person, make.api_key(org)


# -- the key cache ----------------------------------------------------------------------------


def test_a_key_revoked_elsewhere_stops_working_when_the_key_cache_expires(app, client, cleared):
    org, _, _, key = cleared
    app.extensions["api_key_cache"] = ApiKeyCache(ttl=SHORT)
    assert rights(client, key, "sam@acme.test").status_code == 200
    write_behind_our_back(
        app, "UPDATE api_key SET revoked_at = CURRENT_TIMESTAMP WHERE id = :id", id=_key_id(app)
    )
    # Another process revoked it: this process may trust what it read for up to the TTL...
    assert rights(client, key, "sam@acme.test").status_code == 200
    time.sleep(SHORT + 0.05)
    # ...and no longer.
    response = rights(client, key, "sam@acme.test")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_revoking_on_the_admin_page_refuses_the_key_at_once(app, client, make, auth, cleared):
    org, _, _, key = cleared
    make.user(org, "ada@acme.test", roles=(Role.ADMIN,))
    assert rights(client, key, "sam@acme.test").status_code == 200
    assert len(key_cache(app)) == 1  # the key is cached, with a 60-second TTL
    auth.login("ada@acme.test")
    revoked = submit_form(client, "/advocacy/api-keys", f"/advocacy/api-keys/{_key_id(app)}/revoke")
    assert revoked.status_code == 302
    auth.logout()
    assert rights(client, key, "sam@acme.test").status_code == 401


def test_the_key_cache_still_checks_the_secret_and_the_scope(app, client, make, cleared):
    org, _, _, key = cleared
    assert rights(client, key, "sam@acme.test").status_code == 200
    forged = key[:-6] + ("A" * 6 if not key.endswith("AAAAAA") else "B" * 6)
    assert rights(client, forged, "sam@acme.test").status_code == 401  # same prefix, cached
    assert client.get("/api/v1/webhooks", headers=bearer(key)).status_code == 403


def test_last_used_is_written_once_then_throttled(app, client, cleared):
    _, _, _, key = cleared
    assert rights(client, key, "sam@acme.test").status_code == 200
    with app.app_context():
        first = db.session.execute(select(ApiKey.last_used_at)).scalar_one()
    assert first is not None
    assert rights(client, key, "sam@acme.test").status_code == 200
    with app.app_context():
        assert db.session.execute(select(ApiKey.last_used_at)).scalar_one() == first


def test_the_key_cache_is_bounded_and_expires():
    cache = ApiKeyCache(ttl=SHORT, size=2)
    keys = [AuthenticatedKey(i, 1, f"p{i}", "h", ("rights:read",), False, None) for i in range(3)]
    for key in keys:
        cache.put(key)
    assert len(cache) == 2
    assert cache.get("p0") is None  # the oldest went first
    assert cache.get("p2") == keys[2]
    time.sleep(SHORT + 0.05)
    assert cache.get("p2") is None
    off = ApiKeyCache(ttl=0)
    off.put(keys[0])
    assert off.get("p0") is None


# -- the answer cache -------------------------------------------------------------------------


def test_answers_from_elsewhere_are_reused_at_most_for_the_ttl(app, client, cleared):
    _, _, person, key = cleared
    app.extensions["advocacy_rights_cache"] = RightsCache(ttl=SHORT)
    assert rights(client, key, "sam@acme.test").json["status"] == "eligible"
    # Another process deactivates the account: invisible to this process's events.
    write_behind_our_back(app, 'UPDATE "user" SET active = false WHERE id = :id', id=person.id)
    assert rights(client, key, "sam@acme.test").json["status"] == "eligible"  # cached briefly
    time.sleep(SHORT + 0.05)
    after = rights(client, key, "sam@acme.test").json
    assert (after["status"], after["eligible"]) == ("suspended", False)


def test_a_suspension_here_is_seen_by_the_next_request(app, client, make, cleared):
    org, _, person, key = cleared
    hr = make.user(org, "hr@acme.test", roles=(Role.ADMIN,))
    assert rights(client, key, "sam@acme.test").json["status"] == "eligible"
    assert len(services.rights_cache(app)) == 1
    with app.app_context():
        services.suspend(
            db.session.get(User, person.id), "Leaked a roadmap", by=db.session.get(User, hr.id)
        )
        db.session.commit()
    answer = rights(client, key, "sam@acme.test").json
    assert answer["status"] == "suspended"
    assert "Leaked a roadmap" in answer["reasons"][0]
    with app.app_context():
        services.reinstate(
            db.session.get(User, person.id), "Cleared up", by=db.session.get(User, hr.id)
        )
        db.session.commit()
    assert rights(client, key, "sam@acme.test").json["status"] == "eligible"


def test_a_revoked_certificate_is_seen_by_the_next_request(app, client, make, cleared):
    org, _, person, key = cleared
    hr = make.user(org, "hr@acme.test", roles=(Role.ADMIN,))
    assert rights(client, key, "E-1").json["status"] == "eligible"
    with app.app_context():
        certificate = db.session.execute(select(Certificate)).scalar_one()
        certificate_services.revoke(certificate, db.session.get(User, hr.id), "Issued in error")
        db.session.commit()
    answer = rights(client, key, "E-1").json
    assert (answer["status"], answer["eligible"]) == ("in_training", False)


def test_a_new_policy_and_a_new_certificate_are_seen_by_the_next_request(
    app, client, make, cleared
):
    org, course, person, key = cleared
    newcomer = make.user(org, "new@acme.test")
    make.enrollment(newcomer, course)
    assert rights(client, key, "sam@acme.test").json["status"] == "eligible"
    assert rights(client, key, "new@acme.test").json["status"] == "in_training"
    policy = make.published_policy(org)
    assert rights(client, key, "sam@acme.test").json["status"] == "policy_update_required"
    make.policy_acknowledged(person, policy)
    assert rights(client, key, "sam@acme.test").json["status"] == "eligible"
    make.certified_for_posting(newcomer, course)
    make.policy_acknowledged(newcomer, policy)
    assert rights(client, key, "new@acme.test").json["status"] == "eligible"


def test_cached_answers_never_cross_organisations(app, client, make):
    ours, theirs = make.org(), make.org()
    our_course, _ = make.course(ours), make.course(theirs)
    ours_person = make.user(ours, "sam@acme.test", external_id="E-1")
    make.user(theirs, "sam@other.test", external_id="E-1")  # the same external id
    make.certified_for_posting(ours_person, our_course)
    our_key, their_key = make.api_key(ours), make.api_key(theirs)
    assert rights(client, our_key, "E-1").json["status"] == "eligible"
    assert rights(client, their_key, "E-1").json["status"] == "not_started"
    assert rights(client, our_key, "E-1").json["status"] == "eligible"
    # Our employee's e-mail, asked with their key, stays unknown even with ours cached.
    assert rights(client, our_key, "sam@acme.test").status_code == 200
    assert rights(client, their_key, "sam@acme.test").status_code == 404


def test_the_answer_cache_is_bounded_expires_and_drops_answers_older_than_a_write():
    cache = RightsCache(ttl=SHORT, size=2)
    generation = services._generation
    for n in range(3):
        cache.put(1, f"e{n}", generation, {"status": "eligible"})
    assert len(cache) == 2
    assert cache.get(1, "e0") is None
    assert cache.get(2, "e2") is None  # another organisation: a different key
    assert cache.get(1, "e2") == {"status": "eligible"}
    services._bump_generation()  # a write in this process
    assert cache.get(1, "e2") is None
    cache.put(1, "stale", generation, {"status": "eligible"})  # computed before the write
    assert cache.get(1, "stale") is None
    cache.put(1, "fresh", services._generation, {"status": "eligible"})
    assert cache.get(1, "fresh") is not None
    time.sleep(SHORT + 0.05)
    assert cache.get(1, "fresh") is None
    off = RightsCache(ttl=0)
    off.put(1, "e0", services._generation, {"status": "eligible"})
    assert off.get(1, "e0") is None


def _key_id(app) -> int:
    with app.app_context():
        return db.session.execute(select(ApiKey.id)).scalar_one()


def test_the_api_path_gives_the_rule_the_same_facts_as_the_orm_user(app, make, cleared):
    org, course, person, _ = cleared
    hr = make.user(org, "hr@acme.test", roles=(Role.ADMIN,))
    learner = make.user(org, "lee@acme.test", external_id="L-1")
    make.enrollment(learner, course)
    make.user(org, "gone@acme.test", active=False)
    with app.app_context():
        services.suspend(
            db.session.get(User, person.id), "Pending review", by=db.session.get(User, hr.id)
        )
        db.session.commit()
        seen = set()
        for identifier in ("sam@acme.test", "L-1", "gone@acme.test", "HR@acme.test"):
            employee = services.find_employee_facts(org.id, identifier)
            user = services.find_employee(org.id, identifier)
            assert employee == (user.id, user.organization_id, user.active)
            by_facts, by_user = (
                services.posting_rights_for(employee),
                services.posting_rights_for(user),
            )
            assert by_facts == by_user
            seen.add(by_facts.status)
        assert services.find_employee_facts(org.id, "nobody@acme.test") is None
        assert services.find_employee_facts(org.id, "  ") is None
    assert seen == {"suspended", "in_training", "not_started"}
