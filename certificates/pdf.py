"""The one place that renders a certificate PDF (WeasyPrint), safely and in a warm process.

Safety: the URL fetcher loads only this package's static files and ``data:`` URLs that we
build ourselves (the QR code, the organisation's validated logo). No network, no file
outside ``static/``, no redirect. Every text field is escaped and length-limited.
Speed: the font configuration, stylesheet and template are built once per process.
"""

from __future__ import annotations

import base64
import re
import struct
import zlib
from dataclasses import dataclass
from datetime import datetime
from functools import cache, lru_cache
from pathlib import Path
from xml.etree import ElementTree

import cssselect2
import jinja2
import segno
from weasyprint import CSS, HTML
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

STATIC = (Path(__file__).parent / "static").resolve()
BASE_URL = STATIC.as_uri() + "/"
PAGE_SIZES = {"A4": "A4 landscape", "Letter": "letter landscape"}
HEX_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
LIMITS = {"holder_name": 120, "course_title": 160, "organization_name": 120}
QR_MASK = 2
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


# Control characters (and U+FFFE/U+FFFF) have no place on a certificate, and XML forbids them.
CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def clip(text: str, limit: int) -> str:
    text = " ".join(CONTROL_CHARACTERS.sub("", str(text)).split())
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
    """WeasyPrint's HTML with a user-agent sheet cut down to the certificate's few elements,
    parsed by the XML parser when it can.

    The full HTML5 sheet's hundreds of selectors are matched against every element of every
    certificate; the template uses eight element types, so a dozen rules are enough.
    (``_ua_stylesheets`` is WeasyPrint's hook for this; re-check it when upgrading.)
    The template is well-formed XHTML and every value in it is escaped, so the standard
    library's C XML parser builds the same tree as WeasyPrint's pure-Python HTML5 parser in
    a tenth of the time (~1.5 ms a render). Anything it refuses goes through the HTML5
    parser as usual. (The attributes set here are the ones ``HTML.__init__`` sets.)
    """

    def __init__(self, xhtml: str, url_fetcher: URLFetcher):
        try:
            # Not untrusted XML: our template, every value escaped by Jinja, so no DTD or
            # entity can be smuggled in (the rule is about entity-expansion attacks).
            root = ElementTree.fromstring(xhtml)  # noqa: S314
        except ElementTree.ParseError:
            super().__init__(string=xhtml, base_url=BASE_URL, url_fetcher=url_fetcher)
            return
        self.base_url = BASE_URL
        self.url_fetcher = url_fetcher
        self.media_type = "print"
        self.wrapper_element = cssselect2.ElementWrapper.from_html_root(root, content_language=None)
        self.etree_element = self.wrapper_element.etree_element

    def _ua_stylesheets(self, forms: bool = False) -> list[CSS]:
        return [_user_agent_stylesheet()]


@cache
def _stylesheet_source() -> str:
    return (STATIC / "certificate.css").read_text(encoding="utf-8")


@lru_cache(maxsize=64)
def _stylesheet(size: str, primary: str, accent: str) -> CSS:
    """The page's stylesheet with the organisation's colours written in, parsed once per design.

    Literal colours instead of CSS custom properties: WeasyPrint re-parses a ``var()``
    declaration for every element that uses it, on every render.
    """
    source = (_stylesheet_source().replace("var(--primary)", primary)
              .replace("var(--accent)", accent))
    return CSS(string=f"@page {{ size: {PAGE_SIZES[size]} }}\n{source}",
               base_url=BASE_URL, font_config=_font_config(),
               url_fetcher=_fetcher())


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(Path(__file__).parent / "pdf_templates")),
        autoescape=True,
    )
    return env.get_template("certificate.html")


def qr_png_data_uri(url: str) -> str:
    """The QR code as a one-pixel-per-module greyscale PNG (a few hundred bytes), scaled up crisply.

    A bitmap is far cheaper for WeasyPrint than an SVG path of hundreds of squares, and
    ``image-rendering: pixelated`` keeps the modules sharp at any zoom. 8-bit greyscale
    because WeasyPrint embeds such a PNG as it is, where segno's 1-bit PNG is converted to
    RGB and re-encoded on every render. The mask is fixed: segno's choice among the eight
    masks scores each one and cost ~4 ms of a ~40 ms render; every mask gives a valid code,
    and mask 2 is the one segno itself picks most often for our verification URLs (80 of 200
    sampled); tests decode it with a real decoder for many codes.
    """
    matrix = segno.make(url, error="m", mask=QR_MASK).matrix
    return "data:image/png;base64," + base64.b64encode(_greyscale_png(matrix)).decode("ascii")


def _greyscale_png(matrix: tuple[bytearray, ...]) -> bytes:
    """A minimal 8-bit greyscale PNG of a module matrix (dark modules black, no filtering)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    width, height = len(matrix[0]), len(matrix)
    rows = b"".join(b"\0" + bytes(0 if dark else 255 for dark in row) for row in matrix)
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows, 9))
            + chunk(b"IEND", b""))


def _size_class(text: str, long: int, very_long: int | None = None) -> str:
    if very_long is not None and len(text) > very_long:
        return "very-long"
    return "long" if len(text) > long else ""


def _colors(content: CertificateContent) -> tuple[str, str]:
    """The organisation's (primary, accent) colours if they are ``#RRGGBB``, else the defaults."""
    primary = content.primary_color if HEX_COLOR.match(content.primary_color) else None
    accent = content.accent_color if HEX_COLOR.match(content.accent_color) else None
    return ((primary or DEFAULT_COLORS["primary"]).lower(),
            (accent or DEFAULT_COLORS["accent"]).lower())


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
        logo=content.logo_data_uri if (content.logo_data_uri or "").startswith(
            ("data:image/png;base64,", "data:image/jpeg;base64,")) else None,
    )


def render_pdf(content: CertificateContent) -> bytes:
    size = content.page_size if content.page_size in PAGE_SIZES else "A4"
    html = _CertificateHTML(render_html(content), url_fetcher=_fetcher())
    primary, accent = _colors(content)
    return html.write_pdf(stylesheets=[_stylesheet(size, primary, accent)],
                          font_config=_font_config(), pdf_tags=True)
