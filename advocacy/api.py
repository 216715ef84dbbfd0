"""The eligibility API for advocacy platforms: may this employee post right now?"""

from __future__ import annotations

from flask import Blueprint, g, jsonify

from lms_plugin.core.api import API_PREFIX, ApiError, Scope, api_key_required, openapi, \
    register_api_blueprint

from . import services

bp = Blueprint("advocacy_api", __name__, url_prefix=API_PREFIX)

openapi.schema("PostingRights", {
    "type": "object",
    "required": ["eligible", "status", "reasons"],
    "properties": {
        "identifier": {"type": "string"},
        "eligible": {"type": "boolean"},
        "status": {"type": "string", "enum": ["not_started", "in_training", "eligible",
                                                "probation", "expired",
                                                "policy_update_required", "suspended"]},
        "reasons": {"type": "array", "items": {"type": "string"}},
    },
})


@bp.get("/posting-rights/<path:identifier>")
@openapi.operation(
    "/posting-rights/{identifier}", "get",
    summary="May this employee post as a brand advocate right now?",
    parameters=[{"name": "identifier", "in": "path", "required": True,
                 "description": "The employee's e-mail address or external id.",
                 "schema": {"type": "string"}}],
    responses={
        "200": {"description": "The employee's posting rights",
                "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/PostingRights"}}}},
        "404": {"$ref": "#/components/responses/Error"},
    },
)
@api_key_required(Scope.RIGHTS_READ)
def posting_rights(identifier: str):
    user = services.find_employee(g.api_org_id, identifier)
    if user is None:
        raise ApiError(404, "not_found", "No employee with this e-mail or external id.",
                       field="identifier")
    return jsonify({"identifier": identifier, **services.posting_rights_for(user).as_json()})


def init_app(app) -> None:
    register_api_blueprint(app, bp)
