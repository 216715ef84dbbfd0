"""Talking to a platform over HTTP: its JWKS, its token endpoint, AGS scores and NRPS rosters.

Standard library only (urllib), with timeouts; every failure becomes a ``PlatformError``
whose message says which URL answered what.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT_SECONDS = 10
MAX_BODY = 5 * 1024 * 1024


class PlatformError(Exception):
    """The platform could not be reached or answered with an error."""


def _request(url: str, **kwargs) -> urllib.request.Request:
    """Only http(s): a registration can never make us read ``file:`` or other schemes."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise PlatformError(f"{url} is not an http(s) URL")
    return urllib.request.Request(url, **kwargs)  # noqa: S310 - scheme checked above


def _send(request: urllib.request.Request) -> tuple[bytes, dict]:
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - scheme checked above
            return response.read(MAX_BODY), dict(response.headers.items())
    except urllib.error.HTTPError as exc:
        body = exc.read(500).decode(errors="replace")
        exc.close()
        raise PlatformError(f"{request.get_method()} {request.full_url} answered "
                            f"{exc.code}: {body}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise PlatformError(f"{request.get_method()} {request.full_url} failed: {exc}") from exc


def _json(body: bytes, url: str):
    try:
        return json.loads(body)
    except ValueError as exc:
        raise PlatformError(f"{url} did not answer JSON") from exc


def get_json(url: str, *, token: str | None = None, accept: str = "application/json",
             ) -> dict:
    headers = {"Accept": accept}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body, _ = _send(_request(url, headers=headers))
    return _json(body, url)


def get_json_pages(url: str, *, token: str, accept: str) -> list[dict]:
    """Follow ``Link: <...>; rel="next"`` headers (NRPS pages its rosters)."""
    pages, seen = [], set()
    while url and url not in seen and len(pages) < 100:
        seen.add(url)
        body, headers = _send(_request(
            url, headers={"Accept": accept, "Authorization": f"Bearer {token}"}))
        pages.append(_json(body, url))
        link = next((v for k, v in headers.items() if k.lower() == "link"), "")
        found = re.search(r'<([^>]+)>\s*;\s*rel="?next"?', link)
        url = found.group(1) if found else None
    return pages


def post_form(url: str, fields: dict) -> dict:
    data = urllib.parse.urlencode(fields).encode()
    body, _ = _send(_request(
        url, data=data, method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded",
                 "Accept": "application/json"}))
    return _json(body, url)


def post_json(url: str, payload: dict, *, token: str, content_type: str) -> None:
    _send(_request(
        url, data=json.dumps(payload).encode(), method="POST",
        headers={"Content-Type": content_type, "Authorization": f"Bearer {token}"}))
