"""The advocacy pages as each person uses them: hub, sharing, library, queue, HR and admin tools."""

from __future__ import annotations

import csv
import io
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from advocacy import services
from advocacy.models import AdvocacyPost, ConfidentialTerm, Share, WebhookEndpoint
from lms_plugin.core.extensions import db
from lms_plugin.core.models import ApiKey, AuditEntry, Organization, Role, User

from .conftest import csrf_from, submit_form


@pytest.fixture
def org(make):
    return make.org(name="Acme")


def publish(app, org, **overrides):
    fields = dict(
        title="Our new office",
        suggested_text="We opened a new office in Leeds.",
        disclosure="#employee",
        link="https://acme.example/leeds",
        hashtags=["leeds"],
        networks=["linkedin", "x"],
    )
    fields.update(overrides)
    with app.app_context():
        post = services.publish_post(db.session.get(Organization, org.id), **fields)
        db.session.commit()
        return post.id


def test_not_eligible_employee_sees_exactly_what_is_missing_with_links(
    app, client, auth, make, org
):
    course = make.course(org)
    make.published_policy(org)
    person = make.user(org, "sam@acme.test")
    make.enrollment(person, course)
    publish(app, org)
    auth.login("sam@acme.test")
    page = client.get("/advocacy/")
    assert page.status_code == 200
    text = unescape(page.text)
    assert "You cannot share posts yet" in text
    assert "'Onboarding' is not completed yet." in text
    assert "acknowledge the social media policy (version 1" in text
    assert 'href="/learn/"' in page.text
    assert "Our new office" not in text  # the library is not shown
    post_id = 1
    assert client.get(f"/advocacy/posts/{post_id}").status_code == 302


def test_eligible_employee_personalises_and_shares_with_the_disclosure_kept(
    app, client, auth, make, org
):
    course = make.course(org)
    person = make.user(org, "sam@acme.test")
    make.certified_for_posting(person, course)
    post_id = publish(app, org)
    auth.login("sam@acme.test")
    assert "Our new office" in client.get("/advocacy/").text
    url = f"/advocacy/posts/{post_id}"
    page = client.get(url)
    assert "We opened a new office in Leeds.\n\n#leeds\n\n#employee" in unescape(page.text)
    # Removing the disclosure is refused by the server, whatever the browser sends.
    removed = client.post(
        url,
        data={
            "csrf_token": csrf_from(page.text),
            "network": "x",
            "text": "We opened a new office in Leeds! #leeds",
        },
    )
    assert removed.status_code == 400
    assert "Keep the required disclosure" in unescape(removed.text)
    assert 'aria-describedby="text-help text-error"' in removed.text
    wrong_network = client.post(
        url,
        data={"csrf_token": csrf_from(page.text), "network": "facebook", "text": "Hi #employee"},
    )
    assert wrong_network.status_code == 400
    shared = client.post(
        url,
        data={
            "csrf_token": csrf_from(page.text),
            "network": "x",
            "text": "So proud of our Leeds team! #leeds #employee",
        },
    )
    assert shared.status_code == 302
    done = client.get(shared.headers["Location"])
    link = re.search(r'href="(https://twitter\.com/intent/tweet\?[^"]+)"', done.text).group(1)
    query = parse_qs(urlsplit(unescape(link)).query)
    assert query["text"] == [
        "So proud of our Leeds team! #leeds #employee https://acme.example/leeds"
    ]
    with app.app_context():
        row = db.session.execute(select(Share)).scalar_one()
        assert (row.status, row.network, row.user_id) == ("shared", "x", person.id)


def test_share_links_for_each_network():
    assert (
        services.share_url("linkedin", "t", "https://a.example/x?y=1")
        == "https://www.linkedin.com/sharing/share-offsite/?url=https%3A%2F%2Fa.example%2Fx%3Fy%3D1"
    )
    assert (
        services.share_url("facebook", "t", "https://a.example/")
        == "https://www.facebook.com/sharer/sharer.php?u=https%3A%2F%2Fa.example%2F"
    )
    assert (
        services.share_url("x", "Hi #employee", None)
        == "https://twitter.com/intent/tweet?text=Hi%20%23employee"
    )


