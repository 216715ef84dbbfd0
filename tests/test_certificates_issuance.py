"""Issuance: codes, the completion transaction, recorded versions and dates, PDF content."""

from __future__ import annotations

import base64
import hashlib
import io
from datetime import UTC, datetime

import pytest
import segno
import zxingcpp
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

from certificates import codes, pdf, services
from certificates.models import Certificate
from course import services as course_services
from course.models import Enrollment, ModuleVersion
from lms_plugin.core.extensions import db
from lms_plugin.core.models import User


def test_codes_carry_100_bits_in_readable_groups_with_a_check_symbol():
    code = codes.new_code()
    assert len(code) == 21 and all(ch in codes.ALPHABET for ch in code[:20])
    assert 20 * 5 >= 100
    shown = codes.display(code)
    assert [len(group) for group in shown.split("-")] == [5, 5, 5, 5, 1]
    assert codes.normalize(shown) == code
    assert codes.normalize(shown.lower().replace("-", " ")) == code
    assert len({codes.new_code() for _ in range(500)}) == 500


def test_a_single_mistyped_symbol_or_swapped_pair_is_recognised():
    code = codes.new_code()
    body = code[:20]
    for position in range(20):
        for replacement in "0Z":
            if body[position] == replacement:
                continue
            typo = body[:position] + replacement + body[position + 1 :] + code[20]
            with pytest.raises(codes.CodeError, match="mistyped"):
                codes.normalize(typo)
    swaps = [i for i in range(19) if body[i] != body[i + 1]]
    i = swaps[0]
    swapped = body[:i] + body[i + 1] + body[i] + body[i + 2 :] + code[20]
    with pytest.raises(codes.CodeError):
        codes.normalize(swapped)
    with pytest.raises(codes.CodeError, match="21 characters"):
        codes.normalize(code[:-3])


def test_completion_issues_a_certificate_with_versions_policy_and_expiry(app, make):
    org = make.org(recertification_months=12)
    learner = make.user(org, name="Sam Okafor")
    with app.app_context():
        policy = course_services.publish_policy(db.session.merge(org), "Policy", "Be kind.")
        course_services.acknowledge_policy(db.session.get(User, learner.id), policy,
                                           "Sam Okafor")
        policy_id = policy.id
        db.session.commit()
    course = make.course(org)
    enrollment = make.completion(learner, course)
    with app.app_context():
        certificate = db.session.execute(select(Certificate)).scalar_one()
        version = db.session.execute(select(ModuleVersion)).scalar_one()
        assert certificate.enrollment_id == enrollment.id
        assert certificate.module_versions == {"tiny-module": version.id}
        assert certificate.policy_version_id == policy_id
        assert certificate.issued_at == enrollment.completed_at
        issued = certificate.issued_at
        assert certificate.expires_at == issued.replace(year=issued.year + 1)
        assert hashlib.sha256(certificate.pdf).hexdigest() == certificate.pdf_sha256


def test_without_a_policy_or_recertification_period_the_fields_stay_empty(app, make):
    org = make.org()
    learner = make.user(org)
    make.completion(learner, make.course(org))
    with app.app_context():
        certificate = db.session.execute(select(Certificate)).scalar_one()
        assert certificate.policy_version_id is None
        assert certificate.expires_at is None


def test_calendar_months_end_on_the_last_day_of_a_short_month():
    moment = datetime(2026, 1, 31, 9, tzinfo=UTC)
    assert services._add_months(moment, 1) == datetime(2026, 2, 28, 9, tzinfo=UTC)
    assert services._add_months(moment, 13) == datetime(2027, 2, 28, 9, tzinfo=UTC)


def test_no_certificate_without_completion(app, make):
    org = make.org()
    learner = make.user(org)
    enrollment = make.enrollment(learner, make.course(org))
    with app.app_context():
        row = db.session.get(Enrollment, enrollment.id)
        with pytest.raises(services.CertificateError):
            services.issue_certificate(row)
        assert db.session.execute(select(Certificate)).first() is None


def test_a_rendering_failure_rolls_back_the_completion(app, make, monkeypatch):
    org = make.org()
    learner = make.user(org)
    course = make.course(org)

    def broken(content):
        raise RuntimeError("renderer crashed")

    # Fault injection: the real pipeline, with the one renderer failing.
    monkeypatch.setattr(services, "render_pdf", broken)
    with pytest.raises(RuntimeError, match="renderer crashed"):
        make.completion(learner, course)
    with app.app_context():
        db.session.rollback()
        assert db.session.execute(select(Certificate)).first() is None
        assert all(e.completed_at is None for e in db.session.execute(
            select(Enrollment)).scalars())


