"""The one place that renders a certificate PDF (WeasyPrint), safely and in a warm process.

Safety: the URL fetcher loads only this package's static files and ``data:`` URLs that we
build ourselves (the QR code, the organisation's validated logo). No network, no file
outside ``static/``, no redirect. Every text field is escaped and length-limited.
Speed: the font configuration, stylesheet and template are built once per process.
"""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

import jinja2
import segno
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

STATIC = (Path(__file__).parent / "static").resolve()
PAGE_SIZES = {"A4": "A4 landscape", "Letter": "letter landscape"}
HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
LIMITS = {"holder_name": 120, "course_title": 160, "organization_name": 120}
DEFAULT_COLORS = {"primary": "#1a3d7c", "accent": "#c8a23c"}


class UnsafeResource(ValueError):
    pass


class StaticOnlyFetcher(URLFetcher):
    """Serves ``data:`` URLs and files inside ``certificates/static``; refuses the rest."""

    def __init__(self):
        super().__init__(allowed_protocols={"file", "data"}, allow_redirects=False, timeout=1)

    def fetch(self, url, headers=None):
        if url.startswith("data:"):
            return super().fetch(url, headers)
        if url.startswith("file://"):
            path = Path(url[len("file://") :].split("?")[0]).resolve()
            if path.is_relative_to(STATIC) and path.is_file():
                return super().fetch(path.as_uri(), headers)
        raise UnsafeResource(f"certificate rendering refused to load {url[:80]!r}")


@dataclass(frozen=True)
class CertificateContent:
    holder_name: str
    course_title: str
    organization_name: str
    issued_at: datetime
    expires_at: datetime | None
    code_display: str
    verify_url: str
    page_size: str = "A4"
    primary_color: str = DEFAULT_COLORS["primary"]
    accent_color: str = DEFAULT_COLORS["accent"]
    logo_data_uri: str | None = None


def clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@cache
def _fetcher() -> StaticOnlyFetcher:
    return StaticOnlyFetcher()


@cache
def _font_config() -> FontConfiguration:
    return FontConfiguration()


@cache
def _user_agent_stylesheet() -> CSS:
    return CSS(filename=str(STATIC / "certificate-ua.css"), font_config=_font_config(),
               url_fetcher=_fetcher())


class _CertificateHTML(HTML):
    """WeasyPrint's HTML with a user-agent sheet cut down to the certificate's few elements.

    The full HTML5 sheet's hundreds of selectors are matched against every element of every
    certificate; the template uses eight element types, so a dozen rules are enough.
    (``_ua_stylesheets`` is WeasyPrint's hook for this; re-check it when upgrading.)
    """

    def _ua_stylesheets(self, forms: bool = False) -> list[CSS]:
        return [_user_agent_stylesheet()]


@cache
def _stylesheet() -> CSS:
    return CSS(filename=str(STATIC / "certificate.css"), font_config=_font_config(),
               url_fetcher=_fetcher())


@cache
def _page_css(size: str) -> CSS:
    return CSS(string=f"@page {{ size: {PAGE_SIZES[size]}; margin: 0 }}",
               font_config=_font_config())


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "pdf_templates")),
        autoescape=True,
    )
    return env.get_template("certificate.html")


def qr_png_data_uri(url: str) -> str:
    """The QR code as a one-pixel-per-module PNG (a few hundred bytes), scaled up crisply.

    A bitmap is far cheaper for WeasyPrint than an SVG path of hundreds of squares, and
    ``image-rendering: pixelated`` keeps the modules sharp at any zoom.
    """
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="png", scale=1, border=0)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def _size_class(text: str, long: int, very_long: int | None = None) -> str:
    if very_long is not None and len(text) > very_long:
        return "very-long"
    return "long" if len(text) > long else ""


def render_html(content: CertificateContent) -> str:
    holder_name = clip(content.holder_name, LIMITS["holder_name"])
    course_title = clip(content.course_title, LIMITS["course_title"])
    return _template().render(
        holder_name=holder_name,
        name_size=_size_class(holder_name, 34, 70),
        course_title=course_title,
        course_size=_size_class(course_title, 70),
        organization_name=clip(content.organization_name, LIMITS["organization_name"]),
        issued=content.issued_at.strftime("%d %B %Y"),
        expires=content.expires_at.strftime("%d %B %Y") if content.expires_at else None,
        code=content.code_display,
        verify_url=content.verify_url,
        qr=qr_png_data_uri(content.verify_url),
        primary=content.primary_color if HEX_COLOR.match(content.primary_color) else
        DEFAULT_COLORS["primary"],
        accent=content.accent_color if HEX_COLOR.match(content.accent_color) else
        DEFAULT_COLORS["accent"],
        logo=content.logo_data_uri if (content.logo_data_uri or "").startswith(
            ("data:image/png;base64,", "data:image/jpeg;base64,")) else None,
    )


def render_pdf(content: CertificateContent) -> bytes:
    size = content.page_size if content.page_size in PAGE_SIZES else "A4"
    html = _CertificateHTML(string=render_html(content), base_url=STATIC.as_uri() + "/",
                            url_fetcher=_fetcher())
    return html.write_pdf(stylesheets=[_stylesheet(), _page_css(size)],
                          font_config=_font_config(), pdf_tags=True)
