"""Trainer authoring: drafts of modules edited in the browser, published through the same
validating import as a folder, exported back to the folder format, and uploaded as a .zip.

Drafts live apart from the published ``ModuleVersion`` rows, so learners see nothing of an
edit until it is published.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import yaml
from sqlalchemy import select

from content_modules import Lesson, Module, Problem, validate
from content_modules.writer import extract_module_zip, module_zip, write_module
from lms_plugin.core import audit
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Organization, User

from . import services
from .models import ModuleDraft, ModuleVersion


class AuthoringError(ValueError):
    """An authoring request that cannot be honoured; ``problems`` say where and how to fix."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        self.problems = problems or []
        super().__init__(message)


def current_modules(organization_id: int) -> list[ModuleVersion]:
    """The current version of every module imported into the organisation, by slug."""
    slugs = db.session.execute(
        select(ModuleVersion.slug).where(ModuleVersion.organization_id == organization_id)
        .distinct().order_by(ModuleVersion.slug)
    ).scalars()
    return [services.current_module_version(organization_id, slug) for slug in slugs]


def draft_of(organization_id: int, slug: str) -> ModuleDraft | None:
    return db.session.execute(
        select(ModuleDraft).filter_by(organization_id=organization_id, slug=slug)
    ).scalar_one_or_none()


def open_draft(version: ModuleVersion, user: User) -> ModuleDraft:
    """The module's draft, started from the current version when there is none yet."""
    draft = draft_of(version.organization_id, version.slug)
    if draft is None:
        draft = ModuleDraft(organization_id=version.organization_id, slug=version.slug,
                            content=version.module.to_dict(), base_version_id=version.id,
                            updated_by_id=user.id)
        db.session.add(draft)
        db.session.flush()
    return draft


def check_module(module: Module) -> tuple[Module | None, list[Problem]]:
    """Validate a module exactly as a folder import would: write it out and load it back."""
    with tempfile.TemporaryDirectory(prefix="cleared-module-") as tmp:
        folder = write_module(module, Path(tmp) / module.slug)
        return validate(folder)


def _store(draft: ModuleDraft, module: Module, user: User) -> None:
    checked, problems = check_module(module)
    if problems:
        raise AuthoringError("the change was not saved: fix the problems below", problems)
    draft.content = checked.to_dict()
    draft.updated_by_id = user.id
    db.session.flush()


def _lesson_slug(title: str, taken: set[str], position: int) -> str:
    words = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:50].strip("-") or "lesson"
    slug = f"{position:02d}-{words}"
    suffix = 2
    while slug in taken:
        slug = f"{position:02d}-{words}-{suffix}"
        suffix += 1
    return slug


def parse_practice(text: str) -> list[dict]:
    """The practice exercises typed as YAML in the lesson editor."""
    if not text.strip():
        return []
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = str(mark.line + 1) if mark else "-"
        raise AuthoringError("the change was not saved: fix the problems below", [Problem(
            "practice", line, f"the practice exercises are not valid YAML "
            f"({getattr(exc, 'problem', None) or 'syntax error'})",
            "check indentation; quote text that contains ':' or '#'")]) from None
    if not isinstance(value, list):
        raise AuthoringError("the change was not saved: fix the problems below", [Problem(
            "practice", "1", "the practice exercises must be a list",
            "start each exercise with '- id: ...' (see docs/module-format.md)")])
    return value


def save_lesson(draft: ModuleDraft, lesson_slug: str | None, *, title: str, minutes: int,
                body: str, practice: list[dict], user: User) -> str:
    """Create (``lesson_slug`` None) or change a lesson in the draft; returns its slug."""
    module = draft.module
    if lesson_slug is None:
        slug = _lesson_slug(title, {lesson.slug for lesson in module.lessons},
                            len(module.lessons) + 1)
        module.lessons.append(Lesson(slug=slug, title=title, minutes=minutes, body=body,
                                     practice=practice))
    else:
        lesson = module.lesson(lesson_slug)
        if lesson is None:
            raise AuthoringError(f"the draft has no lesson {lesson_slug!r}")
        slug = lesson_slug
        lesson.title, lesson.minutes, lesson.body, lesson.practice = title, minutes, body, practice
    _store(draft, module, user)
    return slug


