"""Moodle's GIFT text format: a parser that reports every problem by line, and an exporter.

Supported (see docs/quizzes.md for the table): multiple choice (``=right ~wrong``, with
``#feedback``), multiple response (``~%50%right ~%-100%wrong``), true/false
(``{TRUE#feedback if wrong#feedback if right}``), titles ``::title::``, general feedback
``####text`` (our explanation), comments, ``$CATEGORY:``, and the comment hints
``// [id:...]`` and ``// [tag:...]`` that Moodle itself writes; the last part of a
``$CATEGORY:`` path becomes a tag. Short answer, numerical,
matching, missing word, essay and description questions are reported as unsupported.
Framework-free: the XBlock and the CLI can use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

ESCAPABLE = "~=#{}:"
_HINT_RE = re.compile(r"\[(id|tag|partial):([^\]]*)\]")
_FORMAT_RE = re.compile(r"^\[(plain|moodle|markdown|html)\]")
_WEIGHT_RE = re.compile(r"^%(-?\d+(?:\.\d+)?)%")


@dataclass
class GiftProblem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class GiftResult:
    questions: list[dict] = field(default_factory=list)
    problems: list[GiftProblem] = field(default_factory=list)
    # The first line of each parsed question, in the same order as ``questions``.
    lines: list[int] = field(default_factory=list)


def _unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            out.append("\n" if nxt == "n" else nxt if nxt in ESCAPABLE + "\\" else "\\" + nxt)
            i += 2
            continue
        out.append(text[i])
        i += 1
    return "".join(out).strip()


def escape(text: str) -> str:
    """Escape GIFT's special characters (and newlines) in plain text."""
    text = text.replace("\\", "\\\\")
    for char in ESCAPABLE:
        text = text.replace(char, "\\" + char)
    return text.replace("\n", "\\n")


def _split_unescaped(text: str, separators: str) -> list[tuple[str, str]]:
    """Split at unescaped separator characters: [(separator or "", piece), ...]."""
    parts: list[tuple[str, str]] = []
    current, lead, i = [], "", 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            current.append(text[i:i + 2])
            i += 2
            continue
        if char in separators:
            parts.append((lead, "".join(current)))
            current, lead = [], char
        else:
            current.append(char)
        i += 1
    parts.append((lead, "".join(current)))
    return parts


def _find_unescaped(text: str, target: str, start: int = 0) -> int:
    i = start
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text.startswith(target, i):
            return i
        i += 1
    return -1


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:60] or "question"


def _strip_format(text: str, line: int, problems: list[GiftProblem]) -> str:
    match = _FORMAT_RE.match(text)
    if match:
        if match.group(1) == "html":
            problems.append(GiftProblem(line, "[html] text is not supported: use [plain] or "
                                              "[markdown] text"))
        text = text[match.end():]
    return text


def _blocks(text: str) -> list[tuple[int, list[str], list[tuple[int, str]]]]:
    """(first line, hint comments, [(line number, text)]) per question, split at blank lines."""
    blocks = []
    hints: list[str] = []
    current: list[tuple[int, str]] = []
    depth = 0
    category = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        stripped = line.strip()
        if stripped.startswith("//"):
            hints.append(stripped)
            continue
        if stripped.startswith("$CATEGORY:"):
            # Moodle's category path: its last part becomes a tag of the questions after it.
            last = stripped.removeprefix("$CATEGORY:").strip().rstrip("/").split("/")[-1]
            category = _slug(last) if last and not last.startswith("$") else ""
            continue
        if not stripped and depth == 0:
            if current:
                blocks.append((current[0][0], hints, current))
                current, hints = [], []
            continue
        if not current and category:
            hints.append(f"// [tag:{category}]")
        current.append((number, line))
        for lead, _ in _split_unescaped(line, "{}")[1:]:
            depth += 1 if lead == "{" else -1
    if current:
        blocks.append((current[0][0], hints, current))
    return blocks


