"""Certificate PDFs: median time against WeasyPrint's one-line page; 1,000 on two cores."""

from __future__ import annotations

import multiprocessing
import os
import statistics
import time
from datetime import UTC, datetime

ROUNDS = int(os.environ.get("BENCH_CERT_ROUNDS", "60"))
BATCH = int(os.environ.get("BENCH_CERT_BATCH", "1000"))
WORKERS = 2


def _content(index: int):
    from certificates import codes
    from certificates.pdf import CertificateContent

    code = codes.new_code()
    return CertificateContent(
        holder_name=f"Sam Okafor {index}",
        course_title="Social media policy: posting as a brand advocate",
        organization_name="Acme Ltd",
        issued_at=datetime(2026, 11, 22, tzinfo=UTC),
        expires_at=datetime(2027, 11, 22, tzinfo=UTC),
        code_display=codes.display(code),
        verify_url=f"https://cleared.example.com/verify/{codes.display(code)}",
    )


def _one_line_page() -> bytes:
    from weasyprint import HTML

    return HTML(string="<p>Hello</p>").write_pdf()


def _warm_worker() -> None:
    from certificates.pdf import render_pdf

    render_pdf(_content(0))  # fonts, stylesheet and template cached in this process


def _render_one(index: int) -> int:
    from certificates.pdf import render_pdf

    return len(render_pdf(_content(index)))


def run() -> list[str]:
    from certificates.pdf import render_pdf

    contents = [_content(i) for i in range(ROUNDS)]
    for _ in range(3):  # warm: font configuration, stylesheet, template, Pango caches
        render_pdf(contents[0])
        _one_line_page()
    baseline, certificate, baseline_cpu, certificate_cpu = [], [], [], []
    # Interleaved, so that load from other processes hits both series alike; CPU time too,
    # because on a shared machine wall time mostly measures the neighbours.
    for content in contents:
        started, cpu = time.perf_counter(), time.process_time()
        _one_line_page()
        baseline.append((time.perf_counter() - started) * 1000)
        baseline_cpu.append((time.process_time() - cpu) * 1000)
        started, cpu = time.perf_counter(), time.process_time()
        render_pdf(content)
        certificate.append((time.perf_counter() - started) * 1000)
        certificate_cpu.append((time.process_time() - cpu) * 1000)
    base_ms, cert_ms = statistics.median(baseline), statistics.median(certificate)
    base_cpu, cert_cpu = statistics.median(baseline_cpu), statistics.median(certificate_cpu)

    context = multiprocessing.get_context("fork")
    with context.Pool(WORKERS, initializer=_warm_worker) as pool:
        pool.map(_render_one, range(WORKERS * 2))  # every worker warm before timing
        started = time.perf_counter()
        sizes = pool.map(_render_one, range(BATCH), chunksize=25)
        batch_s = time.perf_counter() - started
    size_kb = statistics.median(sizes) // 1024
    return [
        f"one-line page (WeasyPrint baseline) median {base_ms:.1f} ms",
        f"certificate median {cert_ms:.1f} ms, {cert_ms / base_ms:.2f}x the baseline "
        f"(aim: under 25 ms and under 2.5x)",
        f"CPU time: one-line page {base_cpu:.1f} ms, certificate {cert_cpu:.1f} ms, "
        f"{cert_cpu / base_cpu:.2f}x",
        f"{BATCH} certificates on {WORKERS} warm worker processes: {batch_s:.1f} s "
        f"({batch_s * 1000 / BATCH:.1f} ms each, median size {size_kb} KB)",
    ]
