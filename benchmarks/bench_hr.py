"""HR at scale: completion CSV, XLSX and the dashboard query for 100,000 employees.

Builds (once, then reuses) a SQLite file with an organisation of 100,000 employees and one
of 10,000, each with three courses, their enrolments, graded attempts and certificates,
inserted with SQLAlchemy Core executemany. Each measurement runs in a fresh subprocess so
that its peak memory (the resident set's high-water mark, VmHWM, and its growth while the
report runs) is its own; tracemalloc is left off because it slows the code being timed.
Baselines from the same run: a plain SELECT COUNT(*) and the csv module writing the same
rows from a bare sqlite3 cursor.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

SIZES = {"bench-100k": 100_000, "bench-10k": 10_000}
DEPARTMENTS = ["Sales", "Support", "Marketing", "Engineering", "Finance", "Legal", "People",
               "Operations", "Product", "Design", "Data", "Security"]
LOCATIONS = ["Berlin", "Lisbon", "London", "Paris", "Madrid", "Warsaw", "Dublin", "Austin"]
TARGETS = {"csv": (3.0, 250), "xlsx": (15.0, None), "dashboard": (1.0, None)}


def _config(path: Path) -> dict:
    from lms_plugin.config import TestConfig

    config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    return config | {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"}


def _schema_fingerprint() -> str:
    from sqlalchemy.schema import CreateTable

    from lms_plugin.app import load_models
    from lms_plugin.core.extensions import db

    load_models()
    ddl = "".join(str(CreateTable(t)) for t in db.metadata.sorted_tables)
    return hashlib.sha256(ddl.encode()).hexdigest()[:12]


def build(path: Path) -> None:
    """Create the schema and both organisations with bulk Core inserts."""
    from lms_plugin.app import create_app
    from lms_plugin.core.extensions import db

    app = create_app(_config(path))
    with app.app_context():
        db.create_all()
        tables = db.metadata.tables
        rng = random.Random(8)
        now = datetime.now(UTC)
        next_user = 1
        for org_id, (slug, size) in enumerate(SIZES.items(), start=1):
            with db.engine.begin() as conn:
                conn.execute(tables["organization"].insert(), [
                    {"id": org_id, "slug": slug, "name": slug, "settings": {},
                     "created_at": now}])
                course_ids, quiz_ids = [], []
                for n in range(3):
                    cid = org_id * 10 + n
                    conn.execute(tables["quiz_version"].insert(), [{
                        "id": cid, "organization_id": org_id, "slug": f"quiz-{n}", "version": 1,
                        "title": f"Quiz {n}", "settings": {}, "questions": [],
                        "published": True, "created_at": now}])
                    conn.execute(tables["course"].insert(), [{
                        "id": cid, "organization_id": org_id, "slug": f"course-{n}",
                        "title": ["Social media onboarding", "Disclosure", "Tone"][n],
                        "description": "", "module_slugs": [], "required_for_posting": n == 0,
                        "due_days": 30, "created_at": now}])
                    course_ids.append(cid)
                    quiz_ids.append(cid)
            first = next_user
            users, profiles, enrollments, attempts, certificates, statuses = \
                [], [], [], [], [], []
            enrollment_id = (org_id - 1) * 1_000_000
            for i in range(size):
                uid = first + i
                manager = first + (i // 10) * 10 if i % 10 else None
                hired = date(2021, 1, 1) + timedelta(days=rng.randrange(5 * 365))
                users.append({"id": uid, "organization_id": org_id,
                              "email": f"p{uid}@{slug}.test", "name": f"Person {uid:06d}",
                              "password_hash": None, "external_id": f"E{uid}", "active": True,
                              "created_at": now})
                profiles.append({"organization_id": org_id, "user_id": uid,
                                 "department": DEPARTMENTS[i % len(DEPARTMENTS)],
                                 "location": LOCATIONS[i % len(LOCATIONS)],
                                 "manager_id": manager, "hire_date": hired, "left_at": None,
                                 "updated_at": now})
                eligible = True
                for cid, qid in zip(course_ids, quiz_ids, strict=True):
                    enrollment_id += 1
                    enrolled = now - timedelta(days=rng.randrange(1, 120))
                    roll = rng.random()
                    completed = enrolled + timedelta(days=rng.randrange(1, 30)) \
                        if roll < 0.6 else None
                    if completed and completed > now:
                        completed = now
                    enrollments.append({
                        "id": enrollment_id, "organization_id": org_id, "user_id": uid,
                        "course_id": cid, "cycle": 1, "enrolled_at": enrolled,
                        "due_at": enrolled + timedelta(days=30), "completed_at": completed,
                        "completed_versions": {}})
                    attempts.append({
                        "organization_id": org_id, "user_id": uid, "quiz_version_id": qid,
                        "seed": 1, "question_ids": [], "responses": {}, "state": "graded",
                        "percent": 90.0 if completed else 50.0, "passed": bool(completed),
                        "results": {}, "started_at": enrolled, "submitted_at": enrolled})
                    if completed:
                        certificates.append({
                            "organization_id": org_id, "user_id": uid, "course_id": cid,
                            "enrollment_id": enrollment_id, "code": f"B{enrollment_id:015d}",
                            "holder_name": f"Person {uid:06d}", "course_title": "Course",
                            "module_versions": {}, "issued_at": completed,
                            "expires_at": completed + timedelta(days=365),
                            "pdf_sha256": "0" * 64, "pdf": b""})
                    elif cid == course_ids[0]:
                        eligible = False
                statuses.append({"organization_id": org_id, "user_id": uid,
                                 "status": "eligible" if eligible else "in_training",
                                 "eligible": eligible, "reasons": "", "computed_at": now})
            next_user = first + size
            with db.engine.begin() as conn:
                for name, rows in (("user", users), ("employee_profile", profiles),
                                   ("enrollment", enrollments), ("attempt", attempts),
                                   ("certificate", certificates),
                                   ("posting_rights_status", statuses)):
                    for start in range(0, len(rows), 20_000):
                        conn.execute(tables[name].insert(), rows[start:start + 20_000])
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
        db.engine.dispose()


def _high_water_mb() -> float:
    """This process's peak resident set (VmHWM). Unlike ru_maxrss it is not inherited
    across exec from the parent that spawned us."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(what: str, path: str, org_slug: str) -> dict:
    """Run one measurement in this (fresh) process and return time, rows and memory."""
    from sqlalchemy import select

    from hr import dashboard, reports, rights
    from lms_plugin.app import create_app
    from lms_plugin.core.extensions import db
    from lms_plugin.core.models import Organization

    app = create_app(_config(Path(path)))
    with app.app_context():
        org_id = db.session.execute(select(Organization.id).filter_by(slug=org_slug)).scalar()
        db.session.execute(select(Organization.id)).all()  # warm the connection
        now = datetime.now(UTC)
        report = reports.REPORTS["completion"]
        rss_before = _high_water_mb()
        # No tracemalloc: it would slow the very code being timed. The resident-set high
        # water mark of this fresh process tells the memory story.
        started = time.perf_counter()
        rows = 0
        if what == "csv":
            for chunk in reports.csv_chunks(report, org_id, dashboard.Filters(), now):
                rows += chunk.count(b"\n")
            rows -= 1  # the header
        elif what == "xlsx":
            with tempfile.TemporaryDirectory() as folder:
                rows = reports.write_xlsx(report, org_id, dashboard.Filters(), now,
                                          os.path.join(folder, "r.xlsx"))
        elif what == "dashboard":
            filters = dashboard.Filters()
            rights.ensure_fresh(org_id, now)
            trend = dashboard.trend(org_id, filters, now)
            summary = dashboard.summary(org_id, filters, now, trend)
            dashboard.choices(org_id)
            dashboard.people_page(org_id, filters, now=now)
            rows = summary.enrollments
        elif what == "count":
            from sqlalchemy import func

            from course.models import Enrollment

            rows = db.session.execute(select(func.count(Enrollment.id)).where(
                Enrollment.organization_id == org_id)).scalar()
        elif what == "plain-csv":
            rows = _plain_csv(path, org_id)
        elapsed = time.perf_counter() - started
        rss_after = _high_water_mb()
    return {"what": what, "org": org_slug, "seconds": elapsed, "rows": rows,
            "rss_growth_mb": rss_after - rss_before,
            "rss_peak_mb": rss_after}


