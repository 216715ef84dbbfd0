"""The URL fetcher for HR's PDFs: reports are self-contained, so nothing is ever loaded."""

from __future__ import annotations

from weasyprint.urls import URLFetcher


class ExternalResourceRefused(ValueError):
    pass


class NothingExternal(URLFetcher):
    """Refuses every URL: a name like <img src=http://...> in a report cannot reach out."""

    def __init__(self):
        super().__init__(allowed_protocols=set(), allow_redirects=False, timeout=1)

    def fetch(self, url, headers=None):
        raise ExternalResourceRefused(f"HR reports load nothing external (asked for {url[:80]!r})")
