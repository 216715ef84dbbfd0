"""The JSON API frame: organisation API keys, JSON errors, and the OpenAPI registry."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, current_app, g, has_app_context, jsonify, request
from sqlalchemy import bindparam, event, select, update
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from .extensions import csrf, db
from .models import ApiKey, Organization
from .timeutil import utcnow

API_PREFIX = "/api/v1"
KEY_PREFIX = "ctp"
#: How long a process trusts what it read about a key (API_KEY_CACHE_SECONDS; 0 turns it off).
#: A key revoked in one process is refused there at once and by the others within this time.
API_KEY_CACHE_SECONDS = 5.0
API_KEY_CACHE_SIZE = 1024
#: ``last_used_at`` is written at most this often per key and process (hot endpoints stay reads).
LAST_USED_EVERY_SECONDS = 60


class Scope:
    RIGHTS_READ = "rights:read"
    WEBHOOKS_MANAGE = "webhooks:manage"
    ROSTER_WRITE = "roster:write"
    COMPLETIONS_WRITE = "completions:write"
    ALL = (RIGHTS_READ, WEBHOOKS_MANAGE, ROSTER_WRITE, COMPLETIONS_WRITE)


class ApiError(Exception):
    """An API failure with a machine code and a sentence a developer can act on."""

    def __init__(self, status: int, code: str, message: str, *, field: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field

    def to_response(self):
        body: dict[str, Any] = {"error": {"code": self.code, "message": self.message}}
        if self.field:
            body["error"]["field"] = self.field
        response = jsonify(body)
        response.status_code = self.status
        if self.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="cleared-to-post"'
        return response


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(org: Organization, name: str, scopes: list[str] | None = None):
    """Create a key; returns ``(row, plaintext)``. The plaintext is never stored or shown again."""
    scopes = list(scopes or [Scope.RIGHTS_READ])
    unknown = [s for s in scopes if s not in Scope.ALL]
    if unknown:
        raise ValueError(f"unknown scope {unknown[0]!r}: choose from {', '.join(Scope.ALL)}")
    if not name.strip():
        raise ValueError("key name is empty: name the system that will use it")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    plaintext = f"{KEY_PREFIX}_{prefix}_{secret}"
    key = ApiKey(
        organization_id=org.id,
        name=name.strip()[:100],
        prefix=prefix,
        secret_hash=_hash_secret(plaintext),
        scopes=scopes,
    )
    db.session.add(key)
    db.session.flush()
    return key, plaintext


@dataclass(frozen=True)
class AuthenticatedKey:
    """What a request needs to know about its key: read once, trusted for a few seconds."""

    id: int
    organization_id: int
    prefix: str
    secret_hash: str
    scopes: tuple[str, ...]
    revoked: bool
    last_used_at: datetime | None


class ApiKeyCache:
    """prefix -> ``AuthenticatedKey`` for ``ttl`` seconds, at most ``size`` entries (LRU).

    It saves the database lookup only: the secret is still hashed and compared in constant
    time on every request. Unknown prefixes are not remembered (a guesser cannot fill it).
    """

    def __init__(self, ttl: float = API_KEY_CACHE_SECONDS, size: int = API_KEY_CACHE_SIZE):
        self.ttl, self.size = ttl, size
        self._entries: OrderedDict[str, tuple[float, AuthenticatedKey]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, prefix: str) -> AuthenticatedKey | None:
        with self._lock:
            hit = self._entries.get(prefix)
            if hit is None:
                return None
            if time.monotonic() - hit[0] >= self.ttl:
                del self._entries[prefix]
                return None
            self._entries.move_to_end(prefix)
            return hit[1]

    def put(self, key: AuthenticatedKey) -> None:
        if self.ttl <= 0 or self.size <= 0:
            return
        with self._lock:
            self._entries[key.prefix] = (time.monotonic(), key)
            self._entries.move_to_end(key.prefix)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def touch(self, key: AuthenticatedKey, used_at: datetime) -> None:
        """Remember the last_used_at just written, keeping the entry's age."""
        with self._lock:
            hit = self._entries.get(key.prefix)
            if hit is not None and hit[1].id == key.id:
                self._entries[key.prefix] = (hit[0], replace(hit[1], last_used_at=used_at))

    def invalidate(self, prefix: str) -> None:
        with self._lock:
            self._entries.pop(prefix, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


def key_cache(app: Flask | None = None) -> ApiKeyCache:
    """This application's key cache (one per app, so test apps never share entries)."""
    app = app or current_app
    cache = app.extensions.get("api_key_cache")
    if cache is None:
        cache = app.extensions["api_key_cache"] = ApiKeyCache(
            float(app.config.get("API_KEY_CACHE_SECONDS", API_KEY_CACHE_SECONDS))
        )
    return cache


_LOOKUP_KEY = select(
    ApiKey.id,
    ApiKey.organization_id,
    ApiKey.prefix,
    ApiKey.secret_hash,
    ApiKey.scopes,
    ApiKey.revoked_at,
    ApiKey.last_used_at,
).where(ApiKey.prefix == bindparam("prefix"))


def _lookup(prefix: str) -> AuthenticatedKey | None:
    cache = key_cache()
    known = cache.get(prefix)
    if known is not None:
        return known
    row = db.session.execute(_LOOKUP_KEY, {"prefix": prefix}).one_or_none()
    if row is None:
        return None
    known = AuthenticatedKey(
        id=row.id,
        organization_id=row.organization_id,
        prefix=row.prefix,
        secret_hash=row.secret_hash,
        scopes=tuple(row.scopes or ()),
        revoked=row.revoked_at is not None,
        last_used_at=row.last_used_at,
    )
    cache.put(known)
    return known


def key_from_header(header: str | None) -> AuthenticatedKey | None:
    """The key a ``Bearer`` header names, if it exists, is not revoked and the secret matches."""
    if not header or not header.startswith("Bearer "):
        return None
    token = header[len("Bearer ") :].strip()
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    key = _lookup(parts[1])
    if key is None or key.revoked:
        return None
    if not hmac.compare_digest(key.secret_hash, _hash_secret(token)):
        return None
    return key


def _note_use(key: AuthenticatedKey) -> None:
    """Write ``last_used_at`` at most once a minute per key (per process)."""
    now = utcnow()
    if key.last_used_at is not None and (now - key.last_used_at).total_seconds() <= (
        LAST_USED_EVERY_SECONDS
    ):
        return
    db.session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
    db.session.commit()
    key_cache().touch(key, now)


def api_key_required(scope: str) -> Callable:
    """Authenticate the bearer key and require ``scope``; sets ``g.api_key`` and ``g.api_org_id``."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            key = key_from_header(request.headers.get("Authorization"))
            if key is None:
                raise ApiError(
                    401,
                    "unauthorized",
                    "A valid API key is required: send 'Authorization: Bearer <key>'.",
                )
            if scope not in (key.scopes or []):
                raise ApiError(403, "forbidden", f"This API key lacks the '{scope}' scope.")
            _note_use(key)
            g.api_key = key
            g.api_org_id = key.organization_id
            return view(*args, **kwargs)

        wrapped._api_scope = scope
        return wrapped

    return decorator


class OpenApiRegistry:
    """Features describe their operations beside the views; ``/api/v1/openapi.json`` serves all."""

    def __init__(self) -> None:
        self.paths: dict[str, dict[str, Any]] = {}
        self.schemas: dict[str, Any] = {}

    def schema(self, name: str, definition: dict) -> None:
        self.schemas[name] = definition

    def operation(self, path: str, method: str, **spec: Any) -> Callable:
        def decorator(view: Callable) -> Callable:
            entry = dict(spec)
            entry.setdefault("responses", {"200": {"description": "OK"}})
            if spec.get("secured", True):
                entry["security"] = [{"apiKey": []}]
                entry["responses"].setdefault("401", {"$ref": "#/components/responses/Error"})
            entry.pop("secured", None)
            self.paths.setdefault(path, {})[method.lower()] = entry
            return view

        return decorator

    def document(self) -> dict:
        return {
            "openapi": "3.1.0",
            "info": {
                "title": "Cleared to Post API",
                "version": "1.0.0",
                "description": "Posting rights, certificates and training records for "
                "advocacy platforms and HR systems. Authenticate with an organisation API "
                "key: `Authorization: Bearer <key>`.",
            },
            "servers": [{"url": API_PREFIX}],
            "paths": dict(sorted(self.paths.items())),
            "components": {
                "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
                "schemas": {
                    "Error": {
                        "type": "object",
                        "required": ["error"],
                        "properties": {
                            "error": {
                                "type": "object",
                                "required": ["code", "message"],
                                "properties": {
                                    "code": {"type": "string"},
                                    "message": {"type": "string"},
                                    "field": {"type": "string"},
                                },
                            }
                        },
                    },
                    **self.schemas,
                },
                "responses": {
                    "Error": {
                        "description": "An error, with a code and a message",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                        },
                    }
                },
            },
        }


openapi = OpenApiRegistry()

bp = Blueprint("api_core", __name__, url_prefix=API_PREFIX)


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(openapi.document())


def register_api_blueprint(app: Flask, blueprint: Blueprint) -> None:
    """API routes authenticate by key, not by cookie, so CSRF does not apply to them."""
    csrf.exempt(blueprint)
    app.register_blueprint(blueprint)


def is_api_request() -> bool:
    return request.path.startswith(API_PREFIX + "/") or request.path == API_PREFIX


# A key changed or deleted through any session of this process (the admin page's revoke, the
# CLI, a test) is forgotten at flush and again after commit, so the next request reads it anew.
_CHANGED_KEYS = "api_changed_key_prefixes"


def _forget_changed_keys(session: Session, flush_context) -> None:
    prefixes = {
        obj.prefix
        for obj in list(session.dirty) + list(session.deleted)
        if isinstance(obj, ApiKey) and obj.prefix
    }
    if prefixes and has_app_context():
        session.info.setdefault(_CHANGED_KEYS, set()).update(prefixes)
        cache = key_cache()
        for prefix in prefixes:
            cache.invalidate(prefix)


def _forget_after_commit(session: Session) -> None:
    prefixes = session.info.pop(_CHANGED_KEYS, None)
    if prefixes and has_app_context():
        cache = key_cache()
        for prefix in prefixes:
            cache.invalidate(prefix)


def init_app(app: Flask) -> None:
    register_api_blueprint(app, bp)
    key_cache(app)
    for name, listener in (
        ("after_flush", _forget_changed_keys),
        ("after_commit", _forget_after_commit),
    ):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)

    @app.errorhandler(ApiError)
    def _api_error(error: ApiError):
        return error.to_response()

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if is_api_request():
            code = (error.name or "error").lower().replace(" ", "_")
            return ApiError(error.code or 500, code, error.description or error.name).to_response()
        from flask import render_template

        template = {403: "core/403.html", 404: "core/404.html"}.get(error.code, "core/error.html")
        return render_template(template, error=error), error.code

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        db.session.rollback()
        current_app.logger.exception("unhandled error on %s", request.path)
        if is_api_request():
            return ApiError(500, "internal_error", "Something went wrong on our side.").to_response()
        from flask import render_template

        return render_template("core/500.html"), 500
