"""The module format: the shipped library validates; a malformed module is explained."""

from __future__ import annotations

import pytest

from content_modules import LIBRARY, ModuleFormatError, discover, load_module, validate
from content_modules.markdown import render_markdown

from .factories import FIXTURE_MODULES


@pytest.mark.parametrize("folder", discover(LIBRARY), ids=lambda p: p.name)
def test_every_shipped_module_validates(folder):
    module, problems = validate(folder)
    assert problems == [], "\n".join(map(str, problems))
    assert module.lessons and module.questions


def test_library_is_not_empty():
    assert discover(LIBRARY), "content_modules/library ships no module"


def test_a_valid_module_loads_with_lessons_in_order_and_a_content_hash():
    module = load_module(FIXTURE_MODULES / "tiny-module")
    assert module.slug == "tiny-module"
    assert [lesson.slug for lesson in module.lessons] == ["01-first", "02-second"]
    assert module.lessons[0].title == "Think before you post"
    assert len(module.content_hash) == 64
    assert module.quiz["pass_mark"] == 60


def test_a_malformed_module_names_file_place_problem_and_fix():
    with pytest.raises(ModuleFormatError) as caught:
        load_module(FIXTURE_MODULES / "broken-module")
    problems = caught.value.problems
    text = "\n".join(map(str, problems))
    # The slug has the wrong form: reported with its line in module.yaml.
    assert any(p.file == "broken-module/module.yaml" and p.where == "1" and "slug" in p.message
               for p in problems), text
    # Objectives may not be empty.
    assert any("objectives" in p.message and p.where == "5" for p in problems), text
    # A listed lesson file is missing.
    assert any("02-missing.md does not exist" in p.message and p.where == "8" for p in problems)
    # The quiz question has two correct options: named by file and line, with a fix.
    single = [p for p in problems if p.file == "broken-module/quiz.yaml"]
    assert single and "exactly one option marked correct" in single[0].message, text
    assert single[0].where == "6" and "correct: true" in single[0].fix


def test_yaml_syntax_errors_carry_the_line(tmp_path):
    folder = tmp_path / "bad-yaml"
    folder.mkdir()
    (folder / "module.yaml").write_text("slug: x\ntitle: [unclosed\nversion: 1\n")
    module, problems = validate(folder)
    assert module is None
    assert problems[0].file == "bad-yaml/module.yaml"
    assert problems[0].message.startswith("YAML syntax error")
    assert problems[0].where.isdigit()


def test_changing_a_lesson_changes_the_content_hash(tmp_path):
    import shutil

    copy = tmp_path / "tiny-module"
    shutil.copytree(FIXTURE_MODULES / "tiny-module", copy)
    before = load_module(copy).content_hash
    lesson = copy / "lessons" / "01-first.md"
    lesson.write_text(lesson.read_text() + "\nOne more sentence.\n")
    assert load_module(copy).content_hash != before


def test_markdown_is_rendered_and_script_is_removed():
    html = render_markdown("Hello **world**\n\n<script>alert(1)</script>\n\n"
                           "[x](javascript:alert(1)) <img src=x onerror=alert(1)>")
    assert "<strong>world</strong>" in html
    assert "<script" not in html and "alert(1)<" not in html
    assert "href=\"javascript" not in html and "onerror" not in html
