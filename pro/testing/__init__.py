"""Harnesses for tests and benchmarks, the top layer of ``pro`` (nothing in the library imports them):
real servers on loopback (needs the ``test`` extra), a job executor and the operator as a process, and
the toy world's PRO core (:mod:`.toy_core`) and pipeline (:mod:`.toy_pipeline`) at reduced sizes."""
