"""The draft checker: a pure function from a draft and an organisation's rules to findings.

No Flask, no database: the hub, the API and the lessons' practice exercises all call
``check_draft(text, rules)``. Each finding has a severity (``block``: do not post;
``review``: think twice), the span of text it is about, the policy clause it concerns and
the lesson that teaches it (``module-slug/lesson-slug`` in the content library).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache

BLOCK, REVIEW = "block", "review"


@dataclass(frozen=True)
class Finding:
    rule: str
    severity: str  # block | review
    start: int
    end: int
    excerpt: str
    message: str
    clause: str
    lesson: str

    def as_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Rules:
    """An organisation's checker settings; the defaults suit a company that set nothing."""

    #: (term, severity) pairs from the organisation's confidential lexicon.
    confidential_terms: tuple[tuple[str, str], ...] = ()
    #: Words that make a post promotional (the company's name, products, campaign names).
    brand_terms: tuple[str, ...] = ()
    #: Any of these in the text counts as disclosing the employment relationship.
    disclosures: tuple[str, ...] = (
        "#employee",
        "#iwork",
        "i work at",
        "i work for",
        "my employer",
        "#ad",
        "disclosure:",
        "#sponsored",
    )
    max_hashtags: int = 5
    max_mentions: int = 5
    #: Links must point at one of these (or a subdomain); empty means any domain.
    allowed_domains: tuple[str, ...] = ()
    #: VADER compound score at or below which a sentence reads as hostile or negative.
    negative_threshold: float = -0.5
    clauses: dict[str, tuple[str, str]] = field(default_factory=dict)


#: rule -> (policy clause, lesson teaching it). Organisations may override per rule.
CLAUSES: dict[str, tuple[str, str]] = {
    "confidential": ("Policy §2 Confidential information", "our-policy/01-what-is-confidential"),
    "disclosure": (
        "Policy §4 Say that you work here",
        "disclosure-and-accounts/01-say-you-work-here",
    ),
    "tone": ("Policy §5 Tone and respect", "tone-and-engagement/03-answering-criticism"),
    "profanity": ("Policy §5 Tone and respect", "tone-and-engagement/01-be-real"),
    "personal_data": ("Policy §3 Privacy and personal data", "our-policy/01-what-is-confidential"),
    "hashtags": ("Policy §6 No spam", "tone-and-engagement/04-no-spam-and-the-4-1-1-rule"),
    "mentions": ("Policy §6 No spam", "tone-and-engagement/04-no-spam-and-the-4-1-1-rule"),
    "links": ("Policy §2 Approved sources only", "our-policy/02-approval-first"),
}

# A deliberately short list of unambiguous profanity (the checker flags, a person decides).
PROFANITY = (
    "fuck",
    "fucking",
    "fucked",
    "shit",
    "shitty",
    "bullshit",
    "bastard",
    "asshole",
    "arsehole",
    "bitch",
    "dickhead",
    "crap",
    "damn",
    "wtf",
    "piss off",
    "bollocks",
)

# Insults the sentiment lexicon scores as neutral (plurals, slang): hostile whatever VADER says.
INSULTS = (
    "idiot",
    "idiots",
    "moron",
    "morons",
    "clown",
    "clowns",
    "loser",
    "losers",
    "incompetent",
    "scum",
    "stupid",
    "dumb",
    "imbecile",
    "imbeciles",
    "clueless",
)

# Words that make a post promotional even without a brand term.
PROMOTIONAL = (
    "buy",
    "discount",
    "offer",
    "sale",
    "launch",
    "launching",
    "new product",
    "sign up",
    "register now",
    "check out",
    "we're hiring",
    "we are hiring",
    "join our team",
    "our new",
    "free trial",
    "promo",
    "deal",
    "% off",
)

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE_RE = re.compile(r"(?<![\w/.])\+?\(?\d[\d\s().-]{7,}\d(?![\w/])")
URL_RE = re.compile(r"\b(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
HASHTAG_RE = re.compile(r"(?<![\w#])#\w+")
MENTION_RE = re.compile(r"(?<![\w@.])@\w+")
SENTENCE_RE = re.compile(r"[^.!?\n]+[.!?]*")


@lru_cache(maxsize=1)
def _analyser():
    # Imported lazily: the lexicon loads once, on first use, not when the app starts.
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def _term_pattern(term: str) -> re.Pattern:
    words = r"\s+".join(re.escape(w) for w in term.split())
    return re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)


def _finding(
    rules: Rules, rule: str, severity: str, text: str, start: int, end: int, message: str
) -> Finding:
    clause, lesson = rules.clauses.get(rule) or CLAUSES[rule]
    return Finding(rule, severity, start, end, text[start:end], message, clause, lesson)


def _domain_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    host = host.lower().rstrip(".")
    domains = (a.lower().lstrip(".") for a in allowed)
    return any(host == d or host.endswith("." + d) for d in domains)


def has_disclosure(text: str, disclosure: str) -> bool:
    """The exact required disclosure is in the text (case and spacing forgiven)."""

    def squash(s: str) -> str:
        return " ".join(s.split()).casefold()

    return squash(disclosure) in squash(text)


