"""The roster API: HR systems upsert employees with the same checks as the CSV import."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

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

from . import roster, rules

bp = Blueprint("hr_api", __name__, url_prefix=API_PREFIX)
MAX_API_ROWS = 10_000

openapi.schema("Employee", {
    "type": "object",
    "required": ["email", "name"],
    "properties": {
        "email": {"type": "string", "format": "email", "maxLength": 254},
        "name": {"type": "string", "maxLength": 200},
        "department": {"type": "string", "maxLength": 120},
        "manager_email": {"type": "string", "format": "email"},
        "location": {"type": "string", "maxLength": 120},
        "hire_date": {"type": "string", "format": "date"},
        "external_id": {"type": "string", "maxLength": 200},
    },
})
openapi.schema("RosterRequest", {
    "type": "object",
    "required": ["employees"],
    "properties": {
        "employees": {"type": "array", "maxItems": MAX_API_ROWS,
                      "items": {"$ref": "#/components/schemas/Employee"}},
        "deactivate_missing": {"type": "boolean", "default": False,
                               "description": "The list is the complete roster: deactivate "
                                              "employees not in it (records are kept)."},
        "dry_run": {"type": "boolean", "default": False,
                    "description": "Only check and say what would change."},
    },
})
openapi.schema("RosterResult", {
    "type": "object",
    "properties": {
        "dry_run": {"type": "boolean"},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "enrolled": {"type": "integer"},
        "errors": {"type": "array", "items": {
            "type": "object", "properties": {"row": {"type": "integer"},
                                             "field": {"type": "string"},
                                             "message": {"type": "string"}}}},
    },
})


@bp.post("/roster")
@openapi.operation(
    "/roster", "post",
    summary="Create, update or deactivate employees (idempotent upsert)",
    description="Matches by external id, then by e-mail. Every row is checked first; if any "
                "has a problem nothing is written and the answer lists each one by row (the "
                "index in `employees`, from 0) and field.",
    requestBody={"required": True, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/RosterRequest"}}}},
    responses={
        "200": {"description": "Applied (or checked, with dry_run)", "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/RosterResult"}}}},
        "400": {"$ref": "#/components/responses/Error"},
        "403": {"$ref": "#/components/responses/Error"},
        "422": {"description": "Row problems; nothing was written", "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/RosterResult"}}}},
    },
)
@api_key_required(Scope.ROSTER_WRITE)
def upsert_roster():
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_json", "Send a JSON object: {\"employees\": [...]}.")
    employees = body.get("employees")
    if not isinstance(employees, list):
        raise ApiError(400, "invalid_field", "'employees' must be a list of employee objects.",
                       field="employees")
    if len(employees) > MAX_API_ROWS:
        raise ApiError(400, "too_many", f"At most {MAX_API_ROWS} employees per request: send "
                       "several requests (without deactivate_missing).", field="employees")
    flags = {}
    for flag in ("deactivate_missing", "dry_run"):
        value = body.get(flag, False)
        if not isinstance(value, bool):
            raise ApiError(400, "invalid_field", f"'{flag}' must be true or false.", field=flag)
        flags[flag] = value
    org = db.session.get(Organization, g.api_org_id)
    plan = roster.plan(org.id, employees, first_row=0,
                       deactivate_missing=flags["deactivate_missing"])
    if not plan.ok:
        return jsonify({"dry_run": flags["dry_run"], "counts": plan.counts(),
                        "errors": [e.as_json() for e in plan.errors]}), 422
    if flags["dry_run"]:
        return jsonify({"dry_run": True, "counts": plan.counts(), "errors": []})
    result = roster.apply(org, employees, first_row=0,
                          deactivate_missing=flags["deactivate_missing"], source="api")
    enrolled = rules.apply_rules(org.id, result.user_ids)
    db.session.commit()
    return jsonify({"dry_run": False, "counts": result.counts, "enrolled": len(enrolled),
                    "errors": []})


def init_app(app) -> None:
    register_api_blueprint(app, bp)
