"""Safe rendering and branding: hostile names, URLs in every field, bad colours and logos."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

from certificates import codes, pdf, services
from certificates.models import Certificate, CertificateLogo
from lms_plugin.core.extensions import db
from lms_plugin.core.models import Organization, Role

from .conftest import csrf_from

HOSTILE = [
    '<img src="file:///etc/passwd">',
    '<link rel="stylesheet" href="http://169.254.169.254/latest/meta-data/">',
    "file:///etc/passwd",
    "http://169.254.169.254/latest/meta-data/",
    '"><style>@import url(http://169.254.169.254/);</style>',
    "</title><script>alert(1)</script>",
]


class RecordingFetcher(pdf.StaticOnlyFetcher):
    """The production fetcher, remembering every URL WeasyPrint asked it for."""

    def __init__(self):
        super().__init__()
        self.asked: list[str] = []

    def fetch(self, url, headers=None):
        self.asked.append(url)
        return super().fetch(url, headers)


def content(**fields) -> pdf.CertificateContent:
    code = codes.new_code()
    values = dict(holder_name="Sam Okafor", course_title="Posting basics",
                  organization_name="Acme Ltd", issued_at=datetime(2026, 3, 1, tzinfo=UTC),
                  expires_at=None, code_display=codes.display(code),
                  verify_url=f"http://localhost/verify/{codes.display(code)}")
    return pdf.CertificateContent(**(values | fields))


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("field", ["holder_name", "course_title", "organization_name"])
def test_hostile_text_is_escaped_and_never_fetched(monkeypatch, field, hostile):
    fetcher = RecordingFetcher()
    monkeypatch.setattr(pdf, "_fetcher", lambda: fetcher)
    html = pdf.render_html(content(**{field: hostile}))
    assert "<script" not in html and "<img src=\"file" not in html and "<link" not in html
    assert "<style>@import" not in html
    document = pdf.render_pdf(content(**{field: hostile}))
    assert fetcher.asked  # the recording fetcher was in use (the QR code is a data: URL)
    assert not any(url.startswith(("http", "file:///etc")) for url in fetcher.asked), fetcher.asked
    text = PdfReader(io.BytesIO(document)).pages[0].extract_text()
    # Shown as the literal text it is (the organisation's name in capitals by CSS).
    assert " ".join(hostile.split())[:20].casefold() in " ".join(text.split()).casefold()


@pytest.mark.parametrize("color", ["url(file:///etc/passwd)", "http://169.254.169.254/",
                                   "red; background: url(http://169.254.169.254/)",
                                   "#12345", "#1234567", "}"])
def test_colours_other_than_hex_fall_back_to_the_defaults(color):
    hostile = content(primary_color=color, accent_color=color)
    html = pdf.render_html(hostile)
    assert "169.254" not in html and "passwd" not in html
    # The colours are written into the stylesheet only after this check.
    assert pdf._colors(hostile) == (pdf.DEFAULT_COLORS["primary"], pdf.DEFAULT_COLORS["accent"])


def test_valid_colours_are_drawn_on_the_certificate():
    branded = content(primary_color="#FF0000", accent_color="#00ff00")
    assert pdf._colors(branded) == ("#ff0000", "#00ff00")
    page = PdfReader(io.BytesIO(pdf.render_pdf(branded))).pages[0]
    drawing = page.get_contents().get_data()
    assert b"1 0 0 RG" in drawing or b"1 0 0 rg" in drawing  # primary: frame and title
    assert b"0 1 0 RG" in drawing or b"0 1 0 rg" in drawing  # accent: rules and seal


@pytest.mark.parametrize("logo", ["file:///etc/passwd", "http://169.254.169.254/logo.png",
                                  "data:text/html;base64,PHNjcmlwdD4=",
                                  "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4="])
def test_logo_is_only_ever_a_png_or_jpeg_data_uri(logo):
    html = pdf.render_html(content(logo_data_uri=logo))
    assert logo not in html and 'class="logo"' not in html


@pytest.mark.parametrize("url", ["file:///etc/passwd", "http://169.254.169.254/",
                                 "https://example.com/x.css", "ftp://example.com/",
                                 (pdf.STATIC / ".." / "pdf.py").as_uri(),
                                 pdf.STATIC.as_uri() + "/../pdf.py",
                                 pdf.STATIC.as_uri() + "/missing.css"])
def test_fetcher_refuses_anything_outside_the_static_folder(url):
    with pytest.raises(pdf.UnsafeResource):
        pdf.StaticOnlyFetcher().fetch(url)


def test_fetcher_serves_the_certificate_stylesheet():
    response = pdf.StaticOnlyFetcher().fetch((pdf.STATIC / "certificate.css").as_uri())
    try:
        assert b"@page" in response.read()
    finally:
        response.close()


def test_oversized_names_are_clipped_and_stay_on_one_page():
    document = pdf.render_pdf(content(holder_name="W" * 5000, course_title="C " * 3000,
                                      organization_name="O" * 1000))
    reader = PdfReader(io.BytesIO(document))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert "W" * 5000 not in text and "…" in text
    html = pdf.render_html(content(holder_name="W" * 5000))
    assert "W" * pdf.LIMITS["holder_name"] not in html
    assert "W" * (pdf.LIMITS["holder_name"] - 1) in html


def test_long_real_name_fits_one_page():
    name = "Maria del Carmen Fernández de la Concepción Rodríguez-Villanueva y Montenegro"
    reader = PdfReader(io.BytesIO(pdf.render_pdf(content(holder_name=name))))
    assert len(reader.pages) == 1
    # Compared without whitespace: the name may wrap (after the hyphen, for instance).
    assert "".join(name.split()) in "".join(reader.pages[0].extract_text().split())


def test_html_in_a_learners_name_is_literal_on_the_issued_certificate(app, make):
    org = make.org(name='Acme <b>Ltd</b>')
    learner = make.user(org, name='<script>alert("x")</script> Sam')
    make.completion(learner, make.course(org, title="file:///etc/passwd"))
    with app.app_context():
        certificate = db.session.execute(select(Certificate)).scalar_one()
        text = PdfReader(io.BytesIO(certificate.pdf)).pages[0].extract_text()
    assert '<script>alert("x")</script> Sam' in " ".join(text.split())
    assert "file:///etc/passwd" in text


# -- branding (admins) ------------------------------------------------------------------------

def png_bytes(size=(120, 40), color=(200, 30, 30), fmt="PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format=fmt)
    return out.getvalue()


@pytest.fixture
def admin(make, auth):
    org = make.org(name="Acme Ltd")
    user = make.user(org, roles=(Role.ADMIN,))
    auth.login(user.email)
    return org, user


def post_branding(client, **overrides):
    page = client.get("/certificates/branding")
    data = {"csrf_token": csrf_from(page.text), "brand_primary": "#0b5394",
            "brand_accent": "#e69138", "certificate_page_size": "Letter",
            "recertification_months": "24", "reenroll_days_before_expiry": "45",
            "retraining_grace_days": "10", "show_holder_name": "1"} | overrides
    return client.post("/certificates/branding", data=data, content_type="multipart/form-data")


def test_admin_sets_colours_page_size_rules_and_logo(app, client, admin, make):
    org, _ = admin
    response = post_branding(client, logo=(io.BytesIO(png_bytes(fmt="JPEG")), "logo.jpg"))
    assert response.status_code == 302, response.text
    with app.app_context():
        saved = db.session.get(Organization, org.id)
        assert saved.settings["brand_primary"] == "#0b5394"
        assert saved.settings["certificate_page_size"] == "Letter"
        assert saved.settings["recertification_months"] == 24
        assert saved.settings["reenroll_days_before_expiry"] == 45
        logo = db.session.execute(select(CertificateLogo)).scalar_one()
        assert logo.png.startswith(b"\x89PNG") and (logo.width, logo.height) == (120, 40)
    preview = client.get("/certificates/branding/preview.pdf")
    assert preview.status_code == 200 and preview.data.startswith(b"%PDF")
    assert round(float(PdfReader(io.BytesIO(preview.data)).pages[0].mediabox.width)) == 792
    # A certificate issued now carries the logo as an image.
    make.completion(make.user(org), make.course(org))
    with app.app_context():
        document = db.session.execute(select(Certificate)).scalar_one().pdf
    assert len(PdfReader(io.BytesIO(document)).pages[0].images) >= 1


@pytest.mark.parametrize("field, value, message", [
    ("brand_primary", "url(file:///etc/passwd)", "#RRGGBB"),
    ("brand_accent", "http://169.254.169.254/", "#RRGGBB"),
    ("certificate_page_size", "file:///etc/passwd", "A4 or Letter"),
    ("recertification_months", "-3", "whole number from 1 to 120"),
    ("reenroll_days_before_expiry", "lots", "whole number from 0 to 365"),
])
def test_bad_settings_are_refused_naming_the_field(app, client, admin, field, value, message):
    org, _ = admin
    response = post_branding(client, **{field: value})
    assert response.status_code == 400
    assert message in response.text and f'id="{field}-error"' in response.text
    field_message = response.text.split(f'id="{field}-error">')[1].split("</div>")[0]
    assert message in field_message  # the message is tied to its field, case intact
    with app.app_context():
        assert not (db.session.get(Organization, org.id).settings or {})


@pytest.mark.parametrize("payload, message", [
    (b"file:///etc/passwd", "not a readable PNG or JPEG"),
    (b"http://169.254.169.254/latest/meta-data/", "not a readable PNG or JPEG"),
    (b'<svg xmlns="http://www.w3.org/2000/svg"><image href="file:///etc/passwd"/></svg>',
     "not a readable PNG or JPEG"),
    (png_bytes(fmt="GIF"), "not a readable PNG or JPEG"),
    (png_bytes()[:60], "not a readable PNG or JPEG"),
    (png_bytes(size=(4000, 20)), "4000x20 pixels"),
    (b"\x89PNG" + b"0" * (300 * 1024), "the limit is 256 KB"),
    (b"", "empty"),
])
def test_bad_logos_are_refused_with_a_clear_message(app, client, admin, payload, message):
    response = post_branding(client, logo=(io.BytesIO(payload), "logo.png"))
    assert response.status_code == 400, response.status_code
    assert message in response.text and 'id="logo-error"' in response.text
    with app.app_context():
        assert db.session.execute(select(CertificateLogo)).first() is None


def test_empty_logo_bytes_are_refused_by_the_service():
    with pytest.raises(services.CertificateError, match="empty"):
        services.validate_logo(b"")


def test_only_admins_change_the_design(client, auth, make):
    org = make.org()
    hr = make.user(org, roles=(Role.HR,))
    auth.login(hr.email)
    assert client.get("/certificates/branding").status_code == 403
    assert client.get("/certificates/branding/preview.pdf").status_code == 403


def test_control_characters_are_dropped_and_the_certificate_still_renders():
    hostile = content(holder_name="Sam\x00 \x1bOka\x08for\ufffe",
                      organization_name="Acme\x0c Ltd")
    html = pdf.render_html(hostile)
    assert "\x00" not in html and "\x1b" not in html and "\ufffe" not in html
    text = PdfReader(io.BytesIO(pdf.render_pdf(hostile))).pages[0].extract_text()
    assert "Sam Okafor" in text and "ACME LTD" in text


def test_markup_the_xml_parser_refuses_still_renders_through_the_html5_parser():
    # The fast path parses the template as XML; anything else takes WeasyPrint's parser.
    document = pdf._CertificateHTML("<!doctype html><p>Issued<br>to Sam & co", pdf._fetcher())
    text = PdfReader(io.BytesIO(document.write_pdf())).pages[0].extract_text()
    assert "Issued" in text and "to Sam & co" in text


def test_fast_xml_parse_gives_the_same_pdf_text_as_the_html5_parser():
    certificate = content(holder_name="Zoë Ångström-Okafor", course_title="Posting & you")
    xhtml = pdf.render_html(certificate)
    fast = pdf._CertificateHTML(xhtml, pdf._fetcher())
    slow = pdf.HTML(string=xhtml, base_url=pdf.BASE_URL, url_fetcher=pdf._fetcher())
    slow._ua_stylesheets = fast._ua_stylesheets  # same user-agent sheet, only the parser differs
    texts = []
    for document in (fast, slow):
        data = document.write_pdf(stylesheets=[pdf._stylesheet("A4", *pdf._colors(certificate))],
                                  font_config=pdf._font_config(), pdf_tags=True)
        reader = PdfReader(io.BytesIO(data))
        metadata = reader.metadata
        texts.append((reader.pages[0].extract_text(), metadata.title, metadata.author))
    assert texts[0] == texts[1]
    assert "Zoë Ångström-Okafor" in texts[0][0] and "Posting & you" in texts[0][0]
