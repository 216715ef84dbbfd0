"""The lesson player: a lesson page, a practice answer and the policy page against /healthz."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path


def _median_ms(call, repeat: int = 200) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def run() -> list[str]:
    from course import services
    from lms_plugin.app import create_app
    from lms_plugin.cli import seed_demo
    from lms_plugin.config import TestConfig
    from lms_plugin.core.extensions import db
    from lms_plugin.core.models import Organization

    with tempfile.TemporaryDirectory() as folder:
        config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
        config |= {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(folder) / 'bench.sqlite3'}",
                   "WTF_CSRF_ENABLED": False}
        app = create_app(config)
        with app.app_context():
            db.create_all()
            seed_demo()
            org = db.session.query(Organization).filter_by(slug="demo").one()
            services.publish_policy(org, "Social media policy", "Be kind.\n" * 200)
            db.session.commit()
            enrollment = db.session.query(services.Enrollment).first()
            version = services.course_modules(enrollment.course)[0]
            lesson = next(item for item in version.module.lessons if item.practice) \
                if any(item.practice for item in version.module.lessons) \
                else version.module.lessons[0]
            lesson_url = f"/learn/{enrollment.id}/{version.slug}/{lesson.slug}"
            practice = lesson.practice[0]["id"] if lesson.practice else None
        client = app.test_client()
        client.post("/login", data={"email": "learner@demo.test", "password": "demo-password"})
        baseline = _median_ms(lambda: client.get("/healthz"))
        page = _median_ms(lambda: client.get(lesson_url))
        policy = _median_ms(lambda: client.get("/policy/"))
        lines = [f"/healthz median {baseline:.2f} ms (baseline)",
                 f"lesson page median {page:.2f} ms, {page / baseline:.1f}x the baseline",
                 f"/policy/ median {policy:.2f} ms, {policy / baseline:.1f}x the baseline"]
        if practice:
            answer = _median_ms(lambda: client.post(
                f"{lesson_url}/practice/{practice}", data={"choice": "0"},
                headers={"Accept": "application/json"}))
            lines.append(f"practice answer (JSON) median {answer:.2f} ms, "
                         f"{answer / baseline:.1f}x the baseline")
        with app.app_context():
            db.engine.dispose()
    return lines