def parse(text: str) -> GiftResult:
    """Parse a GIFT file. Problems never stop the parse: every one is reported."""
    result = GiftResult()
    used_ids: set[str] = set()
    for first, hints, lines in _blocks(text.replace("\ufeff", "")):
        problems: list[GiftProblem] = []
        question = _parse_block(first, hints, lines, problems)
        if question is not None and not problems:
            base = question["id"]
            qid, n = base, 2
            while qid in used_ids:
                qid, n = f"{base}-{n}", n + 1
            question["id"] = qid
            used_ids.add(qid)
            result.questions.append(question)
            result.lines.append(first)
        result.problems.extend(problems)
    return result


def _line_of(lines: list[tuple[int, str]], offset: int) -> int:
    """The file line holding character ``offset`` of the block joined with newlines."""
    position = 0
    for number, line in lines:
        position += len(line) + 1
        if offset < position:
            return number
    return lines[-1][0]


def _parse_block(first: int, hints: list[str], lines: list[tuple[int, str]],
                 problems: list[GiftProblem]) -> dict | None:
    block = "\n".join(line for _, line in lines)
    meta: dict[str, list[str]] = {"id": [], "tag": [], "partial": []}
    for hint in hints:
        for kind, value in _HINT_RE.findall(hint):
            meta[kind].append(value.strip())
    title = ""
    body = block.strip()
    if body.startswith("::"):
        end = _find_unescaped(body, "::", 2)
        if end == -1:
            problems.append(GiftProblem(first, "the title opened with '::' is never closed"))
            return None
        title = _unescape(body[2:end])
        body = body[end + 2:]
    offset = len(block) - len(body)
    open_at = _find_unescaped(body, "{")
    if open_at == -1:
        problems.append(GiftProblem(first, "no answer block in braces: description questions "
                                           "are not supported"))
        return None
    close_at = _find_unescaped(body, "}", open_at)
    if close_at == -1:
        problems.append(GiftProblem(_line_of(lines, offset + open_at),
                                    "the answer block opened with '{' is never closed"))
        return None
    answer_line = _line_of(lines, offset + open_at)
    prompt = _unescape(_strip_format(body[:open_at].strip(), first, problems))
    after = body[close_at + 1:].strip()
    if after:
        problems.append(GiftProblem(_line_of(lines, offset + close_at),
                                    "text after the answer block (missing word format) is not "
                                    "supported: put the answers at the end"))
        return None
    if not prompt:
        problems.append(GiftProblem(first, "the question has no text before its answers"))
        return None
    inner = body[open_at + 1:close_at]
    explanation = ""
    general = _find_unescaped(inner, "####")
    if general != -1:
        explanation = _unescape(inner[general + 4:])
        inner = inner[:general]
    stripped = inner.strip()
    question: dict = {"id": meta["id"][0] if meta["id"] else _slug(title or prompt),
                      "prompt": prompt}
    if meta["tag"]:
        question["tags"] = sorted(set(meta["tag"]))
    if explanation:
        question["explanation"] = explanation
    if not stripped:
        problems.append(GiftProblem(answer_line, "an empty answer block (essay) is not supported"))
        return None
    if stripped.startswith("#"):
        problems.append(GiftProblem(answer_line, "numerical questions are not supported"))
        return None
    if "->" in stripped:
        problems.append(GiftProblem(answer_line, "matching questions are not supported"))
        return None
    truth = _split_unescaped(stripped, "#")
    if truth[0][1].strip().upper() in ("T", "TRUE", "F", "FALSE"):
        answer = truth[0][1].strip().upper().startswith("T")
        wrong = _unescape(truth[1][1]) if len(truth) > 1 else ""
        right = _unescape(truth[2][1]) if len(truth) > 2 else ""
        question.update(type="true_false", answer=answer)
        feedback = {"feedback_true": right if answer else wrong,
                    "feedback_false": wrong if answer else right}
        question.update({k: v for k, v in feedback.items() if v})
        return question
    return _choices(question, stripped, answer_line, meta, problems)


