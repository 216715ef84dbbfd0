"""Policy acknowledgment: read for the minimum time, type the full name, tick the box; the
exact text's SHA-256 is kept; a new version needs a new acknowledgment; completion waits for
it; HR sees who acknowledged which version."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

from sqlalchemy import select, update

from course import services
from course.models import Enrollment, PolicyAcknowledgment, PolicyReading
from lms_plugin.core.extensions import db
from lms_plugin.core.models import AuditEntry, Role

from .conftest import csrf_from


def backdate_reading(app, user, seconds: int) -> None:
    """Pretend the learner opened the policy ``seconds`` ago (the server's own clock)."""
    with app.app_context():
        row = db.session.execute(select(PolicyReading).filter_by(user_id=user.id)
                                 .order_by(PolicyReading.id.desc())).scalars().first()
        db.session.execute(update(PolicyReading).where(PolicyReading.id == row.id)
                           .values(opened_at=row.opened_at - timedelta(seconds=seconds)))
        db.session.commit()


def acknowledge(client, full_name: str, confirm: bool = True, version_id=None):
    page = client.get("/policy/")
    data = {"csrf_token": csrf_from(page.text), "full_name": full_name,
            "version_id": version_id or re.search(r'name="version_id"[^>]*value="(\d+)"',
                                                  page.text).group(1)}
    if confirm:
        data["confirm"] = "y"
    return client.post("/policy/acknowledge", data=data)


def test_learner_reads_waits_and_acknowledges_with_name_and_checkbox(app, client, auth, make):
    org = make.org()
    text = "# Our policy\n\nKeep **confidential** things confidential.\n"
    policy = make.policy(org, text=text, min_read_seconds=60, acknowledge_within_days=30)
    learner = make.user(org, "sam@example.test", name="Sam Okafor")
    auth.login("sam@example.test")

    page = client.get("/policy/")
    assert page.status_code == 200
    assert "<strong>confidential</strong>" in page.text
    assert "You can acknowledge it in about 60 seconds" in page.text
    assert 'for="full_name"' in page.text and 'for="confirm"' in page.text

    # Too early: refused with a clear message, nothing stored.
    early = acknowledge(client, "Sam Okafor")
    assert early.status_code == 400
    assert "please read the policy first: it takes at least 60 seconds" in early.text.lower()
    with app.app_context():
        assert db.session.execute(select(PolicyAcknowledgment)).first() is None

    backdate_reading(app, learner, 61)
    # The wrong name is tied to the name field.
    wrong = acknowledge(client, "Somebody Else")
    assert wrong.status_code == 400
    assert 'id="full_name-error"' in wrong.text
    assert "Type your full name exactly as it appears on your account." in wrong.text
    # The checkbox is required.
    unticked = acknowledge(client, "Sam Okafor", confirm=False)
    assert unticked.status_code == 400 and 'id="confirm-error"' in unticked.text

    done = acknowledge(client, "  sam   okafor ")
    assert done.status_code == 302
    with app.app_context():
        ack = db.session.execute(select(PolicyAcknowledgment)).scalar_one()
        assert ack.user_id == learner.id and ack.policy_version_id == policy.id
        assert ack.text_sha256 == hashlib.sha256(text.encode()).hexdigest()
        assert ack.typed_name == "sam   okafor"
        assert ack.acknowledged_at is not None
        assert db.session.execute(
            select(AuditEntry).filter_by(action="policy.acknowledged")).scalar_one()
    again = client.get("/policy/")
    assert "You acknowledged version 1" in again.text
    assert hashlib.sha256(text.encode()).hexdigest() in again.text


def test_reading_time_runs_from_the_first_opening_not_the_latest(app, client, auth, make):
    org = make.org()
    make.policy(org, min_read_seconds=30)
    learner = make.user(org, "kim@example.test", name="Kim Lee")
    auth.login("kim@example.test")
    client.get("/policy/")
    backdate_reading(app, learner, 31)
    client.get("/policy/")  # opening it again does not restart the clock
    assert acknowledge(client, "Kim Lee").status_code == 302


def test_acknowledging_without_ever_opening_the_policy_is_refused(app, make):
    org = make.org()
    policy = make.policy(org, min_read_seconds=30)
    learner = make.user(org, name="Kim Lee")
    with app.app_context():
        from course.models import PolicyVersion
        from lms_plugin.core.models import User

        user, version = db.session.get(User, learner.id), db.session.get(PolicyVersion, policy.id)
        try:
            services.acknowledge_policy(user, version, "Kim Lee")
        except services.CourseError as exc:
            assert "30 more seconds" in str(exc)
        else:
            raise AssertionError("an acknowledgment before reading was accepted")


def test_a_new_version_requires_a_new_acknowledgment(app, client, auth, make):
    org = make.org()
    first = make.policy(org, text="Version one.")
    learner = make.user(org, "sam@example.test", name="Sam Okafor")
    make.acknowledgment(learner, first)
    with app.app_context():
        from lms_plugin.core.models import User

        assert services.current_acknowledgment(db.session.get(User, learner.id)) is not None
    second = make.policy(org, text="Version two, with a new rule.")
    with app.app_context():
        user = db.session.get(User, learner.id)
        assert services.current_acknowledgment(user) is None
        assert services.policy_step(user).policy.id == second.id
    auth.login("sam@example.test")
    page = client.get("/policy/")
    assert "Version two, with a new rule." in page.text and "Acknowledge version 2" in page.text
    assert acknowledge(client, "Sam Okafor").status_code == 302
    with app.app_context():
        rows = db.session.execute(select(PolicyAcknowledgment)
                                  .order_by(PolicyAcknowledgment.id)).scalars().all()
        assert [r.policy_version_id for r in rows] == [first.id, second.id]
        assert rows[0].text_sha256 != rows[1].text_sha256


def test_a_version_published_while_reading_must_be_read_first(app, client, auth, make):
    org = make.org()
    first = make.policy(org, text="Version one.")
    make.user(org, "sam@example.test", name="Sam Okafor")
    auth.login("sam@example.test")
    client.get("/policy/")
    make.policy(org, text="Version two.")
    stale = acknowledge(client, "Sam Okafor", version_id=str(first.id))
    assert stale.status_code == 302
    with app.app_context():
        assert db.session.execute(select(PolicyAcknowledgment)).first() is None
    assert "A newer version of the policy was published" in client.get("/policy/").text


def test_completion_waits_for_the_current_acknowledgment(app, client, auth, make):
    org = make.org()
    learner = make.user(org, "sam@example.test", name="Sam Okafor")
    course = make.course(org, modules=("practice-module",), due_days=14)
    enrollment = make.enrollment(learner, course)
    policy = make.policy(org, min_read_seconds=0)
    with app.app_context():
        from quizzes.models import Attempt

        row = db.session.get(Enrollment, enrollment.id)
        version = services.course_modules(row.course)[0]
        version_id = version.id
        for lesson in version.module.lessons:
            services.mark_lesson_read(row, version, lesson.slug)
        db.session.add(Attempt(organization_id=org.id, user_id=learner.id,
                               quiz_version_id=version.quiz_version_id, seed=1,
                               question_ids=[], state=Attempt.GRADED, percent=100.0,
                               passed=True))
        db.session.flush()
        assert services.check_completion(row) is False  # the policy is not acknowledged yet
        db.session.commit()

    auth.login("sam@example.test")
    overview = client.get("/learn/")
    assert "Acknowledge the social media policy (version 1)" in overview.text
    assert "Resume: acknowledge the policy" in overview.text
    assert client.get(f"/learn/{enrollment.id}/resume").headers["Location"].endswith("/policy/")

    assert acknowledge(client, "Sam Okafor").status_code == 302
    with app.app_context():
        row = db.session.get(Enrollment, enrollment.id)
        assert row.completed_at is not None  # acknowledging re-checked the open enrolment
        assert row.completed_versions == {"practice-module": version_id}
    assert policy.number == 1


def test_only_trainers_publish_and_a_published_version_is_listed(app, client, auth, make):
    org = make.org()
    make.user(org, "learner@example.test")
    make.user(org, "trainer@example.test", roles=(Role.TRAINER,))
    auth.login("learner@example.test")
    assert client.get("/policy/publish").status_code == 403
    auth.logout()

    auth.login("trainer@example.test")
    page = client.get("/policy/publish")
    assert page.status_code == 200
    bad = client.post("/policy/publish", data={
        "csrf_token": csrf_from(page.text), "title": "", "text": "Rules",
        "min_read_seconds": "99999", "acknowledge_within_days": "0"})
    assert bad.status_code == 400
    assert 'id="title-error"' in bad.text
    assert "Use a number of seconds between 0 and 3600." in bad.text
    assert "Use a number of days between 1 and 365" in bad.text
    good = client.post("/policy/publish", data={
        "csrf_token": csrf_from(page.text), "title": "Social media policy",
        "text": "Be kind.", "min_read_seconds": "45", "acknowledge_within_days": "30"})
    assert good.status_code == 302
    with app.app_context():
        policy = services.current_policy(org.id)
        assert policy.number == 1 and policy.min_read_seconds == 45
        assert policy.text_sha256 == hashlib.sha256(b"Be kind.").hexdigest()
        assert (policy.acknowledge_by - policy.published_at).days == 30
    listed = client.get("/policy/publish")
    assert "Version 1: Social media policy" in listed.text


def test_hr_sees_who_acknowledged_which_version(app, client, auth, make):
    org, other = make.org(), make.org()
    first = make.policy(org, text="One.")
    ann = make.user(org, "ann@example.test", name="Ann Archer")
    make.user(org, "bob@example.test", name="Bob Baker")
    make.acknowledgment(ann, first)
    make.policy(org, text="Two.")
    make.user(org, "hr@example.test", name="Hana HR", roles=(Role.HR,))
    stranger = make.user(other, "zed@other.test", name="Zed Other")
    make.acknowledgment(stranger, make.policy(other, text="Theirs."))

    auth.login("ann@example.test")
    assert client.get("/policy/acknowledgments").status_code == 403
    auth.logout()
    auth.login("hr@example.test")
    page = client.get("/policy/acknowledgments")
    assert page.status_code == 200
    v2, v1 = page.text.split("Version 1:")
    assert "Version 2:" in v2 and "0 acknowledged" in v2 and "Ann Archer" in v2  # outstanding
    assert "1 acknowledged" in v1 and "ann@example.test" in v1
    assert "Zed Other" not in page.text  # another organisation's people never appear
