"""The one module that calls the Kubernetes API.

Every request the operator makes goes through :class:`Kube`, which counts them (a Prometheus counter
per verb and resource) and turns API errors into :class:`Conflict`, :class:`Forbidden` or
:class:`KubeError` with a message naming the verb, resource and object.

The requests are plain JSON over a pooled ``urllib3`` connection, not the ``kubernetes`` package: the
operator reads and writes dicts anyway, and that package's ~700 model classes cost ~35 MB of memory
and a millisecond or more per request.  Credentials come from the same login kopf's watches use.
"""

from __future__ import annotations

import json
import secrets
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import urllib3

from pro.spec.conventions import API_GROUP, API_VERSION
from pro_operator import __version__, metrics

Obj = dict[str, Any]

MERGE_PATCH = "application/merge-patch+json"
#: ask for an object's metadata only (``PartialObjectMetadata``): a Secret read so brings no data
METADATA_ONLY = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
USER_AGENT = f"pro-operator/{__version__}"


class KubeError(RuntimeError):
    """An API request failed."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Conflict(KubeError):
    """409: the object changed since it was read (or already exists)."""


class NotFound(KubeError):
    """404."""


class Forbidden(KubeError):
    """403: RBAC does not allow the request."""


class Fenced(KubeError):
    """A write not sent: this replica may not write now (a standby, or a leader that lost its lease)."""


#: verbs that never change anything (never fenced)
READS = frozenset({"get", "list", "watch"})


class NotOwned(KubeError):
    """An object of the name we create exists and is not ours (another controller's, or none's): it is
    left as it is."""


@dataclass(frozen=True)
class Ref:
    """Where an object lives: ``(group, version, plural)`` and namespace/name."""

    group: str
    version: str
    plural: str
    namespace: str
    name: str

    @property
    def resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural


@dataclass(frozen=True)
class Connection:
    """Where the API server is and how to authenticate: what a login gives (the pod's service account,
    or a kubeconfig; see ``pro_operator.handlers.login``)."""

    server: str
    """``https://host:port`` (or ``http://`` for a plain-text test server)."""
    ssl_context: ssl.SSLContext | None = None
    """Server verification and client certificates; None: the system's defaults."""
    authorization: str | None = None
    """The ``Authorization`` header (``Bearer <token>``), or None (client certificates only)."""


