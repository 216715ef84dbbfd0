"""The eligibility API: key auth and scopes, tenant isolation, the batch endpoint's limits."""

from __future__ import annotations

from sqlalchemy import select

from lms_plugin.core.api import Scope
from lms_plugin.core.extensions import db
from lms_plugin.core.models import ApiKey


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def test_missing_wrong_and_revoked_keys_are_refused(app, client, make):
    org = make.org()
    make.user(org, "a@acme.test")
    key = make.api_key(org)
    assert client.get("/api/v1/posting-rights/a@acme.test").status_code == 401
    wrong = key[:-4] + "AAAA"
    response = client.get("/api/v1/posting-rights/a@acme.test", headers=bearer(wrong))
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert client.get("/api/v1/posting-rights/a@acme.test", headers=bearer(key)).status_code == 200
    with app.app_context():
        row = db.session.execute(select(ApiKey)).scalar_one()
        assert row.last_used_at is not None
        from lms_plugin.core.timeutil import utcnow

        row.revoked_at = utcnow()
        db.session.commit()
    assert client.get("/api/v1/posting-rights/a@acme.test", headers=bearer(key)).status_code == 401


def test_key_without_the_scope_is_forbidden(client, make):
    org = make.org()
    key = make.api_key(org, scopes=[Scope.WEBHOOKS_MANAGE])
    response = client.get("/api/v1/posting-rights/a@acme.test", headers=bearer(key))
    assert response.status_code == 403
    assert "rights:read" in response.json["error"]["message"]
    reader = make.api_key(org)
    assert client.get("/api/v1/webhooks", headers=bearer(reader)).status_code == 403


def test_another_organisations_employee_is_indistinguishable_from_unknown(client, make):
    ours, theirs = make.org(), make.org()
    make.user(theirs, "them@other.test", external_id="EXT-9")
    key = make.api_key(ours)
    other = client.get("/api/v1/posting-rights/them@other.test", headers=bearer(key))
    unknown = client.get("/api/v1/posting-rights/nobody@other.test", headers=bearer(key))
    assert other.status_code == unknown.status_code == 404
    assert other.json["error"] == unknown.json["error"]
    assert client.get("/api/v1/posting-rights/EXT-9", headers=bearer(key)).status_code == 404
    batch = client.post(
        "/api/v1/posting-rights:batch",
        headers=bearer(key),
        json={"identifiers": ["them@other.test", "EXT-9", "nobody@x.test"]},
    )
    assert [r["found"] for r in batch.json["results"]] == [False, False, False]
    assert all(set(r) == {"identifier", "found"} for r in batch.json["results"])


def test_lookup_by_external_id_and_case_insensitive_email(client, make):
    org = make.org()
    make.course(org)
    make.user(org, "sam@acme.test", external_id="E-1")
    key = make.api_key(org)
    by_email = client.get("/api/v1/posting-rights/SAM@acme.test", headers=bearer(key))
    by_ext = client.get("/api/v1/posting-rights/E-1", headers=bearer(key))
    assert by_email.json["status"] == by_ext.json["status"] == "not_started"
    assert by_email.json["eligible"] is False


def test_batch_answers_in_order_for_known_and_unknown(client, make):
    org = make.org()
    course = make.course(org)
    make.user(org, "a@acme.test")
    cleared = make.user(org, "b@acme.test", external_id="B-2")
    make.certified_for_posting(cleared, course)
    key = make.api_key(org)
    response = client.post(
        "/api/v1/posting-rights:batch",
        headers=bearer(key),
        json={"identifiers": ["B-2", "nobody@acme.test", "a@acme.test"]},
    )
    assert response.status_code == 200
    results = response.json["results"]
    assert [(r["identifier"], r["found"], r.get("status")) for r in results] == [
        ("B-2", True, "eligible"),
        ("nobody@acme.test", False, None),
        ("a@acme.test", True, "not_started"),
    ]


def test_batch_refuses_bad_bodies_with_the_field_named(client, make):
    key = make.api_key(make.org())
    url = "/api/v1/posting-rights:batch"
    not_json = client.post(
        url, headers=bearer(key), data="identifiers=a", content_type="text/plain"
    )
    assert not_json.status_code == 400
    assert not_json.json["error"]["code"] == "invalid_body"
    wrong_type = client.post(url, headers=bearer(key), json={"identifiers": "a@b.test"})
    assert (wrong_type.status_code, wrong_type.json["error"]["field"]) == (400, "identifiers")
    bad_item = client.post(url, headers=bearer(key), json={"identifiers": ["a@b.test", 7]})
    assert (bad_item.status_code, bad_item.json["error"]["field"]) == (400, "identifiers[1]")
    too_many = client.post(
        url, headers=bearer(key), json={"identifiers": [f"p{i}@b.test" for i in range(1001)]}
    )
    assert too_many.status_code == 400
    assert "limit is 1000" in too_many.json["error"]["message"]
    just_enough = client.post(
        url, headers=bearer(key), json={"identifiers": [f"p{i}@b.test" for i in range(1000)]}
    )
    assert just_enough.status_code == 200
    assert len(just_enough.json["results"]) == 1000


def test_openapi_describes_the_advocacy_operations(client):
    document = client.get("/api/v1/openapi.json").json
    for path, method in (
        ("/posting-rights/{identifier}", "get"),
        ("/posting-rights:batch", "post"),
        ("/webhooks", "get"),
        ("/webhooks", "post"),
        ("/webhooks/{id}", "delete"),
        ("/webhooks/{id}/deliveries", "get"),
        ("/webhooks/{id}/deliveries/{delivery_id}/redeliver", "post"),
        ("/drafts/check", "post"),
    ):
        assert method in document["paths"][path], (path, method)
    schemas = document["components"]["schemas"]
    assert "probation" in schemas["PostingRights"]["properties"]["status"]["enum"]
    assert "WebhookEvent" in schemas and "DraftFindings" in schemas
