"""Load a module folder, validate it against the JSON Schemas, and report every problem.

A problem names the file, the line (or the field) and what to do about it, so that an author
can fix a module without reading this code.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

SCHEMA_DIR = Path(__file__).parent / "schema"
# The file names the schema allows for lessons and banks: no folders, no "..".
SAFE_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\.(md|ya?ml)$")
MODULE_FILE = "module.yaml"
LESSON_DIR = "lessons"


@dataclass(frozen=True)
class Problem:
    file: str
    where: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.file}:{self.where}: {self.message}. Fix: {self.fix}"


class ModuleFormatError(ValueError):
    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class Lesson:
    slug: str
    title: str
    minutes: int
    body: str
    practice: list[dict] = field(default_factory=list)


@dataclass
class Module:
    slug: str
    title: str
    version: int
    summary: str
    minutes: int
    objectives: list[str]
    lessons: list[Lesson]
    quiz: dict
    questions: list[dict]
    sources: list[dict]
    content_hash: str

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Module:
        values = dict(data)
        values["lessons"] = [Lesson(**lesson) for lesson in data["lessons"]]
        return cls(**values)

    def lesson(self, slug: str) -> Lesson | None:
        return next((lesson for lesson in self.lessons if lesson.slug == slug), None)


@cache
def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())
    return Draft202012Validator(schema)


def _line_of(node: yaml.Node | None, path: list, line_offset: int = 0) -> int | None:
    """The 1-based line of the value at ``path`` in a composed YAML tree."""
    if node is None:
        return None
    current = node
    for part in path:
        if isinstance(current, yaml.MappingNode):
            match = next((v for k, v in current.value if k.value == part), None)
            if match is None:
                break
            current = match
        elif isinstance(current, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(current.value):
                break
            current = current.value[part]
        else:
            break
    return current.start_mark.line + 1 + line_offset


def _field_name(path: list) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _explain(error: ValidationError) -> tuple[str, str]:
    """A sentence for the problem and one for the fix, from a JSON Schema error."""
    name = _field_name(list(error.absolute_path))
    kind = error.validator
    if kind == "required":
        missing = error.message.split("'")[1]
        return (f"'{missing}' is missing in {name}", f"add a '{missing}:' entry")
    if kind == "additionalProperties":
        return (f"{name}: {error.message}", "remove the field or check its spelling")
    if kind == "type":
        if isinstance(error.instance, bool) and error.validator_value == "string":
            return (f"{name} must be text, but YAML read it as {str(error.instance).lower()}",
                    "put the value in quotes (YAML reads yes/no/on/off unquoted as true/false)")
        return (f"{name} must be of type {error.validator_value}", "correct the value's type")
    if kind == "pattern":
        if name.startswith("lessons"):
            fix = "give a file name in lessons/ ending in .md, without folders (e.g. 01-intro.md)"
        elif name.startswith("quiz"):
            fix = "give the bank's file name beside module.yaml, ending in .yaml (e.g. quiz.yaml)"
        else:
            fix = "use lowercase letters, digits and hyphens (e.g. our-policy)"
        return (f"{name} ({error.instance!r}) has the wrong form", fix)
    if kind in ("minContains", "maxContains", "contains"):
        if "segments" in name:
            return (f"{name} has no segment marked problem: true",
                    "mark at least one segment with 'problem: true'")
        count = "exactly one" if kind == "maxContains" or error.schema.get("maxContains") else "at least one"
        return (f"{name} needs {count} option marked correct: true",
                f"mark {count} option with 'correct: true'")
    if kind == "enum":
        return (f"{name} is {error.instance!r}, which is not allowed",
                f"use one of: {', '.join(map(str, error.validator_value))}")
    if kind == "minItems":
        count = error.validator_value
        entries = "entry" if count == 1 else "entries"
        return (f"{name} has too few entries", f"give at least {count} {entries}")
    if kind == "minLength":
        return (f"{name} is empty", "write some text")
    if kind in ("maxItems", "maxLength"):
        return (f"{name} is too long", f"keep it to at most {error.validator_value}")
    if kind == "uniqueItems":
        return (f"{name} lists the same entry twice", "list every entry once")
    if kind in ("minimum", "maximum", "exclusiveMinimum"):
        return (f"{name} is out of range ({error.instance!r})",
                f"use a value within the allowed {kind} {error.validator_value}")
    return (f"{name}: {error.message}", "see docs/module-format.md")


def _schema_problems(kind: str, data: Any, file: str, node, line_offset: int = 0) -> list[Problem]:
    problems = []
    errors = sorted(_validator(kind).iter_errors(data), key=lambda e: list(map(str, e.path)))
    for error in errors:
        # Report the innermost failures of if/then branches, not the wrapper.
        leaves = _leaf_errors(error)
        for leaf in leaves:
            if leaf.validator == "additionalProperties" and isinstance(leaf.instance, dict):
                problems += _unknown_fields(leaf, file, node, line_offset)
                continue
            message, fix = _explain(leaf)
            line = _line_of(node, list(leaf.absolute_path), line_offset)
            where = f"{line}" if line else _field_name(list(leaf.absolute_path))
            problems.append(Problem(file, where, message, fix))
    return problems


def _unknown_fields(error: ValidationError, file: str, node, line_offset: int) -> list[Problem]:
    """One problem per unknown field, on the line of that field."""
    known = set(error.schema.get("properties", {}))
    problems = []
    for key in error.instance:
        if key in known:
            continue
        path = [*error.absolute_path, key]
        line = _line_of(node, path, line_offset)
        where = _field_name(list(error.absolute_path))
        problems.append(Problem(
            file, str(line) if line else _field_name(path),
            f"'{key}' is not a known field" + (f" of {where}" if error.absolute_path else ""),
            f"remove '{key}' or check its spelling (known fields: {', '.join(sorted(known))})"))
    return problems


def _leaf_errors(error: ValidationError) -> list[ValidationError]:
    if error.context:
        leaves = []
        for sub in error.context:
            leaves.extend(_leaf_errors(sub))
        return leaves
    return [error]


def _read_text(path: Path, rel: str) -> tuple[str | None, list[Problem]]:
    try:
        return path.read_text(encoding="utf-8"), []
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        return None, [Problem(rel, str(line), "the file is not UTF-8 text",
                              "save the file with UTF-8 encoding")]


def _parse_yaml(path: Path, root: Path) -> tuple[Any, yaml.Node | None, list[Problem]]:
    rel = str(path.relative_to(root.parent)) if path.is_relative_to(root.parent) else str(path)
    if not path.is_file():
        return None, None, [Problem(rel, "-", "file is missing", f"create {path.name}")]
    text, problems = _read_text(path, rel)
    if text is None:
        return None, None, problems
    try:
        return yaml.safe_load(text), yaml.compose(text), []
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = str(mark.line + 1) if mark else "-"
        problem = getattr(exc, "problem", None) or str(exc)
        return None, None, [Problem(rel, line, f"YAML syntax error: {problem}",
                                    "check indentation and quote text containing ':' or '#'")]


def split_front_matter(text: str) -> tuple[str | None, str, int]:
    """``(front matter, body, line where the front matter starts)``."""
    if not text.startswith("---"):
        return None, text, 0
    lines = text.splitlines(keepends=True)
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return "".join(lines[1:index]), "".join(lines[index + 1 :]), 1
    return None, text, 0


def content_hash(module_data: dict) -> str:
    """SHA-256 of the module's meaning (not its file layout): an exported and re-imported
    module hashes the same, and any change to text, order or settings changes the hash."""
    data = {key: value for key, value in module_data.items() if key != "content_hash"}
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def validate(folder: Path | str) -> tuple[Module | None, list[Problem]]:
    """Load ``folder``; returns the module (None if anything is wrong) and every problem."""
    root = Path(folder)
    problems: list[Problem] = []
    rel = root.name
    if not root.is_dir():
        return None, [Problem(str(root), "-", "not a folder", "give the path of a module folder")]

    data, node, found = _parse_yaml(root / MODULE_FILE, root)
    problems += found
    if data is None:
        return None, problems or [Problem(f"{rel}/{MODULE_FILE}", "1", "file is empty",
                                          "describe the module (see docs/module-format.md)")]
    if not isinstance(data, dict):
        return None, [Problem(f"{rel}/{MODULE_FILE}", "1", "must be a mapping of fields",
                              "start with 'slug:', 'title:' ...")]
    problems += _schema_problems("module", data, f"{rel}/{MODULE_FILE}", node)

    lessons: list[Lesson] = []
    lesson_names = data.get("lessons") if isinstance(data.get("lessons"), list) else []
    for index, name in enumerate(lesson_names):
        # A name the schema refused (already reported) is never opened: no "../" escapes.
        if not isinstance(name, str) or not SAFE_FILE_NAME.match(name):
            continue
        path = root / LESSON_DIR / name
        lesson_rel = f"{rel}/{LESSON_DIR}/{name}"
        if not path.is_file():
            line = _line_of(node, ["lessons", index])
            problems.append(Problem(f"{rel}/{MODULE_FILE}", str(line), f"lesson file {name} does not exist",
                                    f"create {LESSON_DIR}/{name} or remove it from 'lessons'"))
            continue
        text, found = _read_text(path, lesson_rel)
        if text is None:
            problems += found
            continue
        front, body, offset = split_front_matter(text)
        if front is None:
            problems.append(Problem(lesson_rel, "1", "front matter is missing",
                                    "start the file with '---', 'title: ...', '---'"))
            continue
        try:
            meta = yaml.safe_load(front) or {}
            meta_node = yaml.compose(front)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = str(mark.line + 1 + offset) if mark else "1"
            problems.append(Problem(lesson_rel, line, "front matter is not valid YAML",
                                    "check indentation and quote text containing ':'"))
            continue
        if not isinstance(meta, dict):
            problems.append(Problem(lesson_rel, "2", "front matter must be a mapping",
                                    "write 'title: ...' between the '---' lines"))
            continue
        problems += _schema_problems("lesson", meta, lesson_rel, meta_node, offset)
        practice_ids: set = set()
        for p_index, item in enumerate(meta.get("practice") or []):
            pid = item.get("id") if isinstance(item, dict) else None
            if pid is not None and pid in practice_ids:
                line = _line_of(meta_node, ["practice", p_index, "id"], offset)
                problems.append(Problem(lesson_rel, str(line), f"practice id {pid!r} is used twice",
                                        "give every practice exercise in a lesson its own id"))
            practice_ids.add(pid)
        if not body.strip():
            problems.append(Problem(lesson_rel, "-", "the lesson has no text",
                                    "write the lesson below the front matter"))
        problems += _images_without_alt(body, lesson_rel, text.count("\n") - body.count("\n"))
        lessons.append(Lesson(slug=Path(name).stem, title=str(meta.get("title", name)),
                              minutes=_int_or(meta.get("minutes"), 3), body=body,
                              practice=list(meta.get("practice") or [])))

    questions: list[dict] = []
    quiz = data.get("quiz") if isinstance(data.get("quiz"), dict) else {}
    bank_name = quiz.get("bank")
    if isinstance(bank_name, str) and SAFE_FILE_NAME.match(bank_name):
        bank_path = root / bank_name
        bank, bank_node, found = _parse_yaml(bank_path, root)
        problems += found
        if bank is not None:
            bank_rel = f"{rel}/{bank_name}"
            problems += _schema_problems("quiz", bank, bank_rel, bank_node)
            questions = list(bank.get("questions") or []) if isinstance(bank, dict) else []
            seen: set[str] = set()
            for index, question in enumerate(questions):
                qid = question.get("id") if isinstance(question, dict) else None
                if qid in seen:
                    line = _line_of(bank_node, ["questions", index, "id"])
                    problems.append(Problem(bank_rel, str(line), f"question id {qid!r} is used twice",
                                            "give every question its own id"))
                seen.add(qid)
            wanted = quiz.get("questions")
            if isinstance(wanted, int) and questions and wanted > len(questions):
                problems.append(Problem(f"{rel}/{MODULE_FILE}", str(_line_of(node, ["quiz", "questions"])),
                                        f"quiz draws {wanted} questions but the bank has {len(questions)}",
                                        "lower quiz.questions or add questions to the bank"))

    if problems:
        return None, problems
    module = Module(
        slug=data["slug"],
        title=data["title"],
        version=data["version"],
        summary=data.get("summary", ""),
        minutes=data["minutes"],
        objectives=list(data["objectives"]),
        lessons=lessons,
        quiz={"questions": len(questions), "attempts": 0, "cooldown_minutes": 0,
              "time_limit_minutes": 0, **quiz},
        questions=questions,
        sources=list(data.get("sources") or []),
        content_hash="",
    )
    module.content_hash = content_hash(module.to_dict())
    return module, []


# Screen-reader users need a text alternative for every image (WCAG 1.1.1).
_MD_IMAGE_NO_ALT = re.compile(r"!\[\s*\]\(")
_HTML_IMAGE_NO_ALT = re.compile(r"<img\b(?![^>]*\balt\s*=)[^>]*>", re.IGNORECASE)


def _images_without_alt(body: str, file: str, line_offset: int) -> list[Problem]:
    problems = []
    for number, line in enumerate(body.splitlines(), start=1 + line_offset):
        if _MD_IMAGE_NO_ALT.search(line) or _HTML_IMAGE_NO_ALT.search(line):
            problems.append(Problem(file, str(number), "an image has no text alternative",
                                    "describe it: ![What the image shows](url), or "
                                    "alt=\"...\" on an <img>"))
    return problems


def _int_or(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def load_module(folder: Path | str) -> Module:
    module, problems = validate(folder)
    if problems:
        raise ModuleFormatError(problems)
    assert module is not None
    return module


def discover(root: Path | str) -> list[Path]:
    """Module folders under ``root`` (or ``root`` itself when it is one), in name order."""
    root = Path(root)
    if (root / MODULE_FILE).exists():
        return [root]
    return sorted(path.parent for path in root.glob(f"*/{MODULE_FILE}"))
