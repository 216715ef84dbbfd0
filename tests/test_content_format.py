"""The module format: every malformed module is reported with file, line or field and a fix;
the writer mirrors the loader; uploaded .zips are unpacked safely; practice answers."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import pytest

from content_modules import load_module, validate
from content_modules.practice import InvalidChoice, PracticeNotFound, answer_practice
from content_modules.writer import extract_module_zip, module_zip, write_module

from .factories import FIXTURE_MODULES

SOURCE = FIXTURE_MODULES / "practice-module"


@pytest.fixture
def module_dir(tmp_path) -> Path:
    folder = tmp_path / "practice-module"
    shutil.copytree(SOURCE, folder)
    return folder


def edit(folder: Path, relative: str, old: str, new: str) -> None:
    path = folder / relative
    text = path.read_text()
    assert old in text, f"{old!r} not in {relative}"
    path.write_text(text.replace(old, new, 1))


# (name, mutation, file the problem names, line or field, words in the message)
MALFORMED = [
    ("bad slug", lambda f: edit(f, "module.yaml", "slug: practice-module", "slug: Practice Module"),
     "module.yaml", "1", "slug ('Practice Module') has the wrong form"),
    ("missing title", lambda f: edit(f, "module.yaml", "title: Replies that fit (test)\n", ""),
     "module.yaml", "1", "'title' is missing"),
    ("version is text", lambda f: edit(f, "module.yaml", "version: 1", "version: one"),
     "module.yaml", "3", "version must be of type integer"),
    ("no objectives", lambda f: edit(
        f, "module.yaml", "objectives:\n  - Choose a reply to a complaint that fits our tone.",
        "objectives: []"),
     "module.yaml", "6", "objectives has too few entries"),
    ("unknown field", lambda f: edit(f, "module.yaml", "minutes: 12", "minutes: 12\nduration: 3"),
     "module.yaml", "6", "'duration' is not a known field"),
    ("lesson file missing", lambda f: (f / "lessons/03-wrap-up.md").unlink(),
     "module.yaml", "11", "lesson file 03-wrap-up.md does not exist"),
    ("lesson path escapes", lambda f: edit(f, "module.yaml", "  - 03-wrap-up.md",
                                           "  - ../../secret.md"),
     "module.yaml", "11", "lessons[2] ('../../secret.md') has the wrong form"),
    ("pass mark out of range", lambda f: edit(f, "module.yaml", "pass_mark: 50", "pass_mark: 150"),
     "module.yaml", "15", "quiz.pass_mark is out of range"),
    ("quiz draws too many", lambda f: edit(f, "module.yaml", "questions: 2", "questions: 9"),
     "module.yaml", "14", "quiz draws 9 questions but the bank has 2"),
    ("YAML syntax", lambda f: edit(f, "module.yaml", "title: Replies that fit (test)",
                                   "title: [unclosed"),
     "module.yaml", "3", "YAML syntax error"),
    ("front matter missing", lambda f: (f / "lessons/03-wrap-up.md").write_text("Just text.\n"),
     "lessons/03-wrap-up.md", "1", "front matter is missing"),
    ("lesson title missing", lambda f: edit(f, "lessons/03-wrap-up.md", "title: Wrap-up\n", ""),
     "lessons/03-wrap-up.md", "2", "'title' is missing"),
    ("lesson minutes wrong type", lambda f: edit(f, "lessons/03-wrap-up.md", "minutes: 2",
                                                 "minutes: soon"),
     "lessons/03-wrap-up.md", "3", "minutes must be of type integer"),
    ("lesson without text", lambda f: (f / "lessons/03-wrap-up.md").write_text(
        "---\ntitle: Wrap-up\n---\n\n"),
     "lessons/03-wrap-up.md", "-", "the lesson has no text"),
    ("practice without a right option", lambda f: edit(f, "lessons/01-would-you-post-this.md",
                                                         "correct: true", "correct: false"),
     "lessons/01-would-you-post-this.md", "9", "needs at least one option marked correct: true"),
    ("practice option without feedback", lambda f: edit(
        f, "lessons/01-would-you-post-this.md",
        "        feedback: Results stay confidential until they are announced.\n", ""),
     "lessons/01-would-you-post-this.md", "12", "'feedback' is missing"),
    ("practice id twice", lambda f: edit(
        f, "lessons/02-reply-to-a-complaint.md", "id: best-reply",
        "id: best-reply\n    prompt: Again?\n    options: []\n  - id: best-reply"),
     "lessons/02-reply-to-a-complaint.md", "8", "practice id 'best-reply' is used twice"),
    ("bank missing", lambda f: (f / "quiz.yaml").unlink(),
     "quiz.yaml", "-", "file is missing"),
    ("unknown question type", lambda f: edit(f, "quiz.yaml", "type: true_false", "type: essay"),
     "quiz.yaml", "3", "questions[0].type is 'essay', which is not allowed"),
    ("two right answers", lambda f: edit(f, "quiz.yaml", "correct: false", "correct: true"),
     "quiz.yaml", "12", "exactly one option marked correct: true"),
    ("question id twice", lambda f: edit(f, "quiz.yaml", "id: complaint-reply", "id: teaser-post"),
     "quiz.yaml", "7", "question id 'teaser-post' is used twice"),
    ("image without alt text", lambda f: edit(f, "lessons/03-wrap-up.md", "You are ready",
                                              "![](chart.png)\n\nYou are ready"),
     "lessons/03-wrap-up.md", "5", "an image has no text alternative"),
    ("html image without alt text", lambda f: edit(f, "lessons/03-wrap-up.md", "You are ready",
                                                   "Look: <img src=\"chart.png\">\nYou are ready"),
     "lessons/03-wrap-up.md", "5", "an image has no text alternative"),
    ("not UTF-8", lambda f: (f / "lessons/03-wrap-up.md").write_bytes(
        b"---\ntitle: Wrap-up\n---\nCaf\xe9 culture.\n"),
     "lessons/03-wrap-up.md", "4", "not UTF-8"),
]


def test_the_fixture_module_is_valid():
    module, problems = validate(SOURCE)
    assert problems == []
    assert [lesson.slug for lesson in module.lessons] == [
        "01-would-you-post-this", "02-reply-to-a-complaint", "03-wrap-up"]
    assert module.lessons[0].practice[0]["id"] == "teaser"


@pytest.mark.parametrize(("name", "mutate", "file", "where", "words"), MALFORMED,
                         ids=[case[0] for case in MALFORMED])
def test_a_malformed_module_names_file_line_and_fix(module_dir, name, mutate, file, where, words):
    mutate(module_dir)
    module, problems = validate(module_dir)
    assert module is None
    matching = [p for p in problems if words in p.message]
    assert matching, f"no problem mentions {words!r}: {[str(p) for p in problems]}"
    problem = matching[0]
    assert problem.file == f"practice-module/{file}"
    assert problem.where == where
    assert problem.fix and problem.fix != problem.message
    assert str(problem).startswith(f"practice-module/{file}:{where}: ")


def test_every_problem_is_reported_at_once(module_dir):
    edit(module_dir, "module.yaml", "slug: practice-module", "slug: Bad Slug")
    edit(module_dir, "quiz.yaml", "type: true_false", "type: essay")
    (module_dir / "lessons/03-wrap-up.md").unlink()
    _, problems = validate(module_dir)
    files = {p.file for p in problems}
    assert {"practice-module/module.yaml", "practice-module/quiz.yaml"} <= files
    assert len(problems) >= 3


def test_a_lesson_path_outside_the_module_is_never_opened(module_dir, tmp_path):
    secret = tmp_path / "secret.md"
    secret.write_text("---\ntitle: Secret\n---\nPayroll.\n")
    edit(module_dir, "module.yaml", "  - 03-wrap-up.md", "  - ../../secret.md")
    module, problems = validate(module_dir)
    assert module is None
    assert not any("Payroll" in str(p) for p in problems)


def test_a_path_that_is_not_a_module_is_a_problem_not_a_crash(tmp_path):
    module, problems = validate(tmp_path / "nowhere")
    assert module is None and problems[0].message == "not a folder"
    (tmp_path / "empty").mkdir()
    _, problems = validate(tmp_path / "empty")
    assert problems[0].message == "file is missing" and "module.yaml" in problems[0].fix


def test_the_content_hash_ignores_file_layout_but_not_meaning(module_dir, tmp_path):
    original = load_module(SOURCE)
    rewritten = load_module(write_module(original, tmp_path / "out" / "practice-module"))
    assert rewritten.to_dict() == original.to_dict()
    assert rewritten.content_hash == original.content_hash

    edit(module_dir, "lessons/03-wrap-up.md", "ready for the quiz", "ready for the quiz!")
    assert load_module(module_dir).content_hash != original.content_hash


def test_lesson_order_changes_the_hash(module_dir):
    original = load_module(module_dir)
    edit(module_dir, "module.yaml", "  - 01-would-you-post-this.md\n  - 02-reply-to-a-complaint.md",
         "  - 02-reply-to-a-complaint.md\n  - 01-would-you-post-this.md")
    assert load_module(module_dir).content_hash != original.content_hash


def test_an_exported_zip_unpacks_to_the_same_module(tmp_path):
    original = load_module(SOURCE)
    folder, problems = extract_module_zip(module_zip(original), tmp_path / "unpacked")
    assert problems == []
    assert folder == tmp_path / "practice-module"  # the archive's own folder name
    assert load_module(folder).content_hash == original.content_hash


def _zip(entries: dict[str, bytes], symlink: str | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (0o120777 << 16)
            archive.writestr(info, "/etc/passwd")
    return buffer.getvalue()


def _corrupt_zip() -> bytes:
    """A valid archive whose lesson bytes were damaged after zipping (CRC mismatch)."""
    data = bytearray(_zip({"m/module.yaml": b"slug: x\n" * 50, "m/lessons/a.md": b"y" * 500}))
    index = data.index(b"y" * 50)
    data[index:index + 10] = b"z" * 10
    return bytes(data)


@pytest.mark.parametrize(("data", "words"), [
    (b"this is not a zip", "not a .zip archive"),
    (_zip({"../evil/module.yaml": b"slug: x"}), "points outside the module"),
    (_zip({"/abs/module.yaml": b"slug: x"}), "points outside the module"),
    (_zip({"m/module.yaml": b"slug: x"}, symlink="m/lessons/link.md"), "points outside the module"),
    (_zip({"a/module.yaml": b"", "b/module.yaml": b""}), "holds 2 module.yaml files"),
    (_zip({"readme.txt": b"hello"}), "holds 0 module.yaml files"),
    (_zip({f"m/f{i}.md": b"x" for i in range(301)}), "holds 301 files"),
    (_zip({"m/module.yaml": b"x" * (5 * 1024 * 1024 + 1)}), "more than 5 MB"),
    (_corrupt_zip(), "the archive is damaged"),
])
def test_an_unsafe_or_wrong_upload_is_refused_before_anything_is_written(tmp_path, data, words):
    target = tmp_path / "dest"
    folder, problems = extract_module_zip(data, target)
    assert folder is None
    assert words in problems[0].message and problems[0].fix
    assert not target.exists()


def test_a_practice_answer_gives_feedback_and_the_better_answer():
    lesson = load_module(SOURCE).lessons[0]
    wrong = answer_practice(lesson, "teaser", 0)
    assert not wrong.correct
    assert wrong.feedback == "Hinting at unpublished results still discloses them."
    assert wrong.best == ["No"]
    right = answer_practice(lesson, "teaser", 1)
    assert right.correct and right.best == []
    with pytest.raises(InvalidChoice):
        answer_practice(lesson, "teaser", 2)
    with pytest.raises(PracticeNotFound):
        answer_practice(lesson, "no-such-exercise", 0)