def test_pdf_names_the_learner_and_code_and_carries_metadata(app, make):
    org = make.org(name="Acme Ltd")
    learner = make.user(org, name="Zoë Ångström-Okafor")
    make.completion(learner, make.course(org, title="Posting as a brand advocate"))
    with app.app_context():
        certificate = db.session.execute(select(Certificate)).scalar_one()
        document, code = certificate.pdf, certificate.code
    reader = PdfReader(io.BytesIO(document))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert "Zoë Ångström-Okafor" in text
    assert codes.display(code) in text
    assert "Posting as a brand advocate" in text
    assert reader.metadata.title.startswith("Certificate of completion: Posting as a brand")
    assert reader.metadata.author == "Acme Ltd"
    # Tagged PDF: a structure tree a screen reader can follow.
    assert "/StructTreeRoot" in reader.trailer["/Root"]
    assert reader.trailer["/Root"]["/MarkInfo"]["/Marked"]


def qr_modules(image) -> list[list[bool]]:
    """The dark/light modules of a one-pixel-per-module QR bitmap."""
    image = image.convert("L")
    return [[image.getpixel((x, y)) < 128 for x in range(image.width)]
            for y in range(image.height)]


def test_the_qr_code_in_the_pdf_encodes_the_verification_url(app, make):
    org = make.org()
    make.completion(make.user(org), make.course(org))
    with app.app_context():
        certificate = db.session.execute(select(Certificate)).scalar_one()
        document, code = certificate.pdf, certificate.code
        url = services.verification_url(code)
    assert url == f"http://localhost/verify/{codes.display(code)}"
    # A real decoder reads the QR image embedded in the PDF (scaled up, with a quiet zone,
    # as a camera would see it printed).
    images = PdfReader(io.BytesIO(document)).pages[0].images
    decoded = []
    for embedded in images:
        symbol = embedded.image.convert("L")
        scaled = symbol.resize((symbol.width * 8, symbol.height * 8), Image.NEAREST)
        framed = Image.new("L", (scaled.width + 64, scaled.height + 64), 255)
        framed.paste(scaled, (32, 32))
        decoded += [barcode.text for barcode in zxingcpp.read_barcodes(framed)]
    assert decoded == [url]
    # And the payload is checked before rendering too: the image has exactly the modules of
    # the symbol encoding this URL (and not another's).
    modules = [qr_modules(i.image) for i in images]
    expected = [list(map(bool, row))
                for row in segno.make(url, error="m", mask=pdf.QR_MASK).matrix]
    assert expected in modules
    other = segno.make(url.replace(codes.display(code), codes.display(codes.new_code())),
                       error="m", mask=pdf.QR_MASK)
    assert [list(map(bool, row)) for row in other.matrix] not in modules


def test_the_fixed_mask_qr_decodes_for_many_codes():
    # The mask is fixed for speed (segno's automatic choice cost ~4 ms a render); a real
    # decoder must still read every symbol, whatever the code.
    for _ in range(60):
        url = f"https://cleared.example.com/verify/{codes.display(codes.new_code())}"
        symbol = Image.open(io.BytesIO(base64.b64decode(pdf.qr_png_data_uri(url).split(",")[1])))
        assert symbol.mode == "L"  # embedded by WeasyPrint as it is, not re-encoded
        scaled = symbol.resize((symbol.width * 4, symbol.height * 4), Image.NEAREST)
        framed = Image.new("L", (scaled.width + 32, scaled.height + 32), 255)
        framed.paste(scaled, (16, 16))
        assert [barcode.text for barcode in zxingcpp.read_barcodes(framed)] == [url]


@pytest.mark.parametrize("size, width_pt", [("A4", 842), ("Letter", 792)])
def test_page_size_follows_the_organisation(app, make, size, width_pt):
    org = make.org(certificate_page_size=size)
    make.completion(make.user(org), make.course(org))
    with app.app_context():
        document = db.session.execute(select(Certificate)).scalar_one().pdf
    box = PdfReader(io.BytesIO(document)).pages[0].mediabox
    assert round(float(box.width)) == width_pt
    assert float(box.width) > float(box.height)  # landscape