def check_draft(text: str, rules: Rules | None = None) -> list[Finding]:
    """Every finding in ``text``, ordered by where it starts."""
    rules = rules or Rules()
    text = text or ""
    findings: list[Finding] = []

    for term, severity in rules.confidential_terms:
        if not term.strip():
            continue
        for match in _term_pattern(term).finditer(text):
            findings.append(
                _finding(
                    rules,
                    "confidential",
                    BLOCK if severity == BLOCK else REVIEW,
                    text,
                    match.start(),
                    match.end(),
                    f"'{match.group()}' is on the organisation's list of confidential terms.",
                )
            )

    for word in PROFANITY:
        for match in _term_pattern(word).finditer(text):
            findings.append(
                _finding(
                    rules,
                    "profanity",
                    BLOCK,
                    text,
                    match.start(),
                    match.end(),
                    "Profanity: it reflects on the company too.",
                )
            )

    for match in EMAIL_RE.finditer(text):
        findings.append(
            _finding(
                rules,
                "personal_data",
                BLOCK,
                text,
                match.start(),
                match.end(),
                "An e-mail address: never post someone's contact details.",
            )
        )
    emails = [(f.start, f.end) for f in findings if f.rule == "personal_data"]
    for match in PHONE_RE.finditer(text):
        digits = sum(ch.isdigit() for ch in match.group())
        inside = any(s <= match.start() < e for s, e in emails)
        if 9 <= digits <= 15 and not inside:
            findings.append(
                _finding(
                    rules,
                    "personal_data",
                    BLOCK,
                    text,
                    match.start(),
                    match.end(),
                    "A phone number: never post contact details.",
                )
            )

    urls = list(URL_RE.finditer(text))
    if rules.allowed_domains:
        for match in urls:
            raw = match.group().rstrip(".,;:!?)")
            host = re.sub(r"^(?:https?://)?", "", raw, flags=re.IGNORECASE).split("/")[0]
            host = host.split("@")[-1].split(":")[0]
            if not _domain_allowed(host, rules.allowed_domains):
                findings.append(
                    _finding(
                        rules,
                        "links",
                        REVIEW,
                        text,
                        match.start(),
                        match.start() + len(raw),
                        f"The link goes to {host}, outside the approved domains "
                        f"({', '.join(rules.allowed_domains)}).",
                    )
                )

    url_spans = [(m.start(), m.end()) for m in urls]

    def outside_urls(match: re.Match) -> bool:
        return not any(s <= match.start() < e for s, e in url_spans)

    for rule, pattern, limit, noun in (
        ("hashtags", HASHTAG_RE, rules.max_hashtags, "hashtags"),
        ("mentions", MENTION_RE, rules.max_mentions, "mentions"),
    ):
        found = [m for m in pattern.finditer(text) if outside_urls(m)]
        if rule == "mentions":
            found = [m for m in found if not any(s <= m.start() < e for s, e in emails)]
        if len(found) > limit:
            first, last = found[limit], found[-1]
            findings.append(
                _finding(
                    rules,
                    rule,
                    REVIEW,
                    text,
                    first.start(),
                    last.end(),
                    f"{len(found)} {noun}; the organisation's limit is {limit}. "
                    f"More reads as spam.",
                )
            )

    lowered = text.casefold()
    # A brand name inside a link (acme.com/careers) is an address, not a claim.
    promo = [
        m
        for t in rules.brand_terms
        if t.strip()
        for m in _term_pattern(t).finditer(text)
        if outside_urls(m)
    ]
    promo = promo or [
        m for w in PROMOTIONAL for m in _term_pattern(w).finditer(text) if outside_urls(m)
    ]
    if promo and not any(d.casefold() in lowered for d in rules.disclosures):
        match = min(promo, key=lambda m: m.start())
        findings.append(
            _finding(
                rules,
                "disclosure",
                BLOCK,
                text,
                match.start(),
                match.end(),
                f"This reads as promotional ('{match.group()}') but does not say you work here: "
                f"add a disclosure such as '{rules.disclosures[0]}' or 'I work at ...'.",
            )
        )

    for match in SENTENCE_RE.finditer(text):
        sentence = match.group()
        if len(sentence.strip()) < 3:
            continue
        score = _analyser().polarity_scores(sentence)["compound"]
        if score <= rules.negative_threshold:
            start = match.start() + (len(sentence) - len(sentence.lstrip()))
            end = match.start() + len(sentence.rstrip())
            findings.append(
                _finding(
                    rules,
                    "tone",
                    REVIEW,
                    text,
                    start,
                    end,
                    f"This sentence reads as hostile or negative (sentiment {score:+.2f}): "
                    f"would you say it to the person's face, with your manager listening?",
                )
            )

    hostile = [(f.start, f.end) for f in findings if f.rule == "tone"]
    for word in INSULTS:
        for match in _term_pattern(word).finditer(text):
            if not any(s <= match.start() < e for s, e in hostile):
                findings.append(
                    _finding(
                        rules,
                        "tone",
                        REVIEW,
                        text,
                        match.start(),
                        match.end(),
                        f"'{match.group()}' is an insult: criticise ideas, never people.",
                    )
                )

    return sorted(findings, key=lambda f: (f.start, f.end, f.rule))


def blocked(findings: list[Finding]) -> bool:
    return any(f.severity == BLOCK for f in findings)