class Kube:
    """The operator's Kubernetes client: JSON over HTTPS with a pooled ``urllib3`` connection per
    thread at most, credentials from ``login`` (called again when the server answers 401, e.g. after a
    service-account token rotated).  Thread-safe."""

    def __init__(self, login: Callable[[], Connection], *, connections: int = 16) -> None:
        self._login = login
        self._lock = threading.Lock()
        self._connections = connections
        self._fence: str | None = None
        self._conn, self._pool = self._connect()

    def fence(self, reason: str | None) -> None:
        """Refuse every write from now on, raising :class:`Fenced` with ``reason`` (None: write again).
        Reads and the leader election's own Lease requests are never refused."""
        self._fence = reason

    def _connect(self) -> tuple[Connection, urllib3.PoolManager]:
        conn = self._login()
        pool = urllib3.PoolManager(
            num_pools=2,
            maxsize=self._connections,
            ssl_context=conn.ssl_context,
            timeout=urllib3.Timeout(connect=10, read=120),
            retries=urllib3.Retry(total=2, connect=2, read=0, status=0, other=0, redirect=0),
        )
        return conn, pool

    def _request(self, method: str, path: str, body: Any = None, *, query: dict[str, str] | None = None,
                 content_type: str = "application/json", text: bool = False,
                 timeout: float | None = None, accept: str = "application/json") -> Any:  # fmt: skip
        """One request; the decoded JSON answer (with ``text``: the answer as text), within ``timeout``
        seconds to connect and to read (default: the pool's).  Raises :class:`_Status` for an error
        status and :class:`KubeError` when the server cannot be reached."""
        params = {k: v for k, v in (query or {}).items() if v}
        for attempt in (1, 2):
            conn, pool = self._conn, self._pool
            headers = {"Accept": accept, "User-Agent": USER_AGENT}
            if conn.authorization:
                headers["Authorization"] = conn.authorization
            data = None
            if body is not None:
                headers["Content-Type"] = content_type
                data = json.dumps(body, separators=(",", ":")).encode()
            url = conn.server.rstrip("/") + path + (f"?{urlencode(params)}" if params else "")
            try:
                if timeout:
                    limit = urllib3.Timeout(connect=timeout, read=timeout)
                    response = pool.request(method, url, body=data, headers=headers, timeout=limit)
                else:  # the pool's (an explicit None would mean: wait for ever)
                    response = pool.request(method, url, body=data, headers=headers)
            except urllib3.exceptions.HTTPError as err:
                raise KubeError(f"cannot reach the API server at {conn.server}: {err}") from None
            if response.status == 401 and attempt == 1:  # credentials expired or rotated: log in again
                with self._lock:
                    if self._conn is conn:
                        self._conn, self._pool = self._connect()
                continue
            if response.status >= 400:
                raise _Status(response.status, _message(response))
            if text:
                return response.data.decode(errors="replace")
            return json.loads(response.data) if response.data else None
        raise AssertionError("unreachable")

    @contextmanager
    def _call(self, verb: str, resource: str, what: str, *, fenced: bool = True) -> Iterator[None]:
        """One request's bookkeeping: refused when fenced (a write), counted, its error typed."""
        if fenced and verb not in READS and self._fence is not None:
            raise Fenced(f"{verb} {resource} {what}: not sent: {self._fence}")
        metrics.API_REQUESTS.labels(verb=verb, resource=resource).inc()
        try:
            yield
        except _Status as err:
            status = err.status
            message = f"{verb} {resource} {what}: {err.message}"
            if status == 409:
                raise Conflict(message, status) from None
            if status == 404:
                raise NotFound(message, status) from None
            if status == 403:
                raise Forbidden(message, status) from None
            raise KubeError(message, status) from None

    # ----------------------------------------------------------------- discovery
    def served(self, group: str, version: str) -> set[str]:
        """The resources (plurals) the API server serves in ``group/version`` (none when it serves no such
        group version).  Discovery: every authenticated user may ask (``system:discovery``)."""
        try:
            with self._call("get", "/apis", f"{group}/{version}"):
                found = self._request("GET", f"/apis/{group}/{version}")
        except NotFound:
            return set()
        return {r["name"] for r in found.get("resources") or [] if "/" not in r.get("name", "/")}

    # ----------------------------------------------------------------- custom objects
    def get(self, ref: Ref) -> Obj:
        with self._call("get", ref.resource, f"{ref.namespace}/{ref.name}"):
            obj: Obj = self._request("GET", _path(ref))
        return obj

    def list_objects(
        self, group: str, version: str, plural: str, namespace: str | None, *, label_selector: str = ""
    ) -> list[Obj]:
        """Every object of a kind in ``namespace`` (None: all namespaces), each with apiVersion and kind."""
        resource = f"{plural}.{group}"
        where = f"/namespaces/{namespace}" if namespace is not None else ""
        with self._call("list", resource, namespace or "(all namespaces)"):
            found = self._request(
                "GET", f"/apis/{group}/{version}{where}/{plural}", query={"labelSelector": label_selector}
            )
        items: list[Obj] = found.get("items") or []
        return items

    def create(self, ref: Ref, body: Obj) -> Obj:
        with self._call("create", ref.resource, f"{ref.namespace}/{ref.name}"):
            obj: Obj = self._request("POST", _path(ref, named=False), body)
        return obj

    def replace_spec(self, ref: Ref, body: Obj) -> Obj:
        """PUT the object (``body`` carries the resourceVersion it was based on)."""
        with self._call("update", ref.resource, f"{ref.namespace}/{ref.name}"):
            obj: Obj = self._request("PUT", _path(ref), body)
        return obj

    def patch(self, ref: Ref, patch: Obj) -> Obj:
        """JSON merge patch of the object (not its status)."""
        return self._merge_patch(ref, patch)

    def patch_status(self, ref: Ref, status: Obj, resource_version: str | None) -> Obj:
        """Merge-patch ``status`` through the status subresource; with ``resource_version`` the write
        fails with :class:`Conflict` when the object changed since it was read."""
        body: Obj = {"status": status}
        if resource_version:
            body["metadata"] = {"resourceVersion": resource_version}
        return self._merge_patch(ref, body, subresource="status")

    def _merge_patch(self, ref: Ref, body: Obj, *, subresource: str = "") -> Obj:
        """``PATCH`` the object (or ``subresource``) with an ``application/merge-patch+json`` body:
        ``null`` values remove fields, a ``metadata.resourceVersion`` is a precondition."""
        resource = f"{ref.resource}/{subresource}" if subresource else ref.resource
        path = f"{_path(ref)}/{subresource}" if subresource else _path(ref)
        with self._call("patch", resource, f"{ref.namespace}/{ref.name}"):
            obj: Obj = self._request("PATCH", path, body, content_type=MERGE_PATCH)
        return obj

    def delete(self, ref: Ref) -> None:
        """Delete with background propagation (owned objects are garbage-collected); gone is fine."""
        options = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}
        try:
            with self._call("delete", ref.resource, f"{ref.namespace}/{ref.name}"):
                self._request("DELETE", _path(ref), options)
        except NotFound:
            pass

    # ----------------------------------------------------------------- core objects
    def apply_config_map(self, body: Obj) -> None:
        """Create the ConfigMap, or replace its data when it exists with other data — only when the one that
        exists has the same controller as ``body`` (:class:`NotOwned`: another's is never changed)."""
        meta = body["metadata"]
        ns, name = meta["namespace"], meta["name"]
        path = f"/api/v1/namespaces/{ns}/configmaps"
        try:
            with self._call("create", "configmaps", f"{ns}/{name}"):
                self._request("POST", path, body)
            return
        except Conflict:
            pass
        with self._call("get", "configmaps", f"{ns}/{name}"):
            current = self._request("GET", f"{path}/{name}")
        if not owned_alike(body, current):
            raise not_ours(f"ConfigMap {ns}/{name}", current)
        if (current.get("data") or {}) != body.get("data", {}):
            with self._call("patch", "configmaps", f"{ns}/{name}"):
                self._request("PATCH", f"{path}/{name}", {"data": body["data"]}, content_type=MERGE_PATCH)

    def secret_labels(self, namespace: str, name: str) -> dict[str, str] | None:
        """The labels of Secret ``name`` (None: there is none), read as metadata only: its data never
        reaches the operator."""
        try:
            with self._call("get", "secrets", f"{namespace}/{name}"):
                found = self._request(
                    "GET", f"/api/v1/namespaces/{namespace}/secrets/{name}", accept=METADATA_ONLY
                )
        except NotFound:
            return None
        labels: dict[str, str] = (found.get("metadata") or {}).get("labels") or {}
        return labels

    def pods(self, namespace: str, selector: str) -> list[Obj]:
        with self._call("list", "pods", f"{namespace} ({selector})"):
            found = self._request(
                "GET", f"/api/v1/namespaces/{namespace}/pods", query={"labelSelector": selector}
            )
        items: list[Obj] = found.get("items") or []
        return items

    def pod_log(self, namespace: str, pod: str, container: str, *, lines: int) -> str:
        """The last ``lines`` lines of a pod's container log (the kubelet's, through the API server)."""
        with self._call("get", "pods/log", f"{namespace}/{pod} ({container})"):
            text: str = self._request(
                "GET", f"/api/v1/namespaces/{namespace}/pods/{pod}/log",
                query={"container": container, "tailLines": str(lines)}, text=True,
            )  # fmt: skip
        return text

    def event(self, involved: Obj, reason: str, message: str, *, warning: bool = False, now: str) -> None:
        """Record a core/v1 Event on ``involved`` (an object body)."""
        meta = involved["metadata"]
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{secrets.token_hex(8)}", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": involved["apiVersion"],
                "kind": involved["kind"],
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": reason,
            "message": message[:1024],
            "type": "Warning" if warning else "Normal",
            "source": {"component": "pro-operator"},
            "reportingComponent": "pro-operator",
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        with self._call("create", "events", f"{meta['namespace']}/{meta['name']}"):
            self._request("POST", f"/api/v1/namespaces/{meta['namespace']}/events", body)

    # ----------------------------------------------------------------- the leader election's Lease
    def get_lease(self, namespace: str, name: str, *, timeout: float | None = None) -> Obj | None:
        """The Lease (None: there is none)."""
        try:
            with self._call("get", "leases.coordination.k8s.io", f"{namespace}/{name}"):
                obj: Obj = self._request("GET", _lease_path(namespace, name), timeout=timeout)
        except NotFound:
            return None
        return obj

    def create_lease(self, body: Obj, *, timeout: float | None = None) -> Obj:
        """Create the Lease (:class:`Conflict` when it exists); never fenced."""
        meta = body["metadata"]
        where = f"{meta['namespace']}/{meta['name']}"
        with self._call("create", "leases.coordination.k8s.io", where, fenced=False):
            obj: Obj = self._request("POST", _lease_path(meta["namespace"]), body, timeout=timeout)
        return obj

    def replace_lease(self, body: Obj, *, timeout: float | None = None) -> Obj:
        """PUT the Lease, guarded by the resourceVersion ``body`` carries (:class:`Conflict` when it
        changed since); never fenced."""
        meta = body["metadata"]
        where = f"{meta['namespace']}/{meta['name']}"
        with self._call("update", "leases.coordination.k8s.io", where, fenced=False):
            obj: Obj = self._request(
                "PUT", _lease_path(meta["namespace"], meta["name"]), body, timeout=timeout
            )
        return obj


