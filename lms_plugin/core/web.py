"""The browser frame: layout, health checks, navigation and friendly error pages."""

from __future__ import annotations

from flask import Blueprint, Flask, jsonify, render_template
from flask_bootstrap import Bootstrap5
from flask_wtf.csrf import CSRFError
from sqlalchemy import text

from .extensions import db

bp = Blueprint("core", __name__, template_folder="templates", static_folder="static",
               static_url_path="/core-static")
bootstrap = Bootstrap5()

# Features add their entries in their own init_app: (endpoint, label, roles or None for all,
# group or None). Grouped entries share one menu, so the bar stays one line for admins too.
NAV_ITEMS: list[tuple[str, str, tuple[str, ...] | None, str | None]] = []
NAV_GROUP_ORDER = ("Authoring", "HR", "Admin")


def add_nav_item(endpoint: str, label: str, roles: tuple[str, ...] | None = None,
                 group: str | None = None) -> None:
    if all(item[0] != endpoint for item in NAV_ITEMS):
        NAV_ITEMS.append((endpoint, label, roles, group))


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any database failure means not ready
        db.session.rollback()
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok", database="ok")


def init_app(app: Flask) -> None:
    app.config.setdefault("BOOTSTRAP_SERVE_LOCAL", True)
    bootstrap.init_app(app)
    app.register_blueprint(bp)

    @app.context_processor
    def _navigation():
        from flask_login import current_user

        items = []
        if current_user.is_authenticated:
            for endpoint, label, roles, group in NAV_ITEMS:
                if (roles is None or current_user.has_role(*roles)) and group is None:
                    items.append((endpoint, label))
        groups: dict[str, list[tuple[str, str]]] = {}
        if current_user.is_authenticated:
            for name in NAV_GROUP_ORDER + tuple(
                    sorted({g for *_, g in NAV_ITEMS if g and g not in NAV_GROUP_ORDER})):
                entries = [(endpoint, label) for endpoint, label, roles, group in NAV_ITEMS
                           if group == name
                           and (roles is None or current_user.has_role(*roles))]
                if entries:
                    groups[name] = entries
        return {"nav_items": items, "nav_groups": groups}

    @app.errorhandler(CSRFError)
    def _csrf_error(error: CSRFError):
        return render_template("core/csrf.html", reason=error.description), 400
