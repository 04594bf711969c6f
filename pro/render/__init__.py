"""Kubernetes objects as plain dicts: stage ConfigMaps and PyTorchJobs, stage resource bodies, CRDs.

Pure: the operator, ``pro render`` and the CRD generator share these functions; nothing here talks to a
cluster or imports a Kubernetes client (an import-linter contract checks it).
"""

from pro.render.jobs import (
    ATTEMPT_LABEL,
    STAGE_RESOURCE_LABEL,
    StageObjects,
    config_map_name,
    job_name,
    owner_reference,
    render_stage,
    stage_resource_object,
)

__all__ = [
    "ATTEMPT_LABEL",
    "STAGE_RESOURCE_LABEL",
    "StageObjects",
    "config_map_name",
    "job_name",
    "owner_reference",
    "render_stage",
    "stage_resource_object",
]
