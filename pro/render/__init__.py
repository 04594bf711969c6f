"""Kubernetes objects as plain dicts: stage ConfigMaps and PyTorchJobs, stage resource bodies, CRDs.

Pure: the operator, ``pro render`` and the CRD generator share these functions; nothing here talks to a
cluster or imports a Kubernetes client (an import-linter contract checks it).
"""

from pro.render.env import stage_env
from pro.render.jobs import (
    StageObjects,
    config_map_name,
    job_name,
    owner_reference,
    render_stage,
    stage_resource_object,
)

__all__ = [
    "StageObjects",
    "config_map_name",
    "job_name",
    "owner_reference",
    "render_stage",
    "stage_env",
    "stage_resource_object",
]
