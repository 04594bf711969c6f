"""Harnesses for tests and benchmarks: real servers on loopback (needs the ``test`` extra)."""
