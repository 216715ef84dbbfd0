"""The one query helper that scopes every read of customer data by organisation."""

from __future__ import annotations

from typing import TypeVar

from flask import abort
from flask_login import current_user
from sqlalchemy import Select, select

from .extensions import db

M = TypeVar("M")


def current_organization_id() -> int:
    if not current_user.is_authenticated:
        abort(401)
    return current_user.organization_id


def scoped(model: type[M], organization_id: int | None = None) -> Select:
    """``select(model)`` limited to one organisation (the signed-in user's by default)."""
    org_id = organization_id if organization_id is not None else current_organization_id()
    return select(model).where(model.organization_id == org_id)


def get_scoped_or_404(model: type[M], ident, organization_id: int | None = None) -> M:
    """Fetch by primary key within the organisation; another tenant's row is simply not found."""
    try:
        key = int(ident)
    except (TypeError, ValueError):
        abort(404)
    row = db.session.execute(
        scoped(model, organization_id).where(model.id == key)
    ).scalar_one_or_none()
    if row is None:
        abort(404)
    return row
