"""The one module that calls the Kubernetes API.

Every request the operator makes goes through :class:`Kube`, which counts them (a Prometheus counter
per verb and resource) and turns API errors into :class:`Conflict`, :class:`Forbidden` or
:class:`KubeError` with a message naming the verb, resource and object.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pro_operator import metrics

Obj = dict[str, Any]

GROUP = "pro.alignment.dev"
VERSION = "v1alpha1"
KUBEFLOW_GROUP = "kubeflow.org"
KUBEFLOW_VERSION = "v1"
PYTORCHJOBS = "pytorchjobs"


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


class Kube:
    """The operator's Kubernetes client (the official ``kubernetes`` package)."""

    def __init__(self, api_client: Any) -> None:
        from kubernetes import client

        self.api_client = api_client
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)

    @classmethod
    def connect(cls, kubeconfig: str | None = None) -> Kube:
        """In-cluster credentials, else ``kubeconfig`` / ``$KUBECONFIG`` / ``~/.kube/config``."""
        from kubernetes import config

        if kubeconfig is None:
            try:
                config.load_incluster_config()
                from kubernetes import client

                return cls(client.ApiClient())
            except config.ConfigException:
                pass
        return cls(config.new_client_from_config(config_file=kubeconfig))

    @contextmanager
    def _call(self, verb: str, resource: str, what: str) -> Iterator[None]:
        from kubernetes.client.rest import ApiException

        metrics.API_REQUESTS.labels(verb=verb, resource=resource).inc()
        try:
            yield
        except ApiException as err:
            status = err.status
            detail = _reason(err)
            message = f"{verb} {resource} {what}: {detail}"
            if status == 409:
                raise Conflict(message, status) from None
            if status == 404:
                raise NotFound(message, status) from None
            if status == 403:
                raise Forbidden(message, status) from None
            raise KubeError(message, status) from None

    # ----------------------------------------------------------------- custom objects
    def get(self, ref: Ref) -> Obj:
        with self._call("get", ref.resource, f"{ref.namespace}/{ref.name}"):
            obj: Obj = self.custom.get_namespaced_custom_object(
                ref.group, ref.version, ref.namespace, ref.plural, ref.name
            )
        return obj

    def list_objects(
        self, group: str, version: str, plural: str, namespace: str | None, *, label_selector: str = ""
    ) -> list[Obj]:
        """Every object of a kind in ``namespace`` (None: all namespaces), each with apiVersion and kind."""
        resource = f"{plural}.{group}"
        with self._call("list", resource, namespace or "(all namespaces)"):
            if namespace is None:
                found = self.custom.list_cluster_custom_object(
                    group, version, plural, label_selector=label_selector
                )
            else:
                found = self.custom.list_namespaced_custom_object(
                    group, version, namespace, plural, label_selector=label_selector
                )
        items: list[Obj] = found.get("items", [])
        return items

    def create(self, ref: Ref, body: Obj) -> Obj:
        with self._call("create", ref.resource, f"{ref.namespace}/{ref.name}"):
            obj: Obj = self.custom.create_namespaced_custom_object(
                ref.group, ref.version, ref.namespace, ref.plural, body
            )
        return obj

    def replace_spec(self, ref: Ref, body: Obj) -> Obj:
        """PUT the object (``body`` carries the resourceVersion it was based on)."""
        with self._call("update", ref.resource, f"{ref.namespace}/{ref.name}"):
            obj: Obj = self.custom.replace_namespaced_custom_object(
                ref.group, ref.version, ref.namespace, ref.plural, ref.name, body
            )
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
        """``PATCH`` the object (or ``subresource``) with an explicit ``application/merge-patch+json``
        body: ``null`` values remove fields, a ``metadata.resourceVersion`` is a precondition."""
        path = f"/apis/{ref.group}/{ref.version}/namespaces/{ref.namespace}/{ref.plural}/{ref.name}"
        resource = f"{ref.resource}/{subresource}" if subresource else ref.resource
        with self._call("patch", resource, f"{ref.namespace}/{ref.name}"):
            obj: Obj = self.custom.api_client.call_api(
                f"{path}/{subresource}" if subresource else path,
                "PATCH",
                body=body,
                header_params={"Content-Type": "application/merge-patch+json", "Accept": "application/json"},
                response_type="object",
                auth_settings=["BearerToken"],
                _return_http_data_only=True,
            )
        return obj

    def delete(self, ref: Ref) -> None:
        """Delete with background propagation (owned objects are garbage-collected); gone is fine."""
        try:
            with self._call("delete", ref.resource, f"{ref.namespace}/{ref.name}"):
                self.custom.delete_namespaced_custom_object(
                    ref.group,
                    ref.version,
                    ref.namespace,
                    ref.plural,
                    ref.name,
                    propagation_policy="Background",
                )
        except NotFound:
            pass

    # ----------------------------------------------------------------- core objects
    def apply_config_map(self, body: Obj) -> None:
        """Create the ConfigMap, or replace its data when it exists with other data."""
        meta = body["metadata"]
        ns, name = meta["namespace"], meta["name"]
        try:
            with self._call("create", "configmaps", f"{ns}/{name}"):
                _discard(self.core.create_namespaced_config_map(ns, body, _preload_content=False))
            return
        except Conflict:
            pass
        with self._call("get", "configmaps", f"{ns}/{name}"):
            current = self.core.read_namespaced_config_map(name, ns)
        if (current.data or {}) != body.get("data", {}):
            with self._call("patch", "configmaps", f"{ns}/{name}"):
                self.core.patch_namespaced_config_map(name, ns, {"data": body["data"]})

    def pods(self, namespace: str, selector: str) -> list[Obj]:
        with self._call("list", "pods", f"{namespace} ({selector})"):
            found = self.core.list_namespaced_pod(namespace, label_selector=selector)
        items: list[Obj] = self.api_client.sanitize_for_serialization(found)["items"]
        return items

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
            _discard(self.core.create_namespaced_event(meta["namespace"], body, _preload_content=False))


def _discard(response: Any) -> None:
    """Read and release a raw response (``_preload_content=False``: no client model is built from a
    body nobody reads).  Unread, its connection would not go back to the pool, and every such request
    would open a new TLS connection."""
    response.read()
    response.release_conn()


def _reason(err: Any) -> str:
    try:
        data = json.loads(err.body)
        return str(data.get("message") or err.reason)
    except (TypeError, ValueError):
        return str(err.reason or err)


def custom_ref(plural: str, namespace: str, name: str) -> Ref:
    return Ref(GROUP, VERSION, plural, namespace, name)


def job_ref(namespace: str, name: str) -> Ref:
    return Ref(KUBEFLOW_GROUP, KUBEFLOW_VERSION, PYTORCHJOBS, namespace, name)
