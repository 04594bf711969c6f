"""Kubernetes objects as plain dicts: stage ConfigMaps and jobs (PyTorchJobs, TrainJobs), stage resource bodies, CRDs.

Pure: the operator, ``pro render`` and the CRD generator share these functions; nothing here talks to a
cluster or imports a Kubernetes client (an import-linter contract checks it).
"""

from pro.render.env import stage_env
from pro.render.jobs import (
    JOB_KINDS,
    StageObjects,
    config_map_name,
    job_kind,
    job_name,
    owner_reference,
    render_stage,
    stage_resource_object,
)

__all__ = [
    "JOB_KINDS",
    "StageObjects",
    "config_map_name",
    "job_kind",
    "job_name",
    "owner_reference",
    "render_stage",
    "stage_env",
    "stage_resource_object",
]
