"""The tool's RSA keys: generated on first use, published at /lti/jwks.json, rotated safely.

Rotation publishes the new key ``lead`` before it starts signing (platforms cache our JWKS),
and keeps the old key published until every token it signed has expired.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import or_, select

from lms_plugin.core.extensions import db
from lms_plugin.core.timeutil import utcnow

from .models import LtiToolKey

#: The longest lifetime of anything we sign (client assertions, deep-linking responses).
TOKEN_LIFETIME = timedelta(minutes=5)
DEFAULT_LEAD = timedelta(hours=1)


def _new_key(signs_from) -> LtiToolKey:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    key = LtiToolKey(kid=secrets.token_hex(8), private_pem=pem, signs_from=signs_from)
    db.session.add(key)
    # The one commit outside a view: a key must be public before anything it signs leaves
    # (a platform fetching our JWKS from another process must find it), so it cannot wait
    # for the caller's transaction.
    db.session.commit()
    return key


def published_keys() -> list[LtiToolKey]:
    """Every key a platform may meet: the signing one, the next one, the retiring ones."""
    now = utcnow()
    keys = list(db.session.execute(
        select(LtiToolKey).where(or_(LtiToolKey.retire_after.is_(None),
                                     LtiToolKey.retire_after > now))
        .order_by(LtiToolKey.signs_from, LtiToolKey.id)).scalars())
    if not keys:
        keys = [_new_key(now)]
    return keys


def signing_key() -> LtiToolKey:
    """The newest published key whose signing time has come (a first key is made if none)."""
    now = utcnow()
    ready = [key for key in published_keys() if key.signs_from <= now]
    return ready[-1] if ready else _new_key(now)


def rotate(lead: timedelta = DEFAULT_LEAD) -> LtiToolKey:
    """Add a key that signs after ``lead``; retire the current ones once their tokens expire."""
    now = utcnow()
    current = published_keys()
    new = _new_key(now + lead)
    for key in current:
        if key.retire_after is None:
            key.retire_after = new.signs_from + TOKEN_LIFETIME
    db.session.flush()
    return new


def public_jwk(key: LtiToolKey) -> dict:
    private = serialization.load_pem_private_key(key.private_pem.encode(), password=None)
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
    return jwk | {"kid": key.kid, "alg": "RS256", "use": "sig"}


def jwks() -> dict:
    return {"keys": [public_jwk(key) for key in published_keys()]}


def sign(claims: dict, lifetime: timedelta = TOKEN_LIFETIME) -> str:
    """A JWT signed with the current key, valid for ``lifetime`` (never more than the maximum)."""
    key = signing_key()
    now = utcnow()
    lifetime = min(lifetime, TOKEN_LIFETIME)
    body = {"iat": int(now.timestamp()), "exp": int((now + lifetime).timestamp()),
            "jti": secrets.token_urlsafe(16)} | claims
    return jwt.encode(body, key.private_pem, algorithm="RS256", headers={"kid": key.kid})
