"""The JSON API frame: organisation API keys, JSON errors, and the OpenAPI registry."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import Blueprint, Flask, current_app, g, jsonify, request
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from .extensions import csrf, db
from .models import ApiKey, Organization
from .timeutil import utcnow

API_PREFIX = "/api/v1"
KEY_PREFIX = "ctp"


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


def key_from_header(header: str | None) -> ApiKey | None:
    if not header or not header.startswith("Bearer "):
        return None
    token = header[len("Bearer ") :].strip()
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX:
        return None
    key = db.session.execute(select(ApiKey).filter_by(prefix=parts[1])).scalar_one_or_none()
    if key is None or key.revoked_at is not None:
        return None
    if not hmac.compare_digest(key.secret_hash, _hash_secret(token)):
        return None
    return key


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
            now = utcnow()
            # Written at most once a minute per key, so hot endpoints stay read-only.
            if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
                key.last_used_at = now
                db.session.commit()
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


def init_app(app: Flask) -> None:
    register_api_blueprint(app, bp)

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
