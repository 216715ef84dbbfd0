"""The audit log as CSV that spreadsheets open safely (no formula runs, accents intact)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable

from lms_plugin.core.models import AuditEntry

# A cell starting with one of these is a formula in Excel, LibreOffice and Google Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
HEADER = ["time (UTC)", "actor", "action", "subject", "subject id", "reason", "detail"]


def neutralise(value: object) -> str:
    """Text, never a formula: a leading quote makes the spreadsheet show the cell as typed."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def audit_csv(entries: Iterable[AuditEntry]) -> bytes:
    """UTF-8 with a byte order mark, so Excel reads names like 'Zoë' correctly."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for entry in entries:
        actor = entry.actor.email if entry.actor is not None else "system"
        writer.writerow(
            [
                neutralise(v)
                for v in (
                    entry.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    actor,
                    entry.action,
                    entry.subject_type,
                    entry.subject_id,
                    entry.reason,
                    json.dumps(entry.detail or {}, ensure_ascii=False, sort_keys=True),
                )
            ]
        )
    return "\ufeff".encode() + out.getvalue().encode("utf-8")