def test_share_service_refuses_text_without_disclosure_and_blocked_employees(app, make, org):
    course = make.course(org)
    person = make.user(org)
    outsider = make.user(org)
    make.certified_for_posting(person, course)
    post_id = publish(app, org)
    with app.app_context():
        post = db.session.get(AdvocacyPost, post_id)
        with pytest.raises(services.AdvocacyError, match="required disclosure '#employee'"):
            services.share_post(db.session.get(User, person.id), post, "x", "No disclosure")
        with pytest.raises(services.AdvocacyError, match="not cleared to post"):
            services.share_post(db.session.get(User, outsider.id), post, "x", "Hi #employee")
        with pytest.raises(services.AdvocacyError, match="not meant for Facebook"):
            services.share_post(db.session.get(User, person.id), post, "facebook", "#employee")


def test_comms_publish_with_field_errors_then_success(app, client, auth, make, org):
    make.user(org, "tara@acme.test", roles=(Role.TRAINER,))
    make.user(org, "lee@acme.test")
    auth.login("lee@acme.test")
    assert client.get("/advocacy/library/new").status_code == 403
    auth.logout()
    auth.login("tara@acme.test")
    bad = submit_form(
        client,
        "/advocacy/library/new",
        "/advocacy/library/new",
        {
            "title": "",
            "suggested_text": "x",
            "disclosure": "",
            "link": "acme.com",
            "networks": [],
            "expires_on": "31/12/2026",
        },
    )
    assert bad.status_code == 400
    text = unescape(bad.text)
    assert "Nothing was published" in text
    assert "Every post needs a disclosure" in text
    assert 'id="disclosure-error"' in bad.text and 'id="link-error"' in bad.text
    assert "Use a date like 2026-12-31." in text
    with app.app_context():
        assert db.session.execute(select(AdvocacyPost)).first() is None
    good = submit_form(
        client,
        "/advocacy/library/new",
        "/advocacy/library/new",
        {
            "title": "Careers day",
            "suggested_text": "Come and meet us.",
            "disclosure": "I work at Acme",
            "hashtags": "#careers, jobs",
            "networks": ["linkedin"],
            "image_url": "https://acme.example/a.png",
            "expires_on": "2099-01-31",
        },
    )
    assert good.status_code == 302
    with app.app_context():
        post = db.session.execute(select(AdvocacyPost)).scalar_one()
        assert post.hashtags == ["careers", "jobs"] and post.networks == ["linkedin"]
        assert post.expires_at.year == 2099
    assert "Careers day" in client.get("/advocacy/library").text


def test_probation_share_goes_to_the_queue_and_approval_counts(app, client, auth, make):
    org = make.org(name="Acme", probation_shares=1)
    make.user(org, "tara@acme.test", roles=(Role.TRAINER,))
    course = make.course(org)
    person = make.user(org, "sam@acme.test")
    make.certified_for_posting(person, course)
    post_id = publish(app, org)
    auth.login("sam@acme.test")
    assert "your first shares are reviewed" in client.get("/advocacy/").text
    response = submit_form(
        client,
        f"/advocacy/posts/{post_id}",
        f"/advocacy/posts/{post_id}",
        {"network": "linkedin", "text": "Leeds! #employee"},
    )
    assert response.status_code == 302
    assert "Sent for approval" in client.get(response.headers["Location"]).text
    auth.logout()
    auth.login("tara@acme.test")
    queue = client.get("/advocacy/queue")
    assert "Leeds! #employee" in queue.text
    with app.app_context():
        share_id = db.session.execute(select(Share.id)).scalar_one()
    reject = submit_form(
        client, "/advocacy/queue", f"/advocacy/queue/{share_id}", {"decision": "reject", "note": ""}
    )
    assert "Not saved" in unescape(client.get(reject.headers["Location"]).text)
    submit_form(client, "/advocacy/queue", f"/advocacy/queue/{share_id}", {"decision": "approve"})
    assert "Nothing waiting" in client.get("/advocacy/queue").text
    with app.app_context():
        assert services.posting_rights_for(db.session.get(User, person.id)).status == "eligible"


def test_hr_suspends_and_reinstates_with_a_reason(app, client, auth, make, org):
    make.user(org, "hr@acme.test", roles=(Role.HR,))
    course = make.course(org)
    person = make.user(org, "sam@acme.test", name="Sam Okafor")
    make.certified_for_posting(person, course)
    auth.login("hr@acme.test")
    listing = client.get("/advocacy/people?status=eligible")
    assert "Sam Okafor" in listing.text
    page_url = f"/advocacy/people/{person.id}"
    missing = submit_form(client, page_url, f"{page_url}/suspend", {"reason": "  "})
    assert missing.status_code == 400
    assert "A reason is required" in unescape(missing.text)
    assert 'aria-describedby="reason-error"' in missing.text
    done = submit_form(
        client, page_url, f"{page_url}/suspend", {"reason": "Shared a customer's e-mail"}
    )
    assert done.status_code == 302
    page = client.get(page_url)
    assert "suspended" in page.text and "Shared a customer&#39;s e-mail" in page.text
    assert "Reinstate" in page.text
    submit_form(client, page_url, f"{page_url}/reinstate", {"reason": "Retrained"})
    with app.app_context():
        actions = [
            e.action
            for e in db.session.execute(
                select(AuditEntry)
                .where(AuditEntry.action.like("posting_rights.%"))
                .order_by(AuditEntry.id)
            ).scalars()
        ]
    assert actions == [
        "posting_rights.granted",
        "posting_rights.suspended",
        "posting_rights.reinstated",
    ]