def _plain_csv(path: str, org_id: int) -> int:
    """The floor: the same join written by the csv module from a bare sqlite3 cursor."""
    import csv
    import io
    import sqlite3

    connection = sqlite3.connect(path)
    cursor = connection.execute(
        'SELECT u.name, u.email, u.external_id, p.department, p.location, m.name, p.hire_date,'
        ' c.title, e.cycle, e.enrolled_at, e.due_at, e.completed_at FROM enrollment e'
        ' JOIN "user" u ON u.id = e.user_id LEFT JOIN employee_profile p ON p.user_id = u.id'
        ' LEFT JOIN "user" m ON m.id = p.manager_id JOIN course c ON c.id = e.course_id'
        ' WHERE e.organization_id = ? AND u.active ORDER BY u.name, u.id, e.id', (org_id,))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    rows = 0
    for row in cursor:
        writer.writerow(row)
        rows += 1
        if rows % 1000 == 0:
            buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    connection.close()
    return rows


def _child(what: str, path: Path, org: str) -> dict:
    root = Path(__file__).resolve().parent.parent
    output = subprocess.run(  # noqa: S603 - our own interpreter and module, fixed arguments
        [sys.executable, "-m", "benchmarks.bench_hr", "--measure", what, str(path), org],
        cwd=root, capture_output=True, text=True, check=True, timeout=600)
    return json.loads(output.stdout.strip().splitlines()[-1])


