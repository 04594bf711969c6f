"""A test-side stand-in for a kubelet's log endpoint: ``kubectl logs`` (``GET pods/<pod>/log``) on a test
API server reaches the local log files of the job executor's processes.

The API server answers a pod log request by asking the kubelet of the pod's node
(``https://<node address>:<kubelet port>/containerLogs/<namespace>/<pod>/<container>?tailLines=N``).
:class:`LogServer` registers a Node (Ready, its address 127.0.0.1, its kubelet port its own), keeps it
Ready with a heartbeat as a kubelet does (else the node lifecycle controller would evict its pods), and
serves each container's log from the file :meth:`LogServer.log_path` names.  The API server of the
integration tier does not verify a kubelet's certificate (no ``--kubelet-certificate-authority``), so a
self-signed one does.  Pods bound to the node (``spec.nodeName``) get their logs read exactly as on a
cluster.
"""

from __future__ import annotations

import contextlib
import http.server
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from pro.spec.conventions import rfc3339

#: how often the node says it is alive (the node lifecycle controller waits 40 s)
HEARTBEAT_SECONDS = 10.0


def _self_signed(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "kubelet.crt", directory / "kubelet.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "2", "-subj", "/CN=127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


class LogServer:
    """One fake node's kubelet log endpoint; ``logs(namespace, pod, container)`` gives the log file of a
    container (None: no such container here)."""

    def __init__(self, core: Any, logs: Callable[[str, str, str], Path | None]) -> None:
        self.core = core
        self.logs = logs
        self.node = f"jobexec-{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._dir = Path(tempfile.mkdtemp(prefix="pro-kubelet-"))
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                url = urlparse(self.path)
                parts = url.path.strip("/").split("/")
                found = server.logs(*parts[1:4]) if len(parts) == 4 and parts[0] == "containerLogs" else None
                if found is None:
                    self.send_error(404, "no such container")
                    return
                lines = found.read_text(errors="replace").splitlines(keepends=True) if found.exists() else []
                tail = parse_qs(url.query).get("tailLines")
                if tail:
                    lines = lines[-int(tail[0]) :] if int(tail[0]) > 0 else []
                body = "".join(lines).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._http = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        cert, key = _self_signed(self._dir)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._http.socket = context.wrap_socket(self._http.socket, server_side=True)
        self.port = self._http.server_address[1]
        self._threads: list[threading.Thread] = []
        self._since = rfc3339(datetime.now(UTC))

    def start(self) -> LogServer:
        self.core.create_node({"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.node}})
        self._beat()
        for target in (self._http.serve_forever, self._heartbeat):
            t = threading.Thread(target=target, daemon=True, name=f"kubelet-{target.__name__}")
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        self._http.shutdown()
        self._http.server_close()
        with contextlib.suppress(Exception):  # the API server may be gone already
            self.core.delete_node(self.node)

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                self._beat()
            except Exception:
                time.sleep(1)

    def _beat(self) -> None:
        now = rfc3339(datetime.now(UTC))
        ready = {
            "type": "Ready", "status": "True", "reason": "KubeletReady", "message": "test executor node",
            "lastHeartbeatTime": now, "lastTransitionTime": self._since,
        }  # fmt: skip
        self.core.patch_node_status(
            self.node,
            {
                "status": {
                    "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": self.port}},
                    "conditions": [ready],
                }
            },
        )
