"""The walking skeleton end to end through HTTP: first lesson to the posting right."""

from __future__ import annotations

import hashlib
import io
import re

import yaml
from pypdf import PdfReader
from sqlalchemy import select

from certificates.models import Certificate
from lms_plugin.core.extensions import db
from lms_plugin.core.models import ApiKey, AuditEntry

from .conftest import csrf_from
from .factories import FIXTURE_MODULES

BANK = {q["id"]: q for q in yaml.safe_load((FIXTURE_MODULES / "tiny-module/quiz.yaml").read_text())["questions"]}


def correct_answer(question: dict) -> list[str]:
    if question["type"] == "true_false":
        return ["0" if question["answer"] else "1"]
    items = question.get("options") or question.get("segments")
    return [str(i) for i, item in enumerate(items) if item.get("correct") or item.get("problem")]


def test_learner_goes_from_first_lesson_to_posting_right(app, client, auth, make):
    org = make.org("acme", "Acme Ltd")
    learner = make.user(org, "sam@acme.test", name="Sam Okafor")
    course = make.course(org)
    enrollment = make.enrollment(learner, course)
    key = make.api_key(org)
    bearer = {"Authorization": f"Bearer {key}"}

    # 6. Before anything, the advocacy platform hears "no", with a reason.
    before = client.get("/api/v1/posting-rights/sam@acme.test", headers=bearer)
    assert before.status_code == 200
    assert before.json["eligible"] is False
    assert before.json["status"] == "in_training"
    assert before.json["reasons"]

    # 2. The learner signs in and reads both lessons; progress is recorded.
    assert auth.login("sam@acme.test").status_code == 302
    overview = client.get("/learn/")
    assert "Posting basics (test)" in overview.text
    module_url = f"/learn/{enrollment.id}/tiny-module/"
    for lesson in ("01-first", "02-second"):
        page_url = f"{module_url}{lesson}"
        page = client.get(page_url)
        assert page.status_code == 200
        response = client.post(f"{page_url}/read", data={"csrf_token": csrf_from(page.text)})
        assert response.status_code == 302
    assert "2 of 2 lessons read" in client.get("/learn/").text

    # 3. The quiz page never contains the answers.
    with app.app_context():
        from course.services import current_module_version

        quiz_id = current_module_version(org.id, "tiny-module").quiz_version_id
    start_page = client.get(f"/quiz/{quiz_id}/")
    assert "3</strong> questions" in start_page.text
    started = client.post(f"/quiz/{quiz_id}/start",
                          data={"csrf_token": csrf_from(start_page.text), "next": module_url})
    attempt_url = started.headers["Location"]
    quiz_page = client.get(attempt_url)
    for question in BANK.values():
        for secret in ("feedback", "explanation"):
            for item in question.get("options", []) + question.get("segments", []):
                assert item.get("feedback", "@@") not in quiz_page.text
            assert question.get(secret, "@@") not in quiz_page.text
    assert "correct" not in quiz_page.text.lower()

    # A forged score and pass flag are ignored; answers come from the server's bank.
    answers = {f"q-{qid}": correct_answer(q) for qid, q in BANK.items()}
    attempt_id = re.search(r"/attempt/(\d+)", attempt_url).group(1)
    result = client.post(f"/quiz/attempt/{attempt_id}/submit",
                         data={**answers, "score": "0", "passed": "false",
                               "csrf_token": csrf_from(quiz_page.text)},
                         follow_redirects=True)
    assert "Your result: 100%" in result.text

    # 4 + 5. Completion issued a certificate with a PDF that names the learner and the code.
    with app.app_context():
        certificate = db.session.execute(select(Certificate)).scalar_one()
        code, pdf, digest = certificate.code, certificate.pdf, certificate.pdf_sha256
        assert certificate.enrollment.completed_at is not None
        assert db.session.execute(
            select(AuditEntry).filter_by(action="certificate.issued")).scalar_one()
    assert hashlib.sha256(pdf).hexdigest() == digest
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    from certificates.codes import display

    assert "Sam Okafor" in text and display(code) in text

    mine = client.get("/certificates/")
    assert display(code) in mine.text
    download = client.get(f"/certificates/{certificate.id}.pdf")
    assert download.status_code == 200 and download.data == pdf

    # Anyone can verify it, signed in or not.
    auth.logout()
    verified = client.get(f"/verify/{display(code)}")
    assert verified.status_code == 200 and "Valid." in verified.text

    # 6. Now the platform hears "yes".
    after = client.get("/api/v1/posting-rights/sam@acme.test", headers=bearer)
    assert after.json == {"identifier": "sam@acme.test", "eligible": True,
                          "status": "eligible", "reasons": []}
    with app.app_context():
        assert db.session.execute(select(ApiKey)).scalar_one().last_used_at is not None


def test_eligibility_api_requires_a_valid_key(client, make):
    org = make.org()
    make.user(org, "kim@example.test")
    assert client.get("/api/v1/posting-rights/kim@example.test").status_code == 401
    bad = client.get("/api/v1/posting-rights/kim@example.test",
                     headers={"Authorization": "Bearer ctp_0000_nope"})
    assert bad.status_code == 401
    assert bad.json["error"]["code"] == "unauthorized"
    assert "Bearer" in bad.headers["WWW-Authenticate"]


def test_another_organisations_employee_is_indistinguishable_from_unknown(client, make):
    ours, theirs = make.org(), make.org()
    make.user(theirs, "alex@theirs.test")
    key = make.api_key(ours)
    headers = {"Authorization": f"Bearer {key}"}
    other = client.get("/api/v1/posting-rights/alex@theirs.test", headers=headers)
    unknown = client.get("/api/v1/posting-rights/nobody@nowhere.test", headers=headers)
    assert other.status_code == unknown.status_code == 404
    assert other.json == unknown.json


def test_revoked_key_is_refused(app, client, make):
    org = make.org()
    make.user(org, "kim@example.test")
    key = make.api_key(org)
    with app.app_context():
        from lms_plugin.core.timeutil import utcnow

        row = db.session.execute(select(ApiKey)).scalar_one()
        row.revoked_at = utcnow()
        db.session.commit()
    response = client.get("/api/v1/posting-rights/kim@example.test",
                          headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 401


def test_openapi_document_describes_the_posting_rights_endpoint(client):
    document = client.get("/api/v1/openapi.json").json
    assert document["openapi"].startswith("3.")
    operation = document["paths"]["/posting-rights/{identifier}"]["get"]
    assert operation["security"] == [{"apiKey": []}]
    assert "PostingRights" in document["components"]["schemas"]
