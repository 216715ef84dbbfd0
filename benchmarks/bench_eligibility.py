"""Eligibility API throughput through a real gunicorn, against the same server's /healthz.

A seeded SQLite file, gunicorn started as a subprocess on 127.0.0.1 (a free port), and a
bounded load generator: a fixed number of requests over a few keep-alive connections
(threads + http.client). Loopback only. The target: eligibility at least 60% of /healthz.

The API reuses an answer for at most RIGHTS_CACHE_SECONDS (advocacy/services.py), so the
same identifier asked again is mostly served from that cache. The uncached figure asks with
a different spelling of the same e-mail on every request (``PeRson7@bench.test``: the same
employee, a different cache key), so every one of those requests runs the full rule.
"""

from __future__ import annotations

import http.client
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REQUESTS = 3000
ROUNDS = 3
CONNECTIONS = 4
WARMUP = 200
TARGET = 0.60


def _seed(database_url: str) -> tuple[str, str]:
    """An organisation with a required course, 200 employees (one certified) and a key."""
    from certificates import services as certificate_services
    from course import services as course_services
    from lms_plugin.app import create_app
    from lms_plugin.config import TestConfig
    from lms_plugin.core import accounts
    from lms_plugin.core.api import create_api_key
    from lms_plugin.core.extensions import db
    from lms_plugin.core.timeutil import utcnow

    config = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    app = create_app(config | {"SQLALCHEMY_DATABASE_URI": database_url})
    fixtures = Path(__file__).parent.parent / "tests" / "fixtures" / "modules" / "tiny-module"
    with app.app_context():
        db.create_all()
        org = accounts.create_organization("bench", "Bench Ltd")
        org.settings = {"recertification_months": 12}
        course_services.import_module(org, fixtures)
        course = course_services.create_course(
            org, "onboarding", "Onboarding", ["tiny-module"], required_for_posting=True
        )
        course_services.publish_policy(org, "Policy", "Be kind.")
        for i in range(200):
            user = accounts.create_user(org, f"person{i}@bench.test", f"Person {i}")
            course_services.enroll(user, course)
        target = accounts.find_user(org.id, "person7@bench.test")
        enrollment = course_services.open_enrollment(target, course)
        enrollment.completed_at = utcnow()
        certificate_services.issue_certificate(enrollment)
        course_services.acknowledge_policy(
            target, course_services.current_policy(org.id), target.name
        )
        _, key = create_api_key(org, "bench", ["rights:read", "webhooks:manage"])
        db.session.commit()
        db.engine.dispose()
    return key, "person7@bench.test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(port: int, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /healthz in time")


def _spellings(email: str, count: int) -> list[str]:
    """``count`` distinct upper/lower-case spellings of ``email`` (all the same employee)."""
    letters = [i for i, c in enumerate(email) if c.isalpha()]
    if count > 2 ** len(letters):
        raise ValueError(f"{email} has too few letters for {count} distinct spellings")
    variants = []
    for mask in range(count):
        chars = list(email)
        for bit, index in enumerate(letters):
            if mask >> bit & 1:
                chars[index] = chars[index].upper()
        variants.append("".join(chars))
    return variants


