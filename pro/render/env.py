"""The stage environment: the variables every stage process gets, in a pod or on this machine.

One function, read by the job renderer (:mod:`pro.render.jobs`, values in the pod template) and the local
runner (:mod:`pro.runner.loop`, the process environment), so the two cannot drift.  What only one of them
adds is theirs: a pod's scratch locations (its root filesystem is read-only) and credentials from a Secret;
a local process's thread count (the stages share this machine's cores).
"""

from __future__ import annotations

from pro.spec.execution import StorageAccess


def stage_env(storage: StorageAccess) -> dict[str, str]:
    """Unbuffered output (logs arrive as written) and the store's endpoint and region for boto3's
    standard chain; never credentials."""
    env = {"PYTHONUNBUFFERED": "1"}
    if storage.endpoint_url:
        env["AWS_ENDPOINT_URL_S3"] = storage.endpoint_url
    if storage.region:
        env["AWS_REGION"] = storage.region
        env["AWS_DEFAULT_REGION"] = storage.region
    return env