class _Status(Exception):
    """The API server answered with an error status (``message``: its own words)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, message)
        self.status, self.message = status, message


def _message(response: Any) -> str:
    """The message of a ``Status`` answer, else the HTTP reason."""
    try:
        data = json.loads(response.data)
        return str(data.get("message") or response.reason)
    except (TypeError, ValueError, AttributeError):
        return str(response.reason or f"HTTP {response.status}")


def _path(ref: Ref, *, named: bool = True) -> str:
    group = f"/apis/{ref.group}/{ref.version}" if ref.group else f"/api/{ref.version}"
    base = f"{group}/namespaces/{ref.namespace}/{ref.plural}"
    return f"{base}/{ref.name}" if named else base


def _lease_path(namespace: str, name: str = "") -> str:
    base = f"/apis/coordination.k8s.io/v1/namespaces/{namespace}/leases"
    return f"{base}/{name}" if name else base


def controller(obj: Obj) -> Obj | None:
    """The ownerReference of the object's controlling owner (None: it has none)."""
    for owner in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if owner.get("controller"):
            found: Obj = owner
            return found
    return None


def owned_alike(ours: Obj, found: Obj) -> bool:
    """Whether ``found`` has the controller ``ours`` names (the same uid)."""
    mine, theirs = controller(ours), controller(found)
    return mine is not None and theirs is not None and mine.get("uid") == theirs.get("uid")


def not_ours(what: str, found: Obj) -> NotOwned:
    """The error for an object of the name we create that another controls."""
    owner = controller(found)
    who = f"{owner.get('kind')} {owner.get('name')}" if owner else "nothing"
    return NotOwned(f"{what} exists and is not this object's (controlled by {who}); it is left as it is")


def custom_ref(plural: str, namespace: str, name: str) -> Ref:
    return Ref(API_GROUP, API_VERSION, plural, namespace, name)