def move_lesson(draft: ModuleDraft, lesson_slug: str, offset: int, user: User) -> None:
    """Move a lesson up (``-1``) or down (``+1``) in the teaching order."""
    module = draft.module
    slugs = [lesson.slug for lesson in module.lessons]
    if lesson_slug not in slugs:
        raise AuthoringError(f"the draft has no lesson {lesson_slug!r}")
    index = slugs.index(lesson_slug)
    target = index + offset
    if not 0 <= target < len(slugs):
        return
    module.lessons[index], module.lessons[target] = module.lessons[target], module.lessons[index]
    _store(draft, module, user)


def delete_lesson(draft: ModuleDraft, lesson_slug: str, user: User) -> None:
    module = draft.module
    if module.lesson(lesson_slug) is None:
        raise AuthoringError(f"the draft has no lesson {lesson_slug!r}")
    if len(module.lessons) == 1:
        raise AuthoringError("a module needs at least one lesson: add another before deleting "
                             "this one")
    module.lessons = [lesson for lesson in module.lessons if lesson.slug != lesson_slug]
    _store(draft, module, user)


def discard_draft(draft: ModuleDraft) -> None:
    db.session.delete(draft)
    db.session.flush()


def publish_draft(org: Organization, draft: ModuleDraft, *, requires_retraining: bool,
                  user: User) -> tuple[ModuleVersion, bool]:
    """Publish the draft as the module's next version (unchanged content publishes nothing)."""
    module = draft.module
    current = services.current_module_version(org.id, draft.slug)
    if current is not None:
        candidate, problems = check_module(module)
        if problems:
            raise AuthoringError("nothing was published: fix the problems below", problems)
        if candidate.content_hash == current.content_hash:
            discard_draft(draft)
            return current, False
        # The author's version number follows the published versions.
        module.version = max(module.version, current.module.version + 1)
    checked, problems = check_module(module)
    if problems:
        raise AuthoringError("nothing was published: fix the problems below", problems)
    try:
        version, created = services.import_module(org, checked, requires_retraining,
                                                  imported_by=user)
    except services.CourseError as exc:
        raise AuthoringError(str(exc)) from None
    discard_draft(draft)
    return version, created


def export_zip(version: ModuleVersion) -> bytes:
    """The module in its folder format as a .zip (the author can edit it and import it again)."""
    return module_zip(version.module)


def import_zip(org: Organization, data: bytes, *, requires_retraining: bool,
               user: User) -> tuple[ModuleVersion, bool]:
    """Import a module uploaded as a .zip of its folder, validated like any folder."""
    with tempfile.TemporaryDirectory(prefix="cleared-upload-") as tmp:
        folder, problems = extract_module_zip(data, Path(tmp) / "module")
        if folder is None:
            raise AuthoringError("the upload was not imported", problems)
        module, problems = validate(folder)
    if problems:
        raise AuthoringError("the upload was not imported: fix the problems below and upload "
                             "it again", problems)
    existing_draft = draft_of(org.id, module.slug)
    try:
        version, created = services.import_module(org, module, requires_retraining,
                                                  imported_by=user)
    except services.CourseError as exc:
        raise AuthoringError(str(exc)) from None
    if created and existing_draft is not None:
        # The draft was based on a version that is no longer current; keep the trainer's work
        # but record that it now starts from the new version.
        existing_draft.base_version_id = version.id
    return version, created


def export_audit(org: Organization, version: ModuleVersion, user: User) -> None:
    audit.record(org.id, "module.exported", actor=user, subject=version, slug=version.slug,
                 number=version.number)
