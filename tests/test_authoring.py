"""Trainer authoring: drafts edited in the browser, preview, reorder, publish as a new version,
export and upload as .zip; only trainers, and only their own organisation's modules."""

from __future__ import annotations

import io
import zipfile

import pytest
from sqlalchemy import select

from content_modules import load_module
from content_modules.writer import module_zip
from course import services
from course.models import ModuleDraft, ModuleVersion
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Role

from .conftest import csrf_from
from .factories import FIXTURE_MODULES

MODULE = "practice-module"
EDIT = f"/author/{MODULE}/lessons/03-wrap-up/edit"


@pytest.fixture
def acme(make):
    org = make.org("acme")
    make.user(org, "tara@acme.test", name="Tara Trainer", roles=(Role.TRAINER,))
    learner = make.user(org, "sam@acme.test", name="Sam Okafor")
    course = make.course(org, modules=(MODULE,))
    return org, make.enrollment(learner, course)


def lesson_form(client, url, **changes):
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    data = {"csrf_token": csrf_from(page.text), "title": "Wrap-up", "minutes": "2",
            "body": "You are ready for the quiz.\n", "practice": "", "action": "save"}
    data.update(changes)
    return client.post(url, data=data)


def token(client, url=f"/author/{MODULE}/"):
    return csrf_from(client.get(url).text)


def versions(app, org_id):
    with app.app_context():
        return [(v.number, v.requires_retraining) for v in db.session.execute(
            select(ModuleVersion).filter_by(organization_id=org_id, slug=MODULE)
            .order_by(ModuleVersion.number)).scalars()]


def test_a_learner_cannot_author(client, auth, acme):
    auth.login("sam@acme.test")
    assert client.get("/author/").status_code == 403
    assert client.get(f"/author/{MODULE}/").status_code == 403
    assert client.get(EDIT).status_code == 403
    assert client.get(f"/author/{MODULE}/export.zip").status_code == 403
    csrf = csrf_from(client.get("/learn/").text)
    for url in (EDIT, f"/author/{MODULE}/publish", "/author/preview", "/author/upload",
                f"/author/{MODULE}/lessons/03-wrap-up/move"):
        assert client.post(url, data={"csrf_token": csrf, "body": "x"}).status_code == 403, url


def test_a_trainer_cannot_touch_another_organisations_module(app, client, auth, make, acme):
    org, _ = acme
    globex = make.org("globex")
    make.user(globex, "gil@globex.test", roles=(Role.TRAINER,))
    auth.login("gil@globex.test")
    assert MODULE not in client.get("/author/").text
    for url in (f"/author/{MODULE}/", EDIT, f"/author/{MODULE}/lessons/new",
                f"/author/{MODULE}/lessons/03-wrap-up/preview", f"/author/{MODULE}/export.zip"):
        assert client.get(url).status_code == 404, url
    csrf = csrf_from(client.get("/author/").text)
    for url in (EDIT, f"/author/{MODULE}/lessons/new", f"/author/{MODULE}/publish",
                f"/author/{MODULE}/discard", f"/author/{MODULE}/lessons/03-wrap-up/move",
                f"/author/{MODULE}/lessons/03-wrap-up/delete"):
        response = client.post(url, data={"csrf_token": csrf, "title": "Hacked", "minutes": "1",
                                          "body": "Hacked", "direction": "up"})
        assert response.status_code == 404, url
    with app.app_context():
        assert db.session.execute(select(ModuleDraft)).first() is None
    assert versions(app, org.id) == [(1, False)]


def test_an_admin_may_author(client, auth, make, acme):
    org, _ = acme
    make.user(org, "ada@acme.test", roles=(Role.ADMIN,))
    auth.login("ada@acme.test")
    assert client.get(f"/author/{MODULE}/").status_code == 200


def test_a_draft_changes_nothing_for_learners_until_published(app, client, auth, acme):
    org, enrollment = acme
    auth.login("tara@acme.test")
    saved = lesson_form(client, EDIT, body="A **brand new** ending.\n")
    assert saved.status_code == 302 and saved.headers["Location"].endswith(EDIT)
    assert "You are editing a draft" in client.get(f"/author/{MODULE}/").text
    preview = client.get(f"/author/{MODULE}/lessons/03-wrap-up/preview")
    assert "<strong>brand new</strong>" in preview.text
    auth.logout()

    auth.login("sam@acme.test")
    lesson_url = f"/learn/{enrollment.id}/{MODULE}/03-wrap-up"
    assert "brand new" not in client.get(lesson_url).text
    assert "You are ready for the quiz." in client.get(lesson_url).text
    auth.logout()

    auth.login("tara@acme.test")
    published = client.post(f"/author/{MODULE}/publish",
                            data={"csrf_token": token(client), "requires_retraining": "y"},
                            follow_redirects=True)
    assert "Published version 2" in published.text
    assert "earlier completions must retrain" in published.text
    assert versions(app, org.id) == [(1, False), (2, True)]
    with app.app_context():
        assert db.session.execute(select(ModuleDraft)).first() is None
        assert services.current_module_version(org.id, MODULE).module.version == 2
    auth.logout()

    auth.login("sam@acme.test")
    assert "<strong>brand new</strong>" in client.get(lesson_url).text


