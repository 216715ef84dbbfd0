"""The lesson player: overview with progress, time left and due date; resume where the learner
left off; lesson navigation; practice exercises that answer at once and never count; and
what a new module version means for learners part-way or done."""

from __future__ import annotations

import shutil
from datetime import timedelta

from sqlalchemy import func, select

from course import services
from course.models import Enrollment, LessonProgress
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Organization
from lms_plugin.core.timeutil import utcnow
from quizzes.models import Attempt

from .conftest import csrf_from
from .factories import FIXTURE_MODULES

MODULE = "practice-module"
LESSONS = ["01-would-you-post-this", "02-reply-to-a-complaint", "03-wrap-up"]


def enrolled(make, due_days=14):
    org = make.org()
    learner = make.user(org, "sam@example.test", name="Sam Okafor")
    course = make.course(org, modules=(MODULE,), due_days=due_days, title="Onboarding")
    return org, learner, make.enrollment(learner, course)


def read(client, enrollment, lesson):
    url = f"/learn/{enrollment.id}/{MODULE}/{lesson}"
    page = client.get(url)
    assert page.status_code == 200
    return client.post(f"{url}/read", data={"csrf_token": csrf_from(page.text)})


def pass_quiz(app, org, learner, quiz_version_id):
    with app.app_context():
        db.session.add(Attempt(organization_id=org.id, user_id=learner.id,
                               quiz_version_id=quiz_version_id, seed=1, question_ids=[],
                               state=Attempt.GRADED, percent=100.0, passed=True,
                               submitted_at=utcnow()))
        db.session.commit()


def import_changed(app, org, tmp_path, change: str, requires_retraining: bool):
    folder = tmp_path / f"v-{change[:8]}" / MODULE
    shutil.copytree(FIXTURE_MODULES / MODULE, folder)
    lesson = folder / "lessons" / "03-wrap-up.md"
    lesson.write_text(lesson.read_text() + f"\n{change}\n")
    with app.app_context():
        version, created = services.import_module(db.session.get(Organization, org.id), folder,
                                                  requires_retraining)
        db.session.commit()
        assert created
        return version.id, version.quiz_version_id


def test_overview_shows_modules_progress_time_left_and_due_date(app, client, auth, make):
    _, _, enrollment = enrolled(make)
    auth.login("sam@example.test")
    page = client.get("/learn/").text
    with app.app_context():
        due = db.session.get(Enrollment, enrollment.id).due_at
    assert f"Due {due:%d %b %Y}" in page
    # 3 + 4 + 2 lesson minutes, and the quiz's share of the 12-minute estimate (3).
    assert "About 12 min left · 0% done" in page
    assert "0 of 3 lessons read · quiz not passed yet" in page
    assert "Start: Would you post this?" in page

    read(client, enrollment, LESSONS[0])
    page = client.get("/learn/").text
    assert "About 9 min left · 25% done" in page  # 1 of 4 steps (3 lessons + quiz)
    assert "Resume: Replying to a complaint" in page
    assert 'aria-valuenow="25"' in page


def test_resume_goes_to_the_first_unread_lesson_then_the_quiz(app, client, auth, make):
    _, _, enrollment = enrolled(make)
    auth.login("sam@example.test")
    resume = f"/learn/{enrollment.id}/resume"
    assert client.get(resume).headers["Location"].endswith(f"/{MODULE}/{LESSONS[0]}")
    read(client, enrollment, LESSONS[0])
    read(client, enrollment, LESSONS[2])  # skipping ahead leaves lesson 2 unread
    assert client.get(resume).headers["Location"].endswith(f"/{MODULE}/{LESSONS[1]}")
    read(client, enrollment, LESSONS[1])
    assert client.get(resume).headers["Location"].endswith(f"/{MODULE}/")
    assert "Take the quiz" in client.get(f"/learn/{enrollment.id}/{MODULE}/").text


def test_lesson_page_has_position_progress_and_previous_next(client, auth, make):
    _, _, enrollment = enrolled(make)
    auth.login("sam@example.test")
    page = client.get(f"/learn/{enrollment.id}/{MODULE}/{LESSONS[1]}").text
    assert "Lesson 2 of 3" in page
    assert 'role="progressbar"' in page and 'aria-valuenow="2"' in page
    assert "Previous: Would you post this?" in page
    assert "Done, next: Wrap-up" in page
    last = client.get(f"/learn/{enrollment.id}/{MODULE}/{LESSONS[2]}").text
    assert "Done, back to the module" in last
    first = client.get(f"/learn/{enrollment.id}/{MODULE}/{LESSONS[0]}").text
    assert "Previous:" not in first


def test_practice_is_labelled_for_screen_readers(client, auth, make):
    _, _, enrollment = enrolled(make)
    auth.login("sam@example.test")
    page = client.get(f"/learn/{enrollment.id}/{MODULE}/{LESSONS[0]}").text
    assert "<legend" in page and "Would you post this?" in page
    assert 'id="practice-teaser-1"' in page and 'for="practice-teaser-1"' in page
    assert 'aria-live="polite"' in page
    assert "They do not count toward your grade" in page


