"""An LTI 1.3 platform for tests: real RSA keys, a real HTTP server on 127.0.0.1, signed id_tokens.

It serves its JWKS, an OAuth2 token endpoint that checks our signed client assertion, AGS
line item score endpoints and an NRPS memberships endpoint, and records everything we send.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
CLIENT_ID = "ctp-client-1"
DEPLOYMENT_ID = "deployment-1"


def new_rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_jwk(private_key, kid: str) -> dict:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private_key.public_key()))
    return jwk | {"kid": kid, "alg": "RS256", "use": "sig"}


class Platform:
    def __init__(self, tool_jwks=None):
        self.key = new_rsa_key()
        self.kid = "platform-key-1"
        self.extra_keys: dict[str, object] = {}  # published later (rotation at the platform)
        self.tool_jwks = tool_jwks  # callable returning our tool's JWKS, to check assertions
        self.jwks_requests = 0
        self.token_requests: list[dict] = []
        self.scores: list[dict] = []
        self.score_failures = 0  # answer 503 to this many score posts first
        self.members: list[dict] = []
        self.members_page_size = 2
        self.membership_requests: list[dict] = []
        self.auth_requests: list[dict] = []
        self.issued_tokens: set[str] = set()
        self.tool_login_url = "http://localhost/lti/login"  # where the course page's iframe starts
        self.tool_launch_url = "http://localhost/lti/launch"
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.base = f"http://127.0.0.1:{self._server.server_port}"
        self.issuer = self.base  # a platform's issuer is usually its own URL
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> Platform:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    # -- values a registration needs ------------------------------------------------------------
    @property
    def auth_login_url(self) -> str:
        return self.base + "/auth"

    @property
    def token_url(self) -> str:
        return self.base + "/token"

    @property
    def jwks_url(self) -> str:
        return self.base + "/jwks"

    def lineitem_url(self, n: int = 1) -> str:
        return f"{self.base}/courses/7/lineitems/{n}/lineitem?type=quiz"

    @property
    def memberships_url(self) -> str:
        return self.base + "/courses/7/memberships"

    # -- id_tokens ---------------------------------------------------------------------------
    def claims(self, nonce: str, **overrides) -> dict:
        now = int(time.time())
        claims = {
            "iss": self.issuer, "aud": CLIENT_ID, "azp": CLIENT_ID,
            "sub": "lms-user-42", "iat": now, "exp": now + 300, "nonce": nonce,
            "name": "Ngozi Adeyemi", "given_name": "Ngozi", "family_name": "Adeyemi",
            "email": "ngozi@acme.test",
            LTI + "message_type": "LtiResourceLinkRequest",
            LTI + "version": "1.3.0",
            LTI + "deployment_id": DEPLOYMENT_ID,
            LTI + "target_link_uri": "http://localhost/lti/launch",
            LTI + "resource_link": {"id": "resource-link-1", "title": "Social media training"},
            LTI + "roles": ["http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"],
            LTI + "context": {"id": "course-7", "title": "Onboarding 2026", "label": "ONB"},
            LTI + "custom": {"course": "onboarding"},
            "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint": {
                "scope": ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
                          "https://purl.imsglobal.org/spec/lti-ags/scope/score"],
                "lineitems": self.base + "/courses/7/lineitems",
                "lineitem": self.lineitem_url(1),
            },
            "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
                "context_memberships_url": self.memberships_url,
                "service_versions": ["2.0"],
            },
        }
        for key, value in overrides.items():
            if value is None:
                claims.pop(key, None)
            else:
                claims[key] = value
        return claims

    def id_token(self, nonce: str, *, key=None, kid: str | None = None, alg: str = "RS256",
                 **overrides) -> str:
        return jwt.encode(self.claims(nonce, **overrides), key or self.key, algorithm=alg,
                          headers={"kid": kid or self.kid})

    # -- the HTTP side ------------------------------------------------------------------------
    def _wsgi(self, environ, start_response):
        request = Request(environ)
        response = self._route(request)
        return response(environ, start_response)

    def _json(self, body, status=200, headers=None):
        return Response(json.dumps(body), status=status, headers=headers,
                        content_type="application/json")

    def _route(self, request: Request) -> Response:
        path = request.path
        if path == "/jwks":
            self.jwks_requests += 1
            keys = [public_jwk(self.key, self.kid)]
            keys += [public_jwk(k, kid) for kid, k in self.extra_keys.items()]
            return self._json({"keys": keys})
        if path == "/token" and request.method == "POST":
            form = request.form.to_dict()
            record = {"form": form, "claims": None, "error": None}
            self.token_requests.append(record)
            try:
                header = jwt.get_unverified_header(form["client_assertion"])
                jwks = self.tool_jwks()
                jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
                record["claims"] = jwt.decode(
                    form["client_assertion"], jwt.PyJWK(jwk).key, algorithms=["RS256"],
                    audience=self.token_url, issuer=CLIENT_ID)
            except Exception as exc:  # noqa: BLE001 - any failure is the client's fault
                record["error"] = repr(exc)
                return self._json({"error": "invalid_client"}, 401)
            token = "token-" + secrets.token_hex(4)
            self.issued_tokens.add(token)
            return self._json({"access_token": token,
                               "token_type": "Bearer", "expires_in": 3600,
                               "scope": form.get("scope", "")})
        if path.endswith("/scores") or path.endswith("/memberships"):
            bearer = (request.headers.get("Authorization") or "").removeprefix("Bearer ")
            if bearer not in self.issued_tokens:
                return self._json({"error": "invalid_token"}, 401)
        if path.endswith("/scores") and request.method == "POST":
            if self.score_failures > 0:
                self.score_failures -= 1
                return self._json({"error": "try later"}, 503)
            self.scores.append({"path": path, "query": request.query_string.decode(),
                                "content_type": request.content_type,
                                "authorization": request.headers.get("Authorization"),
                                "body": json.loads(request.get_data())})
            return Response(status=204)
        if path == "/course":
            # The LMS course page: our tool in an iframe, started by an OIDC login.
            from urllib.parse import urlencode

            query = urlencode({"iss": self.issuer, "login_hint": "lms-user-42",
                               "client_id": CLIENT_ID, "lti_deployment_id": DEPLOYMENT_ID,
                               "target_link_uri": self.tool_launch_url})
            return Response(
                "<!doctype html><html lang='en'><head><title>LMS course</title></head><body>"
                "<h1>Onboarding 2026</h1><iframe id='tool' title='Cleared to Post' "
                f"style='width:1000px;height:700px' src='{self.tool_login_url}?{query}'>"
                "</iframe></body></html>", content_type="text/html")
        if path == "/auth":
            # The platform's OIDC authorisation: checks what we sent, answers with a form
            # that POSTs the signed id_token back to our redirect_uri (in the iframe).
            import html as html_lib

            sent = request.args
            self.auth_requests.append(sent.to_dict())
            if sent.get("client_id") != CLIENT_ID or sent.get("response_mode") != "form_post":
                return self._json({"error": "invalid_request"}, 400)
            token = self.id_token(sent["nonce"])
            action = html_lib.escape(sent["redirect_uri"])
            return Response(
                "<!doctype html><html lang='en'><head><title>Launching</title></head><body>"
                f"<form id='f' method='post' action='{action}'>"
                f"<input type='hidden' name='id_token' value='{token}'>"
                f"<input type='hidden' name='state' value='{html_lib.escape(sent['state'])}'>"
                "</form><script>document.getElementById('f').submit()</script></body></html>",
                content_type="text/html")
        if path == "/courses/7/memberships":
            self.membership_requests.append({
                "authorization": request.headers.get("Authorization"),
                "accept": request.headers.get("Accept")})
            page = int(parse_qs(urlsplit(request.url).query).get("page", ["1"])[0])
            size = self.members_page_size
            chunk = self.members[(page - 1) * size: page * size]
            headers = {}
            if page * size < len(self.members):
                headers["Link"] = f'<{self.memberships_url}?page={page + 1}>; rel="next"'
            return self._json({"id": self.memberships_url,
                               "context": {"id": "course-7", "title": "Onboarding 2026"},
                               "members": chunk}, headers=headers)
        return self._json({"error": "not found"}, 404)


# -- fixtures and steps shared by the LTI tests (imported by name into each test module) ------

import pytest  # noqa: E402


@pytest.fixture(name="platform")
def platform_fixture(app):
    def tool_jwks():
        with app.app_context():
            from lms_plugin.core.extensions import db
            from lms_plugin.lti import keys

            body = keys.jwks()
            db.session.commit()
            return body

    from lms_plugin.lti import services

    services._tokens.clear()  # tokens from another test's platform mean nothing here
    running = Platform(tool_jwks=tool_jwks).start()
    yield running
    running.stop()


@pytest.fixture(name="acme")
def acme_fixture(make, platform):
    """Acme with the onboarding course and the in-test platform registered."""
    org = make.org("acme", "Acme Ltd")
    course = make.course(org)
    make.lti_platform(org, platform)
    return org, course


def start_login(client, platform, **params):
    query = {"iss": platform.issuer, "login_hint": "lms-user-42", "client_id": CLIENT_ID,
             "target_link_uri": "http://localhost/lti/launch", "lti_message_hint": "hint-1"}
    query.update(params)
    response = client.get("/lti/login", query_string=query)
    assert response.status_code == 302, response.text
    sent = parse_qs(urlsplit(response.headers["Location"]).query)
    return sent["state"][0], sent["nonce"][0]


def launch(client, platform, *, token_options=None, **claims):
    """OIDC login, then the platform POSTs a signed id_token back to us."""
    state, nonce = start_login(client, platform)
    token = platform.id_token(nonce, **(token_options or {}), **claims)
    return client.post("/lti/launch", data={"id_token": token, "state": state})
