"""Certificate codes: 100 random bits in Crockford base32, grouped, with a check character.

``7K3QD-MZ8VA-0T1CX-R5FJE-Q`` — 20 symbols carry 100 bits; the 21st is Crockford's mod-37
check symbol, so a mistyped symbol or a swapped pair is recognised as a typo, not looked up.
"""

from __future__ import annotations

import secrets

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHECK_ALPHABET = ALPHABET + "*~$=U"
SYMBOLS = 20
GROUP = 5
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


class CodeError(ValueError):
    pass


def _value(symbols: str) -> int:
    value = 0
    for char in symbols:
        value = value * 32 + ALPHABET.index(char)
    return value


def check_symbol(symbols: str) -> str:
    return CHECK_ALPHABET[_value(symbols) % 37]


def new_code() -> str:
    """A fresh code in its canonical (ungrouped) form: 20 symbols and the check symbol."""
    symbols = "".join(secrets.choice(ALPHABET) for _ in range(SYMBOLS))
    return symbols + check_symbol(symbols)


def normalize(text: str) -> str:
    """Canonical form of what a person typed; raises ``CodeError`` for a mistyped code."""
    cleaned = "".join(ch for ch in text.upper() if ch not in " -_.").translate(_READ_AS)
    if len(cleaned) != SYMBOLS + 1:
        raise CodeError(f"a certificate code has {SYMBOLS + 1} characters; this one has "
                        f"{len(cleaned)}")
    body, check = cleaned[:SYMBOLS], cleaned[SYMBOLS]
    if any(ch not in ALPHABET for ch in body) or check not in CHECK_ALPHABET:
        raise CodeError("the code contains a character that never appears in codes")
    if check_symbol(body) != check:
        raise CodeError("the code's check character does not match: a character is mistyped")
    return cleaned


def display(code: str) -> str:
    """``XXXXX-XXXXX-XXXXX-XXXXX-C`` for print and screen."""
    body = code[:SYMBOLS]
    groups = [body[i : i + GROUP] for i in range(0, SYMBOLS, GROUP)]
    return "-".join(groups + [code[SYMBOLS:]])
