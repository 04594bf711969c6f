"""This operator replica's identity among its peers (kopf's peering, the leader-election Lease).

Never derived from the passwd database: a container started under a UID with no ``/etc/passwd`` entry (the
chart's 65532 on a distroless-style image, or the arbitrary UIDs OpenShift assigns) makes
``getpass.getuser()`` raise ``KeyError: 'getpwuid(): uid not found'``, which kopf's default identity
calls at start-up.
"""

from __future__ import annotations

import os
import socket
import uuid


def own_identity() -> str:
    """``POD_NAME`` (the chart sets it from the downward API), else ``<hostname>-<pid>``; a short random
    suffix keeps two processes on one host (or a restarted pod) apart."""
    base = os.environ.get("POD_NAME") or f"{socket.gethostname()}-{os.getpid()}"
    return f"{base}_{uuid.uuid4().hex[:6]}"
