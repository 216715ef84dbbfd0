"""``cleared content validate|import|versions``: idempotent, versioned by content hash, with
the trainer's retraining decision recorded; the same rules through the import service."""

from __future__ import annotations

import re
import shutil

import pytest
from sqlalchemy import select

from course import services
from course.models import ModuleVersion
from lms_plugin.core.extensions import db
from lms_plugin.core.models import AuditEntry

from .factories import FIXTURE_MODULES


@pytest.fixture
def folder(tmp_path):
    copy = tmp_path / "modules" / "practice-module"
    shutil.copytree(FIXTURE_MODULES / "practice-module", copy)
    return copy


def versions(app, slug="practice-module"):
    with app.app_context():
        return [(v.number, v.requires_retraining, v.content_hash) for v in db.session.execute(
            select(ModuleVersion).filter_by(slug=slug).order_by(ModuleVersion.number)).scalars()]


def test_validate_reports_good_and_broken_modules(runner):
    good = runner.invoke(args=["content", "validate", str(FIXTURE_MODULES / "practice-module")])
    assert good.exit_code == 0, good.output
    assert "✓ practice-module: Replies that fit (test) (3 lessons, 2 questions)" in good.output

    everything = runner.invoke(args=["content", "validate", str(FIXTURE_MODULES)])
    assert everything.exit_code == 1
    assert "✗ broken-module: 4 problem(s)" in everything.output
    assert ("broken-module/module.yaml:8: lesson file 02-missing.md does not exist"
            in everything.output)
    assert "Fix: create lessons/02-missing.md" in everything.output
    assert re.search(r"1 of \d+ module\(s\) have problems", everything.output)


def test_validate_a_path_without_modules_says_so(runner, tmp_path):
    result = runner.invoke(args=["content", "validate", str(tmp_path)])
    assert result.exit_code == 1 and "no module.yaml found" in result.output


def test_import_is_idempotent_and_a_change_becomes_a_new_version(app, runner, make, folder):
    make.org("acme")
    first = runner.invoke(args=["content", "import", str(folder), "--org", "acme"])
    assert first.exit_code == 0, first.output
    assert "practice-module: imported as version 1" in first.output

    again = runner.invoke(args=["content", "import", str(folder), "--org", "acme"])
    assert "practice-module: unchanged (version 1)" in again.output
    assert len(versions(app)) == 1

    lesson = folder / "lessons" / "03-wrap-up.md"
    lesson.write_text(lesson.read_text() + "\nOne more sentence.\n")
    changed = runner.invoke(args=["content", "import", str(folder), "--org", "acme"])
    assert "imported as version 2 (earlier completions still count)" in changed.output

    lesson.write_text(lesson.read_text() + "\nA rule changed.\n")
    retrain = runner.invoke(args=["content", "import", str(folder), "--org", "acme",
                                  "--requires-retraining"])
    assert "imported as version 3 (learners must retrain)" in retrain.output
    rows = versions(app)
    assert [(n, r) for n, r, _ in rows] == [(1, False), (2, False), (3, True)]
    assert len({h for _, _, h in rows}) == 3

    listing = runner.invoke(args=["content", "versions", "practice-module", "--org", "acme"])
    lines = listing.output.splitlines()
    assert lines[0].startswith("version 3") and "requires retraining" in lines[0]
    assert lines[2].startswith("version 1") and "no retraining" in lines[2]
    with app.app_context():
        assert len(db.session.execute(
            select(AuditEntry).filter_by(action="module.imported")).scalars().all()) == 3


def test_import_of_a_broken_folder_imports_nothing(app, runner, make):
    make.org("acme")
    result = runner.invoke(args=["content", "import", str(FIXTURE_MODULES), "--org", "acme"])
    assert result.exit_code == 1
    assert "nothing imported: fix the problems above first" in result.output
    assert versions(app, "tiny-module") == []


def test_import_into_an_unknown_organisation_is_a_clear_error(runner, folder):
    result = runner.invoke(args=["content", "import", str(folder), "--org", "nope"])
    assert result.exit_code == 1 and "organisation 'nope' does not exist" in result.output


def test_same_slug_in_two_organisations_is_two_separate_histories(app, make, folder):
    acme, globex = make.org("acme"), make.org("globex")
    with app.app_context():
        from lms_plugin.core.models import Organization

        for org_id in (acme.id, globex.id):
            org = db.session.get(Organization, org_id)
            version, created = services.import_module(org, folder)
            assert created and version.number == 1
        db.session.commit()
        assert services.current_module_version(acme.id, "practice-module").id != \
            services.current_module_version(globex.id, "practice-module").id
