"""Benchmarks (``make bench``): each ``bench_*.py`` module has ``run() -> list[str]``.

Targets are printed as ratios against a baseline measured in the same run, never asserted in
unit tests: machines differ, ratios travel.
"""
