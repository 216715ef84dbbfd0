"""Page rendering: the learner overview against /healthz, through the Flask test client."""

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
    from lms_plugin.app import create_app
    from lms_plugin.cli import seed_demo
    from lms_plugin.config import TestConfig
    from lms_plugin.core.extensions import db

    with tempfile.TemporaryDirectory() as folder:
        config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
        config |= {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(folder) / 'bench.sqlite3'}",
                   "WTF_CSRF_ENABLED": False}
        app = create_app(config)
        with app.app_context():
            db.create_all()
            seed_demo()
        client = app.test_client()
        client.post("/login", data={"email": "learner@demo.test", "password": "demo-password"})
        baseline = _median_ms(lambda: client.get("/healthz"))
        overview = _median_ms(lambda: client.get("/learn/"))
        with app.app_context():
            db.engine.dispose()
    return [
        f"/healthz median {baseline:.2f} ms (baseline)",
        f"/learn/ median {overview:.2f} ms, {overview / baseline:.1f}x the baseline",
    ]
