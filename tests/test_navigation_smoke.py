"""Every page a demo user can reach by following links answers without a server error."""

from __future__ import annotations

import re
from collections import deque
from urllib.parse import urldefrag, urlsplit

import pytest

from lms_plugin.cli import seed_demo

LINK = re.compile(r'href="([^"]+)"')
PAGE_LIMIT = 150


def crawl(client, start: str = "/") -> dict[str, int]:
    """Follow same-site links breadth first; returns the status of every page visited."""
    seen: dict[str, int] = {}
    queue = deque([start])
    while queue and len(seen) < PAGE_LIMIT:
        url = queue.popleft()
        if url in seen:
            continue
        response = client.get(url)
        seen[url] = response.status_code
        body = response.get_data(as_text=True) if response.mimetype == "text/html" else ""
        response.close()
        for href in LINK.findall(body):
            href = urldefrag(href.replace("&amp;", "&"))[0]
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or not href.startswith("/"):
                continue
            if href.startswith(("/bootstrap/", "/core-static/", "/static/")) or href in seen:
                continue
            queue.append(href)
    return seen


@pytest.mark.parametrize("email", ["learner@demo.test", "trainer@demo.test", "hr@demo.test",
                                   "admin@demo.test"])
def test_no_page_reachable_from_the_navigation_is_a_server_error(app, client, auth, email):
    with app.app_context():
        seed_demo()
    assert auth.login(email, "demo-password").status_code == 302
    visited = crawl(client)
    errors = {url: status for url, status in visited.items() if status >= 500}
    assert errors == {}
    assert len(visited) > 5  # the crawl really went somewhere
