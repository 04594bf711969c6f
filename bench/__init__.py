"""Benchmarks (scripts, each run from the repository root: ``python -m bench.NAME`` or ``python bench/NAME.py``)."""