def _choices(question: dict, inner: str, line: int, meta: dict,
             problems: list[GiftProblem]) -> dict | None:
    pieces = _split_unescaped(inner, "=~")
    if pieces[0][1].strip():
        problems.append(GiftProblem(line, f"answer text {pieces[0][1].strip()!r} does not start "
                                          "with '=' (right) or '~' (wrong)"))
        return None
    options, weighted = [], False
    for lead, piece in pieces[1:]:
        weight = None
        piece = piece.strip()
        match = _WEIGHT_RE.match(piece)
        if match:
            weight = float(match.group(1))
            weighted = True
            piece = piece[match.end():]
        text_and_feedback = _split_unescaped(piece, "#")
        text = _unescape(text_and_feedback[0][1])
        feedback = _unescape("#".join(p for _, p in text_and_feedback[1:]))
        if not text:
            problems.append(GiftProblem(line, "an answer has no text"))
            return None
        right = (weight > 0) if weight is not None else lead == "="
        option = {"text": text, "correct": right}
        if feedback:
            option["feedback"] = feedback
        options.append((lead, option))
    equals = sum(1 for lead, _ in options if lead == "=")
    tildes = len(options) - equals
    if tildes == 0:
        problems.append(GiftProblem(line, "short answer questions (only '=' answers) are not "
                                          "supported"))
        return None
    if weighted:
        question.update(type="multiple_response", options=[o for _, o in options])
        question["partial_credit"] = "no" not in meta["partial"]
        return question
    if equals != 1:
        problems.append(GiftProblem(line, f"a multiple choice question needs exactly one '=' "
                                          f"right answer (found {equals}); for several right "
                                          "answers write weights like ~%50%"))
        return None
    question.update(type="single_choice", options=[o for _, o in options])
    return question


# -- export --------------------------------------------------------------------------------

EXPORTABLE = ("single_choice", "multiple_response", "true_false")


def _weight(value: float) -> str:
    text = f"{value:.5f}".rstrip("0").rstrip(".")
    return text


def export(questions: list[dict]) -> tuple[str, list[str]]:
    """GIFT text for the questions GIFT can express, and the ids of those it cannot."""
    out: list[str] = []
    skipped: list[str] = []
    for q in questions:
        if q.get("type") not in EXPORTABLE:
            skipped.append(str(q.get("id")))
            continue
        out.append(f"// [id:{q['id']}]")
        for tag in q.get("tags") or []:
            out.append(f"// [tag:{tag}]")
        if q["type"] == "multiple_response" and not q.get("partial_credit"):
            out.append("// [partial:no]")
        head = f"::{escape(q['id'])}::[plain]{escape(q['prompt'])} {{"
        general = f"####{escape(q['explanation'])}" if q.get("explanation") else ""
        if q["type"] == "true_false":
            answer = bool(q.get("answer"))
            right = q.get("feedback_true" if answer else "feedback_false", "")
            wrong = q.get("feedback_false" if answer else "feedback_true", "")
            tail = "TRUE" if answer else "FALSE"
            if wrong or right:
                tail += f"#{escape(wrong)}"
            if right:
                tail += f"#{escape(right)}"
            out.append(f"{head}{tail}{general}}}")
        else:
            out.append(head)
            options = q.get("options", [])
            rights = sum(1 for o in options if o.get("correct"))
            wrongs = len(options) - rights
            for option in options:
                feedback = f"#{escape(option['feedback'])}" if option.get("feedback") else ""
                if q["type"] == "single_choice":
                    lead = "=" if option.get("correct") else "~"
                else:
                    share = 100 / rights if option.get("correct") else -100 / max(wrongs, 1)
                    lead = f"~%{_weight(share)}%"
                out.append(f"\t{lead}{escape(option['text'])}{feedback}")
            if general:
                out.append(f"\t{general}")
            out.append("}")
        out.append("")
    return "\n".join(out), skipped
