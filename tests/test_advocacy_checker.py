"""The draft checker on a table of drafts, and its API."""

from __future__ import annotations

import warnings

import pytest

from advocacy.checker import CLAUSES, Rules, check_draft, has_disclosure

RULES = Rules(
    confidential_terms=(("Project Falcon", "block"), ("Q3 numbers", "review")),
    brand_terms=("Acme",),
    max_hashtags=3,
    max_mentions=2,
    allowed_domains=("acme.com",),
)

# draft, expected [(rule, severity, excerpt)] in order of position
DRAFTS = [
    ("Lovely morning run by the river.", []),
    ("Proud to share what the team built this year. #employee", []),
    (
        "Can't say much, but Project Falcon ships soon!",
        [("confidential", "block", "Project Falcon")],
    ),
    (
        "Our project   falcon demo went well #employee",
        [("confidential", "block", "project   falcon")],
    ),
    ("Ask me about the Q3 numbers #employee", [("confidential", "review", "Q3 numbers")]),
    ("Acme just launched the best phone ever", [("disclosure", "block", "Acme")]),
    ("Acme just launched the best phone ever. I work at Acme.", []),
    ("Huge discount this weekend only", [("disclosure", "block", "discount")]),
    ("This is fucking brilliant #employee", [("profanity", "block", "fucking")]),
    ("Scunthorpe United won again", []),  # no match inside a longer word
    ("Mail jane.doe@example.org for a quote", [("personal_data", "block", "jane.doe@example.org")]),
    ("Call our client on +44 20 7946 0958 today", [("personal_data", "block", "+44 20 7946 0958")]),
    ("Founded in 1998, 250 staff", []),  # numbers that are not phone numbers
    ("#one #two #three #four #five", [("hashtags", "review", "#four #five")]),
    ("Thanks @ann @bob @cy", [("mentions", "review", "@cy")]),
    ("Read https://acme.com/blog and https://news.acme.com/x", []),
    (
        "Read https://evil.example.net/acme.com",
        [("links", "review", "https://evil.example.net/acme.com")],
    ),
    (
        "Our competitors are pathetic liars and I hate them.",
        [("tone", "review", "Our competitors are pathetic liars and I hate them.")],
    ),
    ("Honestly, you idiots never listen", [("tone", "review", "idiots")]),
    (
        "The support team was terrible, awful and useless. Otherwise fine.",
        [("tone", "review", "The support team was terrible, awful and useless.")],
    ),
]


@pytest.mark.parametrize(("draft", "expected"), DRAFTS)
def test_checker_on_a_table_of_drafts(draft, expected):
    findings = check_draft(draft, RULES)
    assert [(f.rule, f.severity, f.excerpt) for f in findings] == expected
    for finding in findings:
        assert draft[finding.start : finding.end] == finding.excerpt
        assert (finding.clause, finding.lesson) == CLAUSES[finding.rule]
        assert finding.message


def test_findings_are_ordered_and_several_rules_fire_together():
    draft = "Project Falcon is shit. Email me: a@b.co #x #y #z #w"
    rules = [(f.rule, f.severity) for f in check_draft(draft, RULES)]
    assert rules == [
        ("confidential", "block"),
        ("tone", "review"),
        ("profanity", "block"),
        ("personal_data", "block"),
        ("hashtags", "review"),
    ]


def test_defaults_need_no_organisation_settings():
    assert check_draft("") == []
    assert [f.rule for f in check_draft("Buy now, 50% off!")] == ["disclosure"]
    assert check_draft("Links anywhere are fine by default: https://example.org") == []


def test_organisation_can_override_the_clause_and_lesson():
    rules = Rules(clauses={"profanity": ("Code of conduct 4.2", "our-policy/02-approval-first")})
    [finding] = check_draft("what a load of crap", rules)
    assert (finding.clause, finding.lesson) == (
        "Code of conduct 4.2",
        "our-policy/02-approval-first",
    )


def test_disclosure_must_be_present_exactly():
    assert has_disclosure("Great launch!\n\n#Employee  at Acme", "#employee at acme")
    assert not has_disclosure("Great launch!", "#employee")


def test_sentiment_library_imports_without_warnings():
    import importlib
    import sys

    sys.modules.pop("vaderSentiment.vaderSentiment", None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        module = importlib.import_module("vaderSentiment.vaderSentiment")
        assert module.SentimentIntensityAnalyzer().polarity_scores("I hate it")["compound"] < 0


def test_draft_api_checks_with_the_organisations_lexicon(app, client, make):
    org = make.org(name="Acme", max_hashtags=1)
    with app.app_context():
        from advocacy import services
        from lms_plugin.core.extensions import db
        from lms_plugin.core.models import Organization

        services.add_confidential_term(db.session.get(Organization, org.id), "Falcon", "block")
        db.session.commit()
    key = make.api_key(org)
    bearer = {"Authorization": f"Bearer {key}"}
    response = client.post(
        "/api/v1/drafts/check", headers=bearer, json={"text": "Falcon at Acme! #a #b"}
    )
    assert response.status_code == 200
    body = response.json
    assert (body["ok"], body["blocked"]) == (False, True)
    assert [(f["rule"], f["start"], f["end"]) for f in body["findings"]] == [
        ("confidential", 0, 6),
        ("disclosure", 10, 14),
        ("hashtags", 19, 21),
    ]
    assert body["findings"][0]["lesson"] == "our-policy/01-what-is-confidential"
    clean = client.post("/api/v1/drafts/check", headers=bearer, json={"text": "Sunny day."})
    assert clean.json == {"ok": True, "blocked": False, "findings": []}
    missing = client.post("/api/v1/drafts/check", headers=bearer, json={"draft": "x"})
    assert (missing.status_code, missing.json["error"]["field"]) == (400, "text")
    too_long = client.post("/api/v1/drafts/check", headers=bearer, json={"text": "x" * 10001})
    assert too_long.json["error"]["code"] == "too_long"
    assert client.post("/api/v1/drafts/check", json={"text": "x"}).status_code == 401