def _load(port: int, path: str | list[str], headers: dict, total: int) -> float:
    """Requests per second for ``total`` requests over CONNECTIONS keep-alive connections.

    ``path`` is one path for every request, or a list: request i of the run asks path i.
    """
    per_connection = [total // CONNECTIONS] * CONNECTIONS
    failures: list[str] = []
    paths = path if isinstance(path, list) else None

    def worker(connection: int, count: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for i in range(count):
            target = paths[connection + i * CONNECTIONS] if paths is not None else path
            conn.request("GET", target, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                failures.append(f"{target}: HTTP {response.status}")
                break
        conn.close()

    threads = [threading.Thread(target=worker, args=(c, n)) for c, n in enumerate(per_connection)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(failures[0])
    return sum(per_connection) / elapsed


def run() -> list[str]:
    round_ratios: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as folder:
        database_url = f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
        key, email = _seed(database_url)
        port = _free_port()
        # A throwaway key for a throwaway server on loopback.
        env = dict(
            os.environ,
            DATABASE_URL=database_url,
            CLEARED_ENV="bench",
            SECRET_KEY=secrets.token_hex(16),
        )
        server = subprocess.Popen(  # noqa: S603 - fixed arguments, our own interpreter
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--worker-class",
                "gthread",
                "--threads",
                "2",
                "--keep-alive",
                "30",
                "--log-level",
                "warning",
                "lms_plugin.app:create_app()",
            ],
            env=env,
            cwd=folder,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            _wait_ready(port, server)
            bearer = {"Authorization": f"Bearer {key}"}
            eligibility = f"/api/v1/posting-rights/{email}"
            spellings = _spellings(email, WARMUP + REQUESTS)
            uncached_paths = [f"/api/v1/posting-rights/{e}" for e in spellings]
            _load(port, "/healthz", {}, WARMUP)
            _load(port, eligibility, bearer, WARMUP)
            _load(port, uncached_paths[:WARMUP], bearer, WARMUP)
            # Interleaved rounds: the machine is shared, and a load change between two long
            # runs would otherwise show up as a ratio. Each round measures all four in turn.
            per_round = REQUESTS // ROUNDS
            seconds = dict.fromkeys(("healthz", "rights", "uncached", "auth"), 0.0)
            for n in range(ROUNDS):
                # Every uncached request a spelling not asked before in this run.
                fresh = uncached_paths[WARMUP + n * per_round : WARMUP + (n + 1) * per_round]
                rates = {
                    "healthz": _load(port, "/healthz", {}, per_round),
                    "rights": _load(port, eligibility, bearer, per_round),
                    "uncached": _load(port, fresh, bearer, per_round),
                    # Diagnostic: key authentication plus one small query.
                    "auth": _load(port, "/api/v1/webhooks", bearer, per_round),
                }
                for name, rate in rates.items():
                    seconds[name] += per_round / rate
                round_ratios.append(
                    (rates["rights"] / rates["healthz"], rates["uncached"] / rates["healthz"])
                )
            total = per_round * ROUNDS
            healthz, rights, uncached, auth_only = (
                total / seconds[name] for name in ("healthz", "rights", "uncached", "auth")
            )
        finally:
            server.terminate()
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
            server.stderr.close()
    from advocacy.services import RIGHTS_CACHE_SECONDS
    from lms_plugin.core.api import API_KEY_CACHE_SECONDS

    ratio, uncached_ratio = rights / healthz, uncached / healthz
    verdict = "meets" if ratio >= TARGET else "MISSES"
    uncached_verdict = "meets" if uncached_ratio >= TARGET else "misses"
    return [
        f"gunicorn 2 workers x 2 threads (gthread), {CONNECTIONS} keep-alive connections, "
        f"{REQUESTS} requests each after {WARMUP} warm-up, in {ROUNDS} interleaved rounds, "
        f"SQLite, loopback; "
        f"answer cache {RIGHTS_CACHE_SECONDS:g} s, key cache {API_KEY_CACHE_SECONDS:g} s",
        f"/healthz {healthz:,.0f} req/s (baseline)",
        f"GET /api/v1/posting-rights/<email> (same employee, answer cache) {rights:,.0f} req/s, "
        f"{ratio:.0%} of the baseline ({verdict} the {TARGET:.0%} target; rounds "
        f"{', '.join(f'{r[0]:.0%}' for r in round_ratios)})",
        f"GET /api/v1/posting-rights/<email> (a new spelling each request: the rule runs every "
        f"time) {uncached:,.0f} req/s, {uncached_ratio:.0%} of the baseline "
        f"({uncached_verdict} {TARGET:.0%}; rounds "
        f"{', '.join(f'{r[1]:.0%}' for r in round_ratios)})",
        f"diagnostic: GET /api/v1/webhooks (key check + 1 query) {auth_only:,.0f} req/s, "
        f"{auth_only / healthz:.0%} of the baseline",
    ]
