"""Sign-in: hashed passwords, CSRF on every form, clear messages, safe redirects."""

from __future__ import annotations

from sqlalchemy import select

from lms_plugin.core import accounts
from lms_plugin.core.extensions import db
from lms_plugin.core.models import User

from .conftest import csrf_from


def test_login_with_the_right_password_signs_in(client, auth, make):
    org = make.org()
    make.user(org, "sam@example.test", name="Sam Example")
    response = auth.login("sam@example.test")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Sam Example" in client.get("/learn/").text


def test_passwords_are_stored_hashed(app, make):
    org = make.org()
    make.user(org, "sam@example.test", password="correct-horse-battery")
    with app.app_context():
        user = db.session.execute(select(User)).scalar_one()
        assert "correct-horse-battery" not in user.password_hash
        assert user.check_password("correct-horse-battery")
        assert not user.check_password("wrong")


def test_wrong_password_says_so_and_does_not_sign_in(client, auth, make):
    org = make.org()
    make.user(org, "sam@example.test")
    response = auth.login("sam@example.test", "not-the-password")
    assert response.status_code == 400
    assert "do not match an active account" in response.text
    assert client.get("/learn/").status_code == 302  # still signed out


def test_malformed_email_is_named_as_the_problem(client):
    page = client.get("/login")
    response = client.post("/login", data={"email": "not-an-address", "password": "x",
                                           "csrf_token": csrf_from(page.text)})
    assert response.status_code == 400
    assert "Enter an e-mail address like name@example.com." in response.text


def test_deactivated_account_cannot_sign_in(client, auth, make):
    org = make.org()
    make.user(org, "gone@example.test", active=False)
    assert auth.login("gone@example.test").status_code == 400


def test_form_without_csrf_token_is_refused_and_changes_nothing(client, make):
    org = make.org()
    make.user(org, "sam@example.test")
    response = client.post("/login", data={"email": "sam@example.test",
                                           "password": "correct-horse-battery"})
    assert response.status_code == 400
    assert "security token" in response.text
    assert client.get("/learn/").status_code == 302


def test_logout_needs_a_post_with_csrf(client, auth, make):
    org = make.org()
    make.user(org, "sam@example.test")
    auth.login("sam@example.test")
    assert client.post("/logout").status_code == 400  # no token: refused
    assert client.get("/learn/").status_code == 200
    auth.logout()
    assert client.get("/learn/").status_code == 302


def test_login_redirects_only_to_local_pages(client, make):
    org = make.org()
    make.user(org, "sam@example.test")
    page = client.get("/login")
    response = client.post("/login?next=https://evil.example/steal",
                           data={"email": "sam@example.test", "password": "correct-horse-battery",
                                 "csrf_token": csrf_from(page.text)})
    assert response.headers["Location"] == "/"


def test_same_email_in_two_organisations_signs_into_the_one_whose_password_matches(
        client, auth, make):
    first, second = make.org(name="First Co"), make.org(name="Second Co")
    make.user(first, "pat@example.test", password="first-password-1")
    make.user(second, "pat@example.test", password="second-password-2")
    auth.login("pat@example.test", "second-password-2")
    assert "Second Co" in client.get("/learn/").text


def test_account_creation_explains_bad_input(app, make):
    import pytest

    org = make.org()
    with app.app_context():
        with pytest.raises(accounts.AccountError, match="is not an address"):
            accounts.create_user(org, "nope", "Name")
        with pytest.raises(accounts.AccountError, match="at least 8 characters"):
            accounts.create_user(org, "a@b.test", "Name", password="short")
        with pytest.raises(accounts.AccountError, match="role 'boss' is unknown"):
            accounts.create_user(org, "a@b.test", "Name", roles=("boss",))
        with pytest.raises(accounts.AccountError, match="slug"):
            accounts.create_organization("Not A Slug!", "Name")
