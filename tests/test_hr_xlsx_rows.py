"""The XLSX fast row path writes exactly the XML XlsxWriter writes for the same cells."""

from __future__ import annotations

import math
import zipfile
from datetime import UTC, date, datetime

import openpyxl
import pytest
import xlsxwriter

from hr import reports

# Text that needs each kind of escaping: XML specials, control characters, XlsxWriter's own
# _xHHHH_ escape written literally, Unicode non-characters, whitespace at either end.
AWKWARD = ["Plain", "Tom & Jerry <b>\"quoted\"</b>", "bell\x07 and nul\x00", "_x0041_ literal",
           " leading", "trailing ", "line\nbreak", "tab\tinside", "\ufffe\uffff", "Zoë 日本",
           "'=1+1", "x", "_", "_x", "end\r"]
NUMBERS = [0, 1, -3, 2.5, 1e-7, 123456789.123456, 46000.999988426]


def _sheet_xml(path: str) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read("xl/worksheets/sheet1.xml")


def _write(path: str, fast: bool) -> None:
    workbook = xlsxwriter.Workbook(path, {"constant_memory": True,
                                          "strings_to_formulas": False,
                                          "strings_to_urls": False,
                                          "strings_to_numbers": False})
    sheet = workbook.add_worksheet("Data", worksheet_class=reports.RowSheet)
    when = workbook.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    bold = workbook.add_format({"bold": True})
    sheet.set_column(0, 0, 20)
    sheet.write_string(0, 0, "Header", bold)
    xf = when._get_xf_index()
    for row, text in enumerate(AWKWARD, start=1):
        number = NUMBERS[row % len(NUMBERS)]
        serial = 46000 + row / 7
        # Column 1 left empty on purpose: gaps in a row must stay gaps.
        if fast:
            sheet.write_plain_row(row, [(0, text, 0), (2, number, 0), (3, serial, xf)])
        else:
            sheet.write_string(row, 0, text)
            sheet.write_number(row, 2, number)
            sheet.write_number(row, 3, serial, when)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, len(AWKWARD), 3)
    workbook.close()


def test_fast_rows_write_the_same_xml_as_xlsxwriter(tmp_path):
    _write(str(tmp_path / "fast.xlsx"), fast=True)
    _write(str(tmp_path / "plain.xlsx"), fast=False)
    fast, plain = _sheet_xml(str(tmp_path / "fast.xlsx")), _sheet_xml(str(tmp_path / "plain.xlsx"))
    assert b"_x0007_" in fast and b"&amp;" in fast and b'xml:space="preserve"' in fast
    assert fast == plain
    book = openpyxl.load_workbook(tmp_path / "fast.xlsx")
    rows = list(book.active.iter_rows(min_row=2, values_only=True))
    assert rows[0][:3] == ("Plain", None, NUMBERS[1])
    assert rows[1][0] == AWKWARD[1]
    assert isinstance(rows[0][3], datetime)


def test_fast_rows_refuse_to_go_backwards(tmp_path):
    workbook = xlsxwriter.Workbook(str(tmp_path / "r.xlsx"), {"constant_memory": True})
    sheet = workbook.add_worksheet("Data", worksheet_class=reports.RowSheet)
    sheet.write_plain_row(2, [(0, "a", 0)])
    with pytest.raises(ValueError, match="increasing rows"):
        sheet.write_plain_row(1, [(0, "b", 0)])
    workbook.close()


def test_excel_serial_from_the_database_matches_python(app, make):
    """The completion XLSX takes its day numbers from SQL; they must agree with Python's."""
    from hr import dashboard

    from .hr_helpers import STAFF, hr_org

    org, _hr, course = hr_org(make)
    make.rule(org, course, "everyone", due_days=30)
    make.roster(org, STAFF)
    with app.app_context():
        now = datetime.now(UTC)
        native = list(reports.completion_rows(org.id, dashboard.Filters(), now))
        serial = list(reports.completion_rows(org.id, dashboard.Filters(), now,
                                              excel_times=True))
    assert native and len(native) == len(serial)
    for plain, fast in zip(native, serial, strict=True):
        for col in (6, 9, 10, 11):
            if plain[col] is None:
                assert fast[col] is None
            else:
                assert math.isclose(reports.excel_serial(plain[col]), fast[col],
                                    abs_tol=1 / 86_400_000 * 2), col  # within 2 ms
    assert date(2026, 11, 1) in {row[6] for row in native}