def test_practice_answers_at_once_as_json_and_never_counts(app, client, auth, make):
    _, _, enrollment = enrolled(make)
    auth.login("sam@example.test")
    url = f"/learn/{enrollment.id}/{MODULE}/{LESSONS[1]}"
    token = csrf_from(client.get(url).text)
    json_headers = {"Accept": "application/json"}

    wrong = client.post(f"{url}/practice/best-reply", data={"choice": "0", "csrf_token": token},
                        headers=json_headers)
    assert wrong.status_code == 200
    assert wrong.json == {
        "practice_id": "best-reply", "choice": 0, "correct": False,
        "feedback": "Dismissive replies escalate the complaint.",
        "best": ["Sorry about that. Could you message us your order number so we can fix it "
                 "today?"]}
    right = client.post(f"{url}/practice/best-reply", data={"choice": "1", "csrf_token": token},
                        headers=json_headers)
    assert right.json["correct"] is True and right.json["best"] == []

    missing = client.post(f"{url}/practice/best-reply", data={"csrf_token": token},
                          headers=json_headers)
    assert missing.status_code == 400
    assert missing.json["error"] == {"field": "choice",
                                     "message": "Choose one of the answers, then check it."}
    out_of_range = client.post(f"{url}/practice/best-reply",
                               data={"choice": "7", "csrf_token": token}, headers=json_headers)
    assert out_of_range.status_code == 400
    unknown = client.post(f"{url}/practice/nope", data={"choice": "0", "csrf_token": token},
                          headers=json_headers)
    assert unknown.status_code == 404

    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Attempt)) == 0
        assert db.session.scalar(select(func.count()).select_from(LessonProgress)) == 0


def test_practice_without_javascript_gets_the_full_page_with_feedback(client, auth, make):
    _, _, enrollment = enrolled(make)
    auth.login("sam@example.test")
    url = f"/learn/{enrollment.id}/{MODULE}/{LESSONS[0]}"
    token = csrf_from(client.get(url).text)
    page = client.post(f"{url}/practice/teaser", data={"choice": "0", "csrf_token": token},
                       headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert ('<strong class="text-danger">Not quite.</strong> Hinting at unpublished results '
            "still discloses them.") in page.text
    assert "A better answer: “No”" in page.text
    assert 'id="practice-teaser-0" value="0" required checked' in page.text
    empty = client.post(f"{url}/practice/teaser", data={"csrf_token": token})
    assert empty.status_code == 400 and "Choose one of the answers" in empty.text


def test_another_learners_enrolment_is_not_found(client, auth, make):
    org, _, enrollment = enrolled(make)
    make.user(org, "kim@example.test")
    auth.login("kim@example.test")
    assert client.get(f"/learn/{enrollment.id}/{MODULE}/{LESSONS[0]}").status_code == 404
    assert client.get(f"/learn/{enrollment.id}/resume").status_code == 404
    page = client.get("/learn/")
    assert client.post(f"/learn/{enrollment.id}/{MODULE}/{LESSONS[0]}/practice/teaser",
                       data={"choice": "0", "csrf_token": csrf_from(page.text)}).status_code == 404


def test_a_learner_who_completed_an_older_version_keeps_it(app, client, auth, make, tmp_path):
    org, learner, enrollment = enrolled(make)
    auth.login("sam@example.test")
    for lesson in LESSONS:
        read(client, enrollment, lesson)
    with app.app_context():
        first = services.current_module_version(org.id, MODULE)
        first_id, first_quiz = first.id, first.quiz_version_id
    pass_quiz(app, org, learner, first_quiz)
    with app.app_context():
        row = db.session.get(Enrollment, enrollment.id)
        assert services.check_completion(row)
        db.session.commit()

    import_changed(app, org, tmp_path, "A stricter rule.", requires_retraining=True)
    with app.app_context():
        row = db.session.get(Enrollment, enrollment.id)
        assert row.completed_at is not None
        assert row.completed_versions == {MODULE: first_id}
        assert [m.version.id for m in services.progress(row)] == [first_id]
        assert all(m.complete for m in services.progress(row))
    assert "Completed" in client.get("/learn/").text


def test_a_change_without_retraining_keeps_progress_part_way(app, client, auth, make, tmp_path):
    org, learner, enrollment = enrolled(make)
    auth.login("sam@example.test")
    read(client, enrollment, LESSONS[0])
    with app.app_context():
        first_quiz = services.current_module_version(org.id, MODULE).quiz_version_id
    pass_quiz(app, org, learner, first_quiz)

    import_changed(app, org, tmp_path, "A typo fixed.", requires_retraining=False)
    assert "1 of 3 lessons read · quiz passed" in client.get("/learn/").text

    import_changed(app, org, tmp_path, "A new rule everyone must learn.", requires_retraining=True)
    assert "0 of 3 lessons read · quiz not passed yet" in client.get("/learn/").text
    # Reading the new version's lessons counts again from here.
    read(client, enrollment, LESSONS[0])
    assert "1 of 3 lessons read" in client.get("/learn/").text


def test_an_overdue_course_is_flagged_until_completed(app, client, auth, make):
    _, _, enrollment = enrolled(make, due_days=1)
    auth.login("sam@example.test")
    assert "Overdue" not in client.get("/learn/").text
    with app.app_context():
        row = db.session.get(Enrollment, enrollment.id)
        row.due_at = utcnow() - timedelta(hours=1)
        db.session.commit()
    assert '<span class="badge text-bg-danger">Overdue</span>' in client.get("/learn/").text


def test_older_versions_count_back_to_the_newest_that_requires_retraining(app, make, tmp_path):
    org, _, _ = enrolled(make)
    import_changed(app, org, tmp_path, "Second.", requires_retraining=False)
    import_changed(app, org, tmp_path, "Third, stricter.", requires_retraining=True)
    import_changed(app, org, tmp_path, "Fourth, a typo.", requires_retraining=False)
    with app.app_context():
        history = {v.number: v for v in services.module_versions(org.id, MODULE)}
        assert [v.number for v in services.accepted_versions(history[4])] == [4, 3]
        assert [v.number for v in services.accepted_versions(history[3])] == [3]
        assert [v.number for v in services.accepted_versions(history[2])] == [2, 1]