def test_publishing_an_unchanged_draft_publishes_nothing(app, client, auth, acme):
    org, _ = acme
    auth.login("tara@acme.test")
    lesson_form(client, EDIT)  # saved exactly as it was
    done = client.post(f"/author/{MODULE}/publish", data={"csrf_token": token(client)},
                       follow_redirects=True)
    assert "The draft did not change anything" in done.text
    assert versions(app, org.id) == [(1, False)]


def test_trainer_creates_reorders_and_deletes_lessons(app, client, auth, acme):
    org, _ = acme
    auth.login("tara@acme.test")
    created = lesson_form(client, f"/author/{MODULE}/lessons/new", title="Logging out",
                          minutes="3", body="Log out of shared accounts.\n")
    assert created.status_code == 302
    assert created.headers["Location"].endswith(f"/author/{MODULE}/lessons/04-logging-out/edit")

    move = f"/author/{MODULE}/lessons/04-logging-out/move"
    assert client.post(move, data={"csrf_token": token(client),
                                   "direction": "up"}).status_code == 302
    with app.app_context():
        draft = db.session.execute(select(ModuleDraft)).scalar_one()
        assert [lesson.slug for lesson in draft.module.lessons] == [
            "01-would-you-post-this", "02-reply-to-a-complaint", "04-logging-out", "03-wrap-up"]
    bad = client.post(move, data={"csrf_token": token(client), "direction": "sideways"},
                      follow_redirects=True)
    assert "Choose to move the lesson up or down." in bad.text

    client.post(f"/author/{MODULE}/lessons/01-would-you-post-this/delete",
                data={"csrf_token": token(client)})
    client.post(f"/author/{MODULE}/publish", data={"csrf_token": token(client)})
    with app.app_context():
        module = services.current_module_version(org.id, MODULE).module
        assert [lesson.title for lesson in module.lessons] == [
            "Replying to a complaint", "Logging out", "Wrap-up"]


def test_the_last_lesson_cannot_be_deleted(app, client, auth, make):
    org = make.org()
    make.user(org, "t@example.test", roles=(Role.TRAINER,))
    make.module(org, "tiny-module")
    auth.login("t@example.test")
    url = "/author/tiny-module/"
    client.post("/author/tiny-module/lessons/01-first/delete",
                data={"csrf_token": token(client, url)})
    refused = client.post("/author/tiny-module/lessons/02-second/delete",
                          data={"csrf_token": token(client, url)}, follow_redirects=True)
    assert "A module needs at least one lesson" in refused.text


def test_bad_lesson_input_is_explained_and_nothing_is_lost(app, client, auth, acme):
    auth.login("tara@acme.test")
    empty = lesson_form(client, EDIT, title="", minutes="0", body="Kept text")
    assert empty.status_code == 400
    assert 'id="title-error"' in empty.text and "Give the lesson a title." in empty.text
    assert "Use a number of minutes between 1 and 120." in empty.text
    assert "Kept text" in empty.text  # the trainer's typing is still in the form

    syntax = lesson_form(client, EDIT, practice="- id: x\n  prompt: [unclosed\n")
    assert syntax.status_code == 400
    assert "the practice exercises are not valid YAML" in syntax.text

    no_right_answer = ("- id: quick-check\n  prompt: Post it?\n  options:\n"
                       "    - text: Yes\n      correct: false\n      feedback: No.\n"
                       "    - text: No\n      correct: false\n      feedback: No.\n")
    refused = lesson_form(client, EDIT, practice=no_right_answer)
    assert refused.status_code == 400
    assert "practice-module/lessons/03-wrap-up.md" in refused.text
    assert "needs at least one option marked correct: true" in refused.text
    assert "quick-check" in refused.text  # the typed YAML is kept
    with app.app_context():
        assert db.session.execute(select(ModuleDraft)).first() is None


