"""Lesson Markdown is rendered safely: none of these known XSS payloads survives."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from content_modules.markdown import ALLOWED_TAGS, render_markdown

PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<scr<script>ipt>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<img src=\"x\" ONERROR=\"alert(1)\">",
    "<body onload=alert(1)>",
    "<p onclick=\"alert(1)\">click</p>",
    "<details open ontoggle=alert(1)>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
    "<a href=\" javascript:alert(1)\">x</a>",
    "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
    "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">x</a>",
    "<a href=\"&#x6A;avascript:alert(1)\">x</a>",
    "<a href=\"vbscript:msgbox(1)\">x</a>",
    "[click](javascript:alert(1))",
    "[click](JAVASCRIPT:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<a href=\"data:text/html,<script>alert(1)</script>\">x</a>",
    "![x](data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+)",
    "<img src=\"data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+\">",
    "<IMG SRC=\"jav\tascript:alert(1);\">",
    "<p style=\"background:url(javascript:alert(1))\">x</p>",
    "<div style=\"position:fixed;top:0;left:0;width:100%;height:100%\">overlay</div>",
    "<style>body{display:none}</style>",
    "<style>@import 'https://evil.example/x.css';</style>",
    "<link rel=stylesheet href=https://evil.example/x.css>",
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text>x</text></a></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<iframe src=\"https://evil.example\"></iframe>",
    "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
    "<object data=\"https://evil.example/x.swf\"></object>",
    "<embed src=\"https://evil.example/x.swf\">",
    "<form action=\"https://evil.example\"><input name=password></form>",
    "<button formaction=\"javascript:alert(1)\">x</button>",
    "<base href=\"https://evil.example/\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<video><source onerror=\"alert(1)\"></video>",
    "<audio src=x onerror=alert(1)>",
    "<marquee onstart=alert(1)>x</marquee>",
    "<!--<img src=x onerror=alert(1)>-->",
    "<a href=x id=\"x\" name=\"forms\">clobber</a>",
    "<table background=\"javascript:alert(1)\"><tr><td>x</td></tr></table>",
]

SAFE_SCHEMES = ("http://", "https://", "mailto:")


class Inspector(HTMLParser):
    """Collects what the rendered HTML would make a browser do."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes += [(tag, name, value or "") for name, value in attrs]

    handle_startendtag = handle_starttag


def inspect(html: str) -> Inspector:
    inspector = Inspector()
    inspector.feed(html)
    inspector.close()
    return inspector


@pytest.mark.parametrize("payload", PAYLOADS)
def test_no_payload_survives_rendering(payload):
    html = render_markdown(f"Some text.\n\n{payload}\n\nMore text.")
    found = inspect(html)
    assert set(found.tags) <= ALLOWED_TAGS, found.tags
    for tag, name, value in found.attributes:
        assert not name.startswith("on"), (tag, name)
        assert name not in {"style", "srcdoc", "formaction", "background", "id", "name",
                            "xlink:href"}, (tag, name)
        if name in {"href", "src"}:
            cleaned = "".join(value.split()).lower()
            assert ":" not in cleaned.split("/")[0] or cleaned.startswith(SAFE_SCHEMES), \
                (tag, name, value)
        squeezed = "".join(value.split()).lower()
        for scheme in ("javascript:", "vbscript:", "data:"):
            assert scheme not in squeezed, (tag, name, value)
    # Text that merely mentions "javascript:" is harmless; markup must not.
    lowered = html.lower()
    for marker in ("<script", "<style", "<iframe", "<svg", "<object", "<embed", "<form",
                   "<base", "<link"):
        assert marker not in lowered, (marker, html)
    assert "Some text." in html  # the text before a payload is kept


def test_ordinary_markdown_still_renders():
    html = render_markdown(
        "## A heading\n\nSome **bold**, a [link](https://example.com \"Example\") and "
        "`code`.\n\n> A quote\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n"
        "![A chart](https://example.com/chart.png)\n")
    assert "<h2>A heading</h2>" in html
    assert "<strong>bold</strong>" in html
    assert 'href="https://example.com"' in html and 'rel="noopener noreferrer nofollow"' in html
    assert "<blockquote>" in html and "<table>" in html
    assert '<img src="https://example.com/chart.png" alt="A chart">' in html


def test_authors_plain_text_is_escaped_not_interpreted():
    html = render_markdown("Use <b>bold</b> but 5 < 6 & \"quotes\".")
    assert "<b>bold</b>" in html
    assert "5 &lt; 6 &amp;" in html