def run() -> list[str]:
    cache = Path(tempfile.gettempdir()) / f"cleared-bench-hr-{_schema_fingerprint()}.sqlite3"
    lines = []
    if not cache.exists():
        started = time.perf_counter()
        partial = cache.with_suffix(".building")
        for leftover in partial.parent.glob(partial.name + "*"):
            leftover.unlink()
        build(partial)
        for suffix in ("-wal", "-shm"):
            Path(str(partial) + suffix).unlink(missing_ok=True)
        partial.rename(cache)
        lines.append(f"built {cache.name} in {time.perf_counter() - started:.1f} s "
                     "(reused by later runs)")
    else:
        lines.append(f"reusing {cache.name}")
    count = _child("count", cache, "bench-100k")
    plain = _child("plain-csv", cache, "bench-100k")
    lines.append(f"baseline SELECT COUNT(*) of {count['rows']:,} enrolments: "
                 f"{count['seconds'] * 1000:.1f} ms")
    lines.append(f"baseline csv module on a bare sqlite3 cursor: {plain['seconds']:.2f} s for "
                 f"{plain['rows']:,} rows")
    results = {}
    for what in ("csv", "xlsx", "dashboard"):
        for org in ("bench-10k", "bench-100k"):
            results[what, org] = _child(what, cache, org)
    for what in ("csv", "xlsx", "dashboard"):
        big, small = results[what, "bench-100k"], results[what, "bench-10k"]
        limit_s, limit_mb = TARGETS[what]
        verdict = "within" if big["seconds"] < limit_s and (
            limit_mb is None or big["rss_peak_mb"] < limit_mb) else "OVER"
        ratio = (f"{big['seconds'] / plain['seconds']:.1f}x the bare csv baseline"
                 if what != "dashboard" else
                 f"{big['seconds'] / max(count['seconds'], 1e-6):.0f}x the COUNT(*) baseline")
        lines.append(
            f"{what} 100k employees ({big['rows']:,} rows): {big['seconds']:.2f} s, {ratio}; "
            f"process peak {big['rss_peak_mb']:.0f} MB (+{big['rss_growth_mb']:.0f} MB while "
            "running); "
            f"target < {limit_s:g} s{f' and < {limit_mb} MB' if limit_mb else ''}: {verdict}")
        lines.append(
            f"{what} 10k employees ({small['rows']:,} rows): {small['seconds']:.2f} s; process "
            f"peak {small['rss_peak_mb']:.0f} MB (+{small['rss_growth_mb']:.0f} MB while "
            f"running); at 10x the rows the growth is +{big['rss_growth_mb']:.0f} MB")
    return lines


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--measure":
        print(json.dumps(measure(sys.argv[2], sys.argv[3], sys.argv[4])))
    else:
        print("\n".join(run()))
