"""Accounts: creating organisations and users, signing in, and the role check decorator."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import wraps
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length, Regexp

from .extensions import db, login_manager
from .models import Organization, Role, User

bp = Blueprint("accounts", __name__, template_folder="templates")

# Shape only: sign-in looks the address up, so deliverability checks add nothing here.
EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")


class AccountError(ValueError):
    """A request to create or change an account that cannot be honoured, with the reason."""


def normalize_email(email: str) -> str:
    return email.strip().lower()


def create_organization(slug: str, name: str) -> Organization:
    slug = slug.strip().lower()
    if not SLUG_RE.match(slug):
        raise AccountError(
            f"organisation slug {slug!r} is invalid: use lowercase letters, digits and hyphens"
        )
    if not name.strip():
        raise AccountError("organisation name is empty: give the name people know it by")
    if db.session.execute(select(Organization).filter_by(slug=slug)).scalar_one_or_none():
        raise AccountError(f"organisation {slug!r} already exists")
    org = Organization(slug=slug, name=name.strip(), settings={})
    db.session.add(org)
    db.session.flush()
    return org


def find_user(organization_id: int, email: str) -> User | None:
    return db.session.execute(
        select(User).where(
            User.organization_id == organization_id, User.email == normalize_email(email)
        )
    ).scalar_one_or_none()


def create_user(
    org: Organization,
    email: str,
    name: str,
    *,
    password: str | None = None,
    roles: tuple[Role | str, ...] = (Role.LEARNER,),
    external_id: str | None = None,
) -> User:
    email = normalize_email(email)
    if not EMAIL_SHAPE.match(email) or len(email) > 254:
        raise AccountError(f"e-mail {email!r} is not an address: give name@example.com")
    if not name.strip():
        raise AccountError("name is empty: give the person's full name")
    if password is not None and len(password) < 8:
        raise AccountError("password is too short: use at least 8 characters")
    for role in roles:
        if role not in set(Role):
            raise AccountError(f"role {role!r} is unknown: choose from {', '.join(Role)}")
    if find_user(org.id, email):
        raise AccountError(f"{email} already has an account in {org.slug}")
    user = User(organization_id=org.id, email=email, name=name.strip(), external_id=external_id)
    if password is not None:
        user.set_password(password)
    for role in roles:
        user.grant(role)
    db.session.add(user)
    db.session.flush()
    return user


def authenticate(email: str, password: str) -> User | None:
    """The active user with this e-mail and password, whichever organisation holds it."""
    candidates = db.session.execute(
        select(User).where(func.lower(User.email) == normalize_email(email), User.active)
    ).scalars()
    matches = [user for user in candidates if user.check_password(password)]
    return matches[0] if len(matches) == 1 else None


def role_required(*roles: Role | str) -> Callable:
    """Sign-in required, and one of ``roles`` (admins pass every check)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.active else None


class LoginForm(FlaskForm):
    email = EmailField(
        "E-mail", validators=[
            DataRequired("Enter your e-mail address."),
            Length(max=254),
            Regexp(EMAIL_SHAPE, message="Enter an e-mail address like name@example.com."),
        ],
    )
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home"))
    form = LoginForm()
    status = 200
    if request.method == "POST":
        if form.validate_on_submit():
            user = authenticate(form.email.data, form.password.data)
            if user is not None:
                login_user(user)
                return redirect(_safe_next(request.args.get("next")) or url_for("home"))
            form.password.errors.append(
                "That e-mail and password do not match an active account. Check both and try again."
            )
        status = 400 if form.errors else 200
    return render_template("core/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("accounts.login"))


def init_app(app) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "accounts.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
    app.register_blueprint(bp)