def test_hr_pages_are_scoped_and_role_checked(app, client, auth, make, org):
    make.user(org, "hr@acme.test", roles=(Role.HR,))
    make.user(org, "lee@acme.test")
    stranger = make.user(make.org(), "them@other.test")
    auth.login("lee@acme.test")
    for url in (
        "/advocacy/people",
        "/advocacy/audit",
        "/advocacy/audit.csv",
        "/advocacy/api-keys",
        "/advocacy/webhooks",
    ):
        assert client.get(url).status_code == 403, url
    auth.logout()
    auth.login("hr@acme.test")
    assert client.get(f"/advocacy/people/{stranger.id}").status_code == 404
    assert client.get("/advocacy/api-keys").status_code == 403  # admins only


def test_audit_export_is_safe_csv_with_bom_and_is_itself_audited(app, client, auth, make, org):
    make.user(org, "hr@acme.test", roles=(Role.HR,))
    course = make.course(org)
    person = make.user(org, "zoe@acme.test", name="Zoë")
    make.certified_for_posting(person, course)
    with app.app_context():
        for reason in ("=cmd|' /C calc'!A0", "+1+1", "-2", "@SUM(A1)", "Zoë ok"):
            services.suspend(
                db.session.get(User, person.id),
                reason,
                by=db.session.execute(select(User).filter_by(email="hr@acme.test")).scalar_one(),
            )
            services.reinstate(
                db.session.get(User, person.id),
                "ok",
                by=db.session.execute(select(User).filter_by(email="hr@acme.test")).scalar_one(),
            )
        db.session.commit()
    auth.login("hr@acme.test")
    page = client.get("/advocacy/audit?action=posting_rights.suspended")
    assert "=cmd|" in unescape(page.text)
    response = client.get("/advocacy/audit.csv?action=posting_rights.suspended")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert response.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))
    assert rows[0][:3] == ["time (UTC)", "actor", "action"]
    reasons = [row[5] for row in rows[1:]]
    assert reasons == ["'=cmd|' /C calc'!A0", "'+1+1", "'-2", "'@SUM(A1)", "Zoë ok"]
    assert all(row[1] == "hr@acme.test" for row in rows[1:])
    with app.app_context():
        assert (
            db.session.execute(select(AuditEntry).filter_by(action="audit.exported"))
            .scalar_one()
            .detail["rows"]
            == 5
        )


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@A1", "'@A1"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("plain", "plain"),
        ("a=b", "a=b"),
        (None, ""),
        (42, "42"),
    ],
)
def test_csv_cells_never_start_a_formula(cell, safe):
    from advocacy.exports import neutralise

    assert neutralise(cell) == safe


def test_admin_creates_a_key_shown_once_and_revokes_it(app, client, auth, make, org):
    make.user(org, "ada@acme.test", roles=(Role.ADMIN,))
    auth.login("ada@acme.test")
    empty = submit_form(
        client, "/advocacy/api-keys", "/advocacy/api-keys", {"name": "Amplify", "scopes": []}
    )
    assert empty.status_code == 400 and "choose at least one scope" in empty.text
    created = submit_form(
        client,
        "/advocacy/api-keys",
        "/advocacy/api-keys",
        {"name": "Amplify", "scopes": ["rights:read"]},
    )
    key = re.search(r'value="(ctp_[^"]+)"', created.text).group(1)
    listing = client.get("/advocacy/api-keys")
    assert key not in listing.text and "never" in listing.text
    assert (
        client.get(
            "/api/v1/posting-rights/x@acme.test", headers={"Authorization": f"Bearer {key}"}
        ).status_code
        == 404
    )
    assert "never" not in client.get("/advocacy/api-keys").text  # last used is shown
    with app.app_context():
        key_id = db.session.execute(select(ApiKey.id)).scalar_one()
    submit_form(client, "/advocacy/api-keys", f"/advocacy/api-keys/{key_id}/revoke")
    assert (
        client.get(
            "/api/v1/posting-rights/x@acme.test", headers={"Authorization": f"Bearer {key}"}
        ).status_code
        == 401
    )


