"""Typed specs: the single source of truth shared by the CLI, the stages, the runner and the operator.

Pure: importing this package loads no cluster, cloud or ML library (an import-linter contract checks it).
"""

from pro.spec.base import ObjectMeta, Resource, SpecModel, spec_digest
from pro.spec.conventions import API_GROUP, API_VERSION
from pro.spec.loader import SpecError, SpecProblem, dump_yaml, load_file, load_text, parse

__all__ = [
    "API_GROUP",
    "API_VERSION",
    "ObjectMeta",
    "Resource",
    "SpecError",
    "SpecModel",
    "SpecProblem",
    "dump_yaml",
    "load_file",
    "load_text",
    "parse",
    "spec_digest",
]
