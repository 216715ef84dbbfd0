"""Write a module back to its folder format, as files or a .zip, and unpack uploaded .zips safely.

The writer is the loader's mirror: ``validate(write_module(m, folder))`` gives back ``m`` with
the same content hash, so an exported module re-imports as "unchanged".
"""

from __future__ import annotations

import io
import re
import shutil
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath

import yaml

from .loader import LESSON_DIR, MODULE_FILE, Module, Problem

# Upload limits: a module is a few dozen small text files; anything far bigger is a mistake
# (or a zip bomb) and is refused before a byte is written.
MAX_ZIP_FILES = 300
MAX_ZIP_BYTES = 5 * 1024 * 1024
DEFAULT_BANK = "quiz.yaml"
SAFE_FOLDER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def lesson_file_text(title: str, minutes: int, body: str, practice: list[dict]) -> str:
    """One lesson file: YAML front matter, then the Markdown body exactly as written."""
    front: dict = {"title": title, "minutes": minutes}
    if practice:
        front["practice"] = practice
    return f"---\n{_dump(front)}---\n{body}"


def module_files(module: Module) -> dict[str, str]:
    """``{relative path: text}`` for every file of the module folder."""
    bank = module.quiz.get("bank") or DEFAULT_BANK
    manifest: dict = {
        "slug": module.slug,
        "title": module.title,
        "version": module.version,
        "summary": module.summary,
        "minutes": module.minutes,
        "objectives": list(module.objectives),
        "lessons": [f"{lesson.slug}.md" for lesson in module.lessons],
        "quiz": {"bank": bank, **{k: v for k, v in module.quiz.items() if k != "bank"}},
    }
    if module.sources:
        manifest["sources"] = list(module.sources)
    files = {MODULE_FILE: _dump(manifest), bank: _dump({"questions": list(module.questions)})}
    for lesson in module.lessons:
        files[f"{LESSON_DIR}/{lesson.slug}.md"] = lesson_file_text(
            lesson.title, lesson.minutes, lesson.body, lesson.practice)
    return files


def write_module(module: Module, folder: Path | str) -> Path:
    """Write the module into ``folder`` (created if needed); returns the folder."""
    folder = Path(folder)
    for relative, text in module_files(module).items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return folder


def module_zip(module: Module) -> bytes:
    """The module folder as a .zip whose single top-level folder is the module's slug."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for relative, text in sorted(module_files(module).items()):
            archive.writestr(f"{module.slug}/{relative}", text)
    return buffer.getvalue()


def extract_module_zip(data: bytes, destination: Path | str) -> tuple[Path | None, list[Problem]]:
    """Unpack an uploaded module .zip; returns the module folder: ``destination``, renamed
    to the archive's own folder name when it has one.

    Refuses (with a problem and a fix, writing nothing) archives that are not zips, too big,
    hold absolute or ``..`` paths or links, or do not contain exactly one ``module.yaml``.
    """
    destination = Path(destination)

    def refuse(message: str, fix: str) -> tuple[None, list[Problem]]:
        return None, [Problem("upload", "-", message, fix)]

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return refuse("the file is not a .zip archive",
                      "zip the module folder (module.yaml, lessons/, the quiz bank) and upload it")
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) > MAX_ZIP_FILES:
            return refuse(f"the archive holds {len(members)} files (at most {MAX_ZIP_FILES})",
                          "upload one module folder at a time")
        if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
            return refuse("the archive unpacks to more than 5 MB",
                          "a module is text: remove images and other large files")
        for member in members:
            path = PurePosixPath(member.filename.replace("\\", "/"))
            mode = member.external_attr >> 16
            if path.is_absolute() or ".." in path.parts or stat.S_ISLNK(mode):
                return refuse(f"the archive entry {member.filename!r} points outside the module",
                              "zip the module folder itself, without links or '..' paths")
        manifests = [m for m in members if PurePosixPath(m.filename).name == MODULE_FILE]
        if len(manifests) != 1:
            return refuse(
                f"the archive holds {len(manifests)} {MODULE_FILE} files (needs exactly 1)",
                "upload a .zip of one module folder")
        root = PurePosixPath(manifests[0].filename).parent
        if root.parts and SAFE_FOLDER_NAME.match(root.parts[-1]):
            # Keep the uploaded folder's name, so problems name the files as the author knows them.
            destination = destination.with_name(root.parts[-1])
        try:
            for member in members:
                path = PurePosixPath(member.filename.replace("\\", "/"))
                if root.parts and path.parts[: len(root.parts)] != root.parts:
                    continue  # files beside the module folder are not part of it
                relative = PurePosixPath(*path.parts[len(root.parts):])
                target = destination.joinpath(*relative.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(member))
        except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError):
            shutil.rmtree(destination, ignore_errors=True)
            return refuse("the archive is damaged, encrypted or uses an unknown compression",
                          "zip the module folder again without a password and upload it")
    return destination, []