def test_admin_registers_webhooks_and_private_addresses_are_refused(app, client, auth, make, org):
    make.user(org, "ada@acme.test", roles=(Role.ADMIN,))
    auth.login("ada@acme.test")
    refused = submit_form(
        client, "/advocacy/webhooks", "/advocacy/webhooks", {"url": "https://192.168.0.10/hook"}
    )
    assert refused.status_code == 400
    assert "private-network address" in refused.text
    assert 'aria-describedby="url-error"' in refused.text
    ok = submit_form(
        client,
        "/advocacy/webhooks",
        "/advocacy/webhooks",
        {"url": "https://93.184.215.14/hook", "description": "Amplify"},
    )
    assert ok.status_code == 200 and "whsec_" in ok.text
    with app.app_context():
        endpoint = db.session.execute(select(WebhookEndpoint)).scalar_one()
    assert "Nothing sent yet" in client.get(f"/advocacy/webhooks/{endpoint.id}").text
    submit_form(client, "/advocacy/webhooks", f"/advocacy/webhooks/{endpoint.id}/disable")
    with app.app_context():
        assert db.session.get(WebhookEndpoint, endpoint.id).active is False


def test_admin_edits_the_lexicon_and_the_checker_page_uses_it(app, client, auth, make, org):
    make.user(org, "ada@acme.test", roles=(Role.ADMIN,))
    auth.login("ada@acme.test")
    submit_form(
        client,
        "/advocacy/lexicon",
        "/advocacy/lexicon",
        {"term": "Project Falcon", "severity": "block"},
    )
    duplicate = submit_form(
        client,
        "/advocacy/lexicon",
        "/advocacy/lexicon",
        {"term": "project falcon", "severity": "review"},
    )
    assert duplicate.status_code == 400 and "already on the list" in unescape(duplicate.text)
    result = submit_form(
        client,
        "/advocacy/check",
        "/advocacy/check",
        {"text": "Project Falcon launches at Acme soon!"},
    )
    text = unescape(result.text)
    assert "2 findings" in text
    assert '<mark class="bg-danger-subtle">Project Falcon</mark>' in result.text
    assert "our-policy/01-what-is-confidential" in text
    empty = submit_form(client, "/advocacy/check", "/advocacy/check", {"text": " "})
    assert empty.status_code == 400 and 'id="text-error"' in empty.text
    with app.app_context():
        term_id = db.session.execute(select(ConfidentialTerm.id)).scalar_one()
    submit_form(client, "/advocacy/lexicon", f"/advocacy/lexicon/{term_id}/delete")
    with app.app_context():
        assert db.session.execute(select(ConfidentialTerm)).first() is None


PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
    b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
    b"\x00\x00\x00\x00IEND\xaeB`\x82"
)


def test_comms_upload_an_image_that_employees_see_and_fakes_are_refused(
    app, client, auth, make, org
):
    make.user(org, "tara@acme.test", roles=(Role.TRAINER,))
    fields = {
        "title": "Team photo",
        "suggested_text": "Our team.",
        "disclosure": "#employee",
        "networks": ["linkedin"],
    }
    auth.login("tara@acme.test")
    fake = submit_form(
        client,
        "/advocacy/library/new",
        "/advocacy/library/new",
        {**fields, "image": (io.BytesIO(b"<script>x</script>"), "photo.png")},
        content_type="multipart/form-data",
    )
    assert fake.status_code == 400
    assert "not a PNG, JPEG, GIF or WebP image" in fake.text and 'id="image-error"' in fake.text
    ok = submit_form(
        client,
        "/advocacy/library/new",
        "/advocacy/library/new",
        {**fields, "image": (io.BytesIO(PNG), "photo.png")},
        content_type="multipart/form-data",
    )
    assert ok.status_code == 302
    with app.app_context():
        post_id = db.session.execute(select(AdvocacyPost.id)).scalar_one()
    image = client.get(f"/advocacy/posts/{post_id}/image")
    assert (image.status_code, image.mimetype, image.data) == (200, "image/png", PNG)
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    auth.logout()
    stranger_org = make.org()
    make.user(stranger_org, "them@other.test")
    auth.login("them@other.test")
    assert client.get(f"/advocacy/posts/{post_id}/image").status_code == 404