def test_practice_written_in_the_editor_reaches_learners(app, client, auth, acme):
    _, enrollment = acme
    auth.login("tara@acme.test")
    practice = ("- id: quick-check\n  prompt: Would you post this?\n  post: Our CEO is leaving!\n"
                "  options:\n    - text: Yes\n      correct: false\n"
                "      feedback: Unannounced changes are confidential.\n"
                "    - text: No\n      correct: true\n      feedback: Right.\n")
    unquoted = lesson_form(client, EDIT, practice=practice)
    assert unquoted.status_code == 400
    assert "must be text, but YAML read it as true" in unquoted.text
    practice = practice.replace("text: Yes", 'text: "Yes"').replace("text: No", 'text: "No"')
    assert lesson_form(client, EDIT, practice=practice).status_code == 302
    client.post(f"/author/{MODULE}/publish", data={"csrf_token": token(client)})
    auth.logout()
    auth.login("sam@acme.test")
    url = f"/learn/{enrollment.id}/{MODULE}/03-wrap-up"
    page = client.get(url)
    assert "Our CEO is leaving!" in page.text
    answer = client.post(f"{url}/practice/quick-check",
                         data={"choice": "0", "csrf_token": csrf_from(page.text)},
                         headers={"Accept": "application/json"})
    assert answer.json["feedback"] == "Unannounced changes are confidential."


def test_live_and_server_side_preview_are_sanitised_and_save_nothing(app, client, auth, acme):
    auth.login("tara@acme.test")
    live = client.post("/author/preview", data={
        "csrf_token": token(client),
        "body": "**Hi** <img src=x onerror=alert(1)><script>x</script>"})
    assert live.status_code == 200
    assert live.json["html"] == '<p><strong>Hi</strong> <img src="x"></p>\n'

    page = lesson_form(client, EDIT, body="## Draft heading\n<a href=\"javascript:alert(1)\">x</a>",
                       action="preview")
    assert page.status_code == 200
    assert "<h2>Draft heading</h2>" in page.text
    assert "javascript:alert" not in page.text.split('id="live-preview"')[1]
    with app.app_context():
        assert db.session.execute(select(ModuleDraft)).first() is None


def test_export_gives_the_folder_format_that_re_imports_unchanged(app, client, auth, acme):
    org, _ = acme
    auth.login("tara@acme.test")
    response = client.get(f"/author/{MODULE}/export.zip")
    assert response.status_code == 200
    assert response.mimetype == "application/zip"
    assert 'filename="practice-module-v1.zip"' in response.headers["Content-Disposition"]
    names = zipfile.ZipFile(io.BytesIO(response.data)).namelist()
    assert f"{MODULE}/module.yaml" in names and f"{MODULE}/quiz.yaml" in names
    assert f"{MODULE}/lessons/01-would-you-post-this.md" in names

    again = client.post("/author/upload", data={
        "csrf_token": token(client, "/author/"),
        "archive": (io.BytesIO(response.data), "practice-module-v1.zip")},
        content_type="multipart/form-data", follow_redirects=True)
    assert "is unchanged: version 1 stays current" in again.text
    assert versions(app, org.id) == [(1, False)]


def test_an_organisation_uploads_its_own_module(app, client, auth, acme):
    org, _ = acme
    auth.login("tara@acme.test")
    data = module_zip(load_module(FIXTURE_MODULES / "tiny-module"))
    response = client.post("/author/upload", data={
        "csrf_token": token(client, "/author/"), "archive": (io.BytesIO(data), "tiny.zip")},
        content_type="multipart/form-data", follow_redirects=True)
    assert "Imported Posting basics (test) as version 1." in response.text
    with app.app_context():
        assert services.current_module_version(org.id, "tiny-module") is not None


def test_a_broken_upload_shows_every_problem_and_imports_nothing(app, client, auth, acme):
    org, _ = acme
    buffer, source = io.BytesIO(), FIXTURE_MODULES / "broken-module"
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in source.rglob("*"):
            if path.is_file():
                archive.write(path, f"broken-module/{path.relative_to(source)}")
    auth.login("tara@acme.test")
    response = client.post("/author/upload", data={
        "csrf_token": token(client, "/author/"),
        "archive": (io.BytesIO(buffer.getvalue()), "broken.zip")},
        content_type="multipart/form-data")
    assert response.status_code == 400
    assert "The upload has problems (4)" in response.text
    assert "<code>broken-module/module.yaml</code>, line/field <code>8</code>: lesson file " \
           "02-missing.md does not exist" in response.text
    assert "mark exactly one option with &#39;correct: true&#39;" in response.text
    not_zip = client.post("/author/upload", data={
        "csrf_token": token(client, "/author/"), "archive": (io.BytesIO(b"nope"), "x.zip")},
        content_type="multipart/form-data")
    assert not_zip.status_code == 400 and "the file is not a .zip archive" in not_zip.text
    nothing = client.post("/author/upload", data={"csrf_token": token(client, "/author/")},
                          content_type="multipart/form-data")
    assert nothing.status_code == 400 and "Choose a .zip file of a module folder." in nothing.text
    with app.app_context():
        assert services.current_module_version(org.id, "broken-module") is None
