"""Item analysis: attempts, percent right, discrimination (upper/lower 27%), the most chosen
wrong option, as a table and an SVG chart readable without colour."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from lms_plugin.core.models import Role
from quizzes.core.analysis import analyse, chart_svg

from .conftest import csrf_from
from .quiz_samples import BY_ID, QUESTIONS, right_answer, wrong_answer
from .test_quiz_integrity import start


def _attempt(percent: float, results: dict) -> dict:
    return {"percent": percent,
            "snapshot": [{"question": BY_ID[q], "order": []} for q in results],
            "results": {q: {"correct": ok, "chosen": chosen} for q, (ok, chosen) in
                        results.items()}}


def test_analysis_counts_discriminates_and_finds_the_most_chosen_wrong_option():
    attempts = [
        # Strong learners get "sc" right; weak ones choose option 1 ("A teaser about Q3.").
        _attempt(100, {"sc": (True, [0]), "tf": (False, [1])}),
        _attempt(90, {"sc": (True, [0]), "tf": (True, [0])}),
        _attempt(80, {"sc": (True, [0]), "tf": (False, [1])}),
        _attempt(40, {"sc": (False, [1]), "tf": (True, [0])}),
        _attempt(20, {"sc": (False, [1]), "tf": (True, [0])}),
        _attempt(10, {"sc": (False, [2]), "tf": (True, [0])}),
    ]
    stats = {s.question_id: s for s in analyse(attempts)}
    sc, tf = stats["sc"], stats["tf"]
    assert sc.attempts == 6 and sc.percent_correct == 50.0
    # 27% of 6 rounds up to 2 per group: top two both right, bottom two both wrong.
    assert sc.discrimination == 1.0
    assert sc.wrong_choice == "A teaser about Q3." and sc.wrong_choice_count == 2
    assert tf.percent_correct == round(100 * 4 / 6, 1)
    assert tf.discrimination == -0.5  # the strong get it wrong more often: a bad question
    assert tf.wrong_choice == "False"
    assert "does not separate strong from weak learners" in tf.flags
    assert sc.flags == []


def test_chart_is_valid_svg_with_text_labels_and_a_pattern_for_flags():
    stats = analyse([_attempt(100, {"sc": (True, [0])}), _attempt(0, {"sc": (False, [1])}),
                     _attempt(0, {"tf": (False, [1])})])
    svg = chart_svg(stats)
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg") and root.get("role") == "img"
    texts = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    assert "sc" in texts and "50% right" in texts and "REVIEW" in texts
    assert 'fill="url(#hatch)"' in svg  # flagged bars differ by pattern, not only colour
    assert root.find("{http://www.w3.org/2000/svg}title").text


def test_trainer_sees_analysis_and_attempts_of_own_organisation_only(app, client, auth, make):
    org = make.org()
    make.user(org, "tess@example.test", roles=(Role.TRAINER,))
    quiz = make.quiz(org, slug="tone")
    for n, pick in enumerate((right_answer, wrong_answer, right_answer)):
        make.user(org, f"learner{n}@example.test", name=f"Learner {n}")
        auth.login(f"learner{n}@example.test")
        attempt_id, url = start(client, quiz)
        client.post(f"/quiz/attempt/{attempt_id}/submit", data={
            **{f"q-{q['id']}": pick(q) for q in QUESTIONS},
            "csrf_token": csrf_from(client.get(url).text)})
        auth.logout()
    auth.login("tess@example.test")
    page = client.get("/quiz/manage/quizzes/tone/analysis")
    assert page.status_code == 200
    assert "<svg" in page.text and "<table" in page.text
    assert "66.7%" in page.text  # each question: two of three attempts right
    svg = client.get("/quiz/manage/quizzes/tone/analysis.svg")
    assert svg.mimetype == "image/svg+xml"
    ET.fromstring(svg.text)
    attempts = client.get("/quiz/manage/quizzes/tone/attempts").text
    assert attempts.count("Learner ") == 3
    attempt_link = client.get(f"/quiz/manage/attempts/{attempt_id}")
    assert attempt_link.status_code == 200 and "Learner 2" in attempt_link.text
    # A trainer elsewhere sees none of it; a learner may not look at all.
    other = make.org()
    make.user(other, "otto@other.test", roles=(Role.TRAINER,))
    auth.logout()
    auth.login("otto@other.test")
    for path in ("/quiz/manage/quizzes/tone/analysis", "/quiz/manage/quizzes/tone/attempts",
                 f"/quiz/manage/attempts/{attempt_id}"):
        assert client.get(path).status_code == 404, path
    auth.logout()
    auth.login("learner0@example.test")
    assert client.get("/quiz/manage/quizzes/tone/analysis").status_code == 403
    assert client.get(f"/quiz/manage/attempts/{attempt_id}").status_code == 403
