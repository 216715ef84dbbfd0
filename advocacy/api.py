"""The advocacy API: eligibility (one and batch), webhook endpoints, and the draft checker."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from sqlalchemy import select

from lms_plugin.core.api import (
    API_PREFIX,
    ApiError,
    Scope,
    api_key_required,
    openapi,
    register_api_blueprint,
)
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Organization

from . import checker, services, webhooks
from .models import WebhookDelivery, WebhookEndpoint

bp = Blueprint("advocacy_api", __name__, url_prefix=API_PREFIX)
BATCH_LIMIT = 1000
DRAFT_LIMIT = 10_000
ERROR = {"$ref": "#/components/responses/Error"}

openapi.schema(
    "PostingRights",
    {
        "type": "object",
        "required": ["eligible", "status", "reasons"],
        "properties": {
            "identifier": {"type": "string"},
            "eligible": {
                "type": "boolean",
                "description": "True only when the employee may post without review.",
            },
            "status": {"type": "string", "enum": list(services.STATUSES)},
            "reasons": {
                "type": "array",
                "items": {"type": "string"},
                "description": "What is missing, in sentences a person understands.",
            },
            "probation_remaining": {
                "type": "integer",
                "description": "In probation: approved shares still needed.",
            },
        },
    },
)
openapi.schema(
    "PostingRightsBatch",
    {
        "type": "object",
        "required": ["results"],
        "properties": {
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["identifier", "found"],
                    "properties": {
                        "identifier": {"type": "string"},
                        "found": {"type": "boolean"},
                        "eligible": {"type": "boolean"},
                        "status": {"type": "string"},
                        "reasons": {"type": "array", "items": {"type": "string"}},
                    },
                },
            }
        },
    },
)
openapi.schema(
    "WebhookEndpoint",
    {
        "type": "object",
        "required": ["id", "url", "active"],
        "properties": {
            "id": {"type": "integer"},
            "url": {"type": "string", "format": "uri"},
            "description": {"type": "string"},
            "active": {"type": "boolean"},
            "created_at": {"type": "string", "format": "date-time"},
            "secret": {"type": "string", "description": "Only in the response to registration."},
        },
    },
)
openapi.schema(
    "WebhookDelivery",
    {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "event_id": {"type": "string"},
            "event_type": {"type": "string"},
            "attempt": {"type": "integer"},
            "status_code": {"type": ["integer", "null"]},
            "duration_ms": {"type": ["integer", "null"]},
            "error": {"type": ["string", "null"]},
            "succeeded": {"type": "boolean"},
            "created_at": {"type": "string", "format": "date-time"},
        },
    },
)
openapi.schema(
    "WebhookEvent",
    {
        "type": "object",
        "required": ["id", "type", "created_at", "data"],
        "description": "The body POSTed to a webhook endpoint. Headers: Cleared-Event-Id, "
        "Cleared-Event-Type, Cleared-Timestamp, Cleared-Signature "
        "(v1=hex HMAC-SHA256 of '<timestamp>.<body>' with the endpoint secret).",
        "properties": {
            "id": {"type": "string", "description": "Stable across retries: deduplicate on it."},
            "type": {
                "type": "string",
                "enum": [
                    "posting_rights.granted",
                    "posting_rights.expired",
                    "posting_rights.revoked",
                    "posting_rights.suspended",
                    "posting_rights.reinstated",
                    "posting_rights.policy_update_required",
                ],
            },
            "created_at": {"type": "string", "format": "date-time"},
            "data": {
                "type": "object",
                "properties": {
                    "email": {"type": "string"},
                    "external_id": {"type": ["string", "null"]},
                    "previous_status": {"type": "string"},
                    "eligible": {"type": "boolean"},
                    "status": {"type": "string"},
                    "reasons": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
)
openapi.schema(
    "DraftFindings",
    {
        "type": "object",
        "required": ["ok", "blocked", "findings"],
        "properties": {
            "ok": {"type": "boolean", "description": "No findings at all."},
            "blocked": {"type": "boolean", "description": "At least one finding blocks posting."},
            "findings": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["rule", "severity", "start", "end", "message", "clause", "lesson"],
                    "properties": {
                        "rule": {"type": "string", "enum": sorted(checker.CLAUSES)},
                        "severity": {"type": "string", "enum": ["block", "review"]},
                        "start": {"type": "integer"},
                        "end": {"type": "integer"},
                        "excerpt": {"type": "string"},
                        "message": {"type": "string"},
                        "clause": {"type": "string"},
                        "lesson": {
                            "type": "string",
                            "description": "module-slug/lesson-slug of the lesson teaching it",
                        },
                    },
                },
            },
        },
    },
)


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(
            400, "invalid_body", "Send a JSON object with 'Content-Type: application/json'."
        )
    return body


@bp.get("/posting-rights/<path:identifier>")
@openapi.operation(
    "/posting-rights/{identifier}",
    "get",
    summary="May this employee post as a brand advocate right now?",
    parameters=[
        {
            "name": "identifier",
            "in": "path",
            "required": True,
            "description": "The employee's e-mail address or external id.",
            "schema": {"type": "string"},
        }
    ],
    responses={
        "200": {
            "description": "The employee's posting rights",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/PostingRights"}}
            },
        },
        "403": ERROR,
        "404": ERROR,
    },
)
@api_key_required(Scope.RIGHTS_READ)
def posting_rights(identifier: str):
    answer = services.posting_rights_json(g.api_org_id, identifier)
    if answer is None:
        raise ApiError(
            404, "not_found", "No employee with this e-mail or external id.", field="identifier"
        )
    return jsonify({"identifier": identifier, **answer})


@bp.post("/posting-rights:batch")
@openapi.operation(
    "/posting-rights:batch",
    "post",
    summary=f"Posting rights of up to {BATCH_LIMIT} employees at once",
    requestBody={
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["identifiers"],
                    "properties": {
                        "identifiers": {
                            "type": "array",
                            "maxItems": BATCH_LIMIT,
                            "items": {"type": "string"},
                        }
                    },
                }
            }
        },
    },
    responses={
        "200": {
            "description": "One result per identifier, in the order sent; unknown ones "
            "(including other organisations' employees) have found=false",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/PostingRightsBatch"}}
            },
        },
        "400": ERROR,
        "403": ERROR,
    },
)
@api_key_required(Scope.RIGHTS_READ)
def posting_rights_batch():
    identifiers = _json_body().get("identifiers")
    if not isinstance(identifiers, list):
        raise ApiError(
            400,
            "invalid_field",
            "'identifiers' must be a list of e-mail addresses or external ids.",
            field="identifiers",
        )
    if len(identifiers) > BATCH_LIMIT:
        raise ApiError(
            400,
            "too_many",
            f"{len(identifiers)} identifiers sent; the limit is "
            f"{BATCH_LIMIT} per request: split the list.",
            field="identifiers",
        )
    for index, item in enumerate(identifiers):
        if not isinstance(item, str) or not item.strip() or len(item) > 254:
            raise ApiError(
                400,
                "invalid_field",
                f"identifiers[{index}] must be a non-empty string of at most 254 characters.",
                field=f"identifiers[{index}]",
            )
    found = services.find_employees(g.api_org_id, identifiers)
    results = []
    for identifier in identifiers:
        user = found.get(identifier)
        if user is None:
            results.append({"identifier": identifier, "found": False})
        else:
            results.append(
                {
                    "identifier": identifier,
                    "found": True,
                    **services.posting_rights_for(user).as_json(),
                }
            )
    return jsonify({"results": results})


# -- webhooks ---------------------------------------------------------------------------------


def _endpoint_json(endpoint: WebhookEndpoint, *, with_secret: bool = False) -> dict:
    body = {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "active": endpoint.active,
        "created_at": endpoint.created_at.isoformat(),
    }
    if with_secret:
        body["secret"] = endpoint.secret
    return body


def _own_endpoint(endpoint_id: int) -> WebhookEndpoint:
    endpoint = db.session.execute(
        select(WebhookEndpoint).where(
            WebhookEndpoint.id == endpoint_id, WebhookEndpoint.organization_id == g.api_org_id
        )
    ).scalar_one_or_none()
    if endpoint is None:
        raise ApiError(404, "not_found", "No webhook endpoint with this id.", field="id")
    return endpoint


@bp.get("/webhooks")
@openapi.operation(
    "/webhooks",
    "get",
    summary="The organisation's webhook endpoints",
    responses={
        "200": {
            "description": "Endpoints",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "endpoints": {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/WebhookEndpoint"},
                            }
                        },
                    }
                }
            },
        },
        "403": ERROR,
    },
)
@api_key_required(Scope.WEBHOOKS_MANAGE)
def list_webhooks():
    return jsonify({"endpoints": [_endpoint_json(e) for e in webhooks.endpoints_of(g.api_org_id)]})


@bp.post("/webhooks")
@openapi.operation(
    "/webhooks",
    "post",
    summary="Register an HTTPS endpoint for posting-rights events",
    requestBody={
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["url"],
                    "properties": {
                        "url": {"type": "string", "format": "uri"},
                        "description": {"type": "string", "maxLength": 200},
                    },
                }
            }
        },
    },
    responses={
        "201": {
            "description": "Registered; the signing secret is shown this once",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/WebhookEndpoint"}}
            },
        },
        "400": ERROR,
        "403": ERROR,
    },
)
@api_key_required(Scope.WEBHOOKS_MANAGE)
def create_webhook():
    body = _json_body()
    url = body.get("url")
    if not isinstance(url, str):
        raise ApiError(
            400,
            "invalid_field",
            "'url' must be the https:// address of your receiver.",
            field="url",
        )
    description = body.get("description", "")
    if not isinstance(description, str):
        raise ApiError(400, "invalid_field", "'description' must be a string.", field="description")
    org = db.session.get(Organization, g.api_org_id)
    try:
        endpoint = webhooks.register_endpoint(org, url, description)
    except webhooks.WebhookUrlError as exc:
        raise ApiError(400, "invalid_url", f"The URL is refused: {exc}.", field="url") from None
    db.session.commit()
    return jsonify(_endpoint_json(endpoint, with_secret=True)), 201


@bp.delete("/webhooks/<int:endpoint_id>")
@openapi.operation(
    "/webhooks/{id}",
    "delete",
    summary="Stop sending events to an endpoint",
    parameters=[{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
    responses={"204": {"description": "Disabled"}, "403": ERROR, "404": ERROR},
)
@api_key_required(Scope.WEBHOOKS_MANAGE)
def delete_webhook(endpoint_id: int):
    webhooks.disable_endpoint(_own_endpoint(endpoint_id))
    db.session.commit()
    return "", 204


@bp.get("/webhooks/<int:endpoint_id>/deliveries")
@openapi.operation(
    "/webhooks/{id}/deliveries",
    "get",
    summary="The delivery log of an endpoint (newest first)",
    parameters=[{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}],
    responses={
        "200": {
            "description": "Deliveries",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "deliveries": {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/WebhookDelivery"},
                            }
                        },
                    }
                }
            },
        },
        "403": ERROR,
        "404": ERROR,
    },
)
@api_key_required(Scope.WEBHOOKS_MANAGE)
def webhook_deliveries(endpoint_id: int):
    endpoint = _own_endpoint(endpoint_id)
    return jsonify(
        {
            "deliveries": [
                {
                    "id": d.id,
                    "event_id": d.event_id,
                    "event_type": d.event_type,
                    "attempt": d.attempt,
                    "status_code": d.status_code,
                    "duration_ms": d.duration_ms,
                    "error": d.error,
                    "succeeded": d.succeeded,
                    "created_at": d.created_at.isoformat(),
                }
                for d in webhooks.deliveries_of(endpoint)
            ]
        }
    )


@bp.post("/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/redeliver")
@openapi.operation(
    "/webhooks/{id}/deliveries/{delivery_id}/redeliver",
    "post",
    summary="Send a logged event again (same event id)",
    parameters=[
        {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
        {"name": "delivery_id", "in": "path", "required": True, "schema": {"type": "integer"}},
    ],
    responses={"202": {"description": "Queued"}, "403": ERROR, "404": ERROR},
)
@api_key_required(Scope.WEBHOOKS_MANAGE)
def redeliver_webhook(endpoint_id: int, delivery_id: int):
    endpoint = _own_endpoint(endpoint_id)
    delivery = db.session.execute(
        select(WebhookDelivery).where(
            WebhookDelivery.id == delivery_id, WebhookDelivery.endpoint_id == endpoint.id
        )
    ).scalar_one_or_none()
    if delivery is None:
        raise ApiError(
            404, "not_found", "No delivery with this id for this endpoint.", field="delivery_id"
        )
    try:
        webhooks.redeliver(delivery)
    except ValueError as exc:
        raise ApiError(404, "not_found", str(exc), field="delivery_id") from None
    db.session.commit()
    return jsonify({"queued": True, "event_id": delivery.event_id}), 202


# -- the draft checker ------------------------------------------------------------------------


@bp.post("/drafts/check")
@openapi.operation(
    "/drafts/check",
    "post",
    summary="Check a draft post against the organisation's policy",
    requestBody={
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["text"],
                    "properties": {"text": {"type": "string", "maxLength": DRAFT_LIMIT}},
                }
            }
        },
    },
    responses={
        "200": {
            "description": "Findings, ordered by position",
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/DraftFindings"}}
            },
        },
        "400": ERROR,
        "403": ERROR,
    },
)
@api_key_required(Scope.RIGHTS_READ)
def check_draft():
    text = _json_body().get("text")
    if not isinstance(text, str):
        raise ApiError(400, "invalid_field", "'text' must be the draft as a string.", field="text")
    if len(text) > DRAFT_LIMIT:
        raise ApiError(
            400,
            "too_long",
            f"The draft has {len(text)} characters; the limit is {DRAFT_LIMIT}.",
            field="text",
        )
    org = db.session.get(Organization, g.api_org_id)
    findings = checker.check_draft(text, services.checker_rules(org))
    return jsonify(
        {
            "ok": not findings,
            "blocked": checker.blocked(findings),
            "findings": [f.as_json() for f in findings],
        }
    )


def init_app(app) -> None:
    register_api_blueprint(app, bp)
