"""The one module that touches kopf: watch streams feed the cache and the work queue.

Every handler is an ``on.event`` handler (no kopf progress annotations, no finalizers): an event only
says "look at this object (and its owner) again"; the controllers re-plan from the observed state,
level-based.  The queue's workers run the controllers in threads.

kopf is used for what it is good at here: watch streams that resume, re-list and time out, login (the
same credentials serve the controllers' :class:`~pro_operator.kube.Kube`), and probes.  Its per-object machinery for on.create/update handlers is switched off where it costs work
on every event: no diff base is built (a deep copy of each body), and a handled event is not logged.
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import logging
import os
import threading
import time
from collections.abc import Hashable
from datetime import datetime
from typing import Any, cast

import kopf

from pro.spec.conventions import API_GROUP, API_VERSION, PIPELINE_LABEL, SCHEDULE_LABEL, STAGE_RESOURCE_LABEL
from pro.spec.guardrails import Guardrails
from pro.spec.kinds import all_kinds, kind_of_plural, stage_kinds, stage_plurals
from pro_operator import kube, metrics
from pro_operator.backends import JobSupport
from pro_operator.cache import ObjectCache
from pro_operator.context import Context, Key, store_check
from pro_operator.events import EventRecorder
from pro_operator.jobs import BACKENDS, job_plurals
from pro_operator.leader import Elector
from pro_operator.pipeline import PLURAL as PIPELINES
from pro_operator.pipeline import reconcile_pipeline
from pro_operator.schedule import PLURAL as SCHEDULES
from pro_operator.schedule import reconcile_schedule
from pro_operator.stage import reconcile_stage
from pro_operator.workqueue import Lane, WorkQueue

log = logging.getLogger("pro_operator")

#: the exit status of a leader that lost its lease
EXIT_LOST_LEASE = 1
#: on a graceful stop, how long the reconciles running may take to finish (then the Events are posted
#: and the lease released, all within the pod's termination grace period)
DRAIN_SECONDS = 10.0


def watched(jobs: JobSupport | None = None) -> tuple[tuple[str, str, str, str], ...]:
    """What the operator watches: (group, version, plural, label that must be present or ""): every kind
    of the kind table, and the jobs of our stage resources of every job backend the cluster serves (all
    of them when not known)."""
    served = (jobs or JobSupport()).served
    return (
        *((API_GROUP, API_VERSION, k.plural, "") for k in all_kinds()),
        *((b.group, b.version, b.plural, STAGE_RESOURCE_LABEL) for k, b in BACKENDS.items() if k in served),
    )


SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"


def credentials(*, in_cluster: bool = True) -> kopf.ConnectionInfo:
    """The API server and how to log in, found as kubectl finds them: the pod's service account (when
    ``in_cluster`` and there is one), else the kubeconfig ($KUBECONFIG, else ~/.kube/config).  A
    kubeconfig user that authenticates with an exec plugin or an auth provider is asked through the
    ``kubernetes`` package, which runs the plugin (not in the operator image)."""
    settings = kopf.OperatorSettings()
    found: kopf.ConnectionInfo | None = None
    if in_cluster and os.path.exists(SERVICE_ACCOUNT_TOKEN):
        found = kopf.login_with_service_account(settings=settings)
    if found is None:
        try:
            found = kopf.login_with_kubeconfig(settings=settings)
        except (OSError, KeyError, ValueError) as err:  # a missing file, context, cluster or user
            where = os.environ.get("KUBECONFIG") or "~/.kube/config"
            raise kopf.LoginError(f"kubeconfig {where}: {type(err).__name__}: {err}") from None
    if found is None:
        raise kopf.LoginError(
            "no credentials: not in a pod with a service account, and no kubeconfig "
            "(--kubeconfig, $KUBECONFIG or ~/.kube/config)"
        )
    if not (found.token or found.certificate_path or found.certificate_data or found.username):
        if importlib.util.find_spec("kubernetes") is None:
            raise kopf.LoginError(
                f"the kubeconfig user for {found.server} has no token or client certificate (an exec "
                "plugin or auth provider?): install the `kubernetes` package to run it, or use a token"
            )
        server = found.server
        found = kopf.login_via_client(settings=settings, logger=log)
        if found is None:
            raise kopf.LoginError(f"the kubernetes package found no credentials for {server}")
    return found


def connection(info: kopf.ConnectionInfo) -> kube.Connection:
    """kopf's credentials as the controllers' client uses them."""
    authorization = None
    if info.token:
        authorization = f"{info.scheme or 'Bearer'} {info.token}"
    elif info.username and info.password:
        basic = base64.b64encode(f"{info.username}:{info.password}".encode()).decode()
        authorization = f"Basic {basic}"
    context = info.as_ssl_context() if info.server.startswith("https:") else None
    return kube.Connection(info.server, context, authorization)


def client(*, in_cluster: bool = True, connections: int = 16) -> kube.Kube:
    """The controllers' API client, logged in as kopf's watches are (and again after a 401)."""
    return kube.Kube(lambda: connection(credentials(in_cluster=in_cluster)), connections=connections)


class Runtime:
    """The operator's moving parts, wired to a kopf registry by :func:`register`."""

    def __init__(
        self,
        client: kube.Kube,
        *,
        workers: int = 4,
        admission_workers: int | None = None,
        namespaces: list[str] | None = None,
        in_cluster: bool = True,
        jobs: JobSupport | None = None,
        elector: Elector | None = None,
        guardrails: Guardrails | None = None,
    ) -> None:
        self.cache = ObjectCache()
        self.workers = workers
        self.admission_workers = admission_workers
        self.namespaces = namespaces
        """The namespaces watched (None: all)."""
        self.in_cluster = in_cluster
        """Log in with the pod's service account when there is one (False: a kubeconfig was named)."""
        self.queue: WorkQueue | None = None
        self.elector = elector
        """The leader election (None: this replica acts alone, from the start)."""
        self._starting: asyncio.Task[None] | None = None
        if elector is not None:
            client.fence("standing by: another replica leads")  # until this one leads
        self._reconciling = threading.local()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.ctx = Context(
            kube=client,
            cache=self.cache,
            enqueue=self.enqueue,
            seen=self.seen,
            committed=store_check,
            events=EventRecorder(client),
            jobs=jobs or JobSupport(),
            guardrails=guardrails or Guardrails(),
        )

    def seen(self, plural: str, obj: dict[str, Any]) -> None:
        """An object the API returned for a write of the reconcile running in this thread: cache it
        and reconcile what it concerns now (a write-through cache: the watch's echo of it, later, is no
        news).  Not the writer itself: its reconcile already knows what it wrote; anything else that
        changed meanwhile re-queues it anyway."""
        writer = getattr(self._reconciling, "key", None)
        for key in self.observe(plural, {"type": "MODIFIED", "object": obj}):
            if key != writer:
                self.enqueue(key)

    def lead(self) -> None:
        """This replica leads now: write, list everything afresh (the last writes of the replica that
        led before may not have come through the watches yet), and reconcile everything, as a restarted
        operator does."""
        assert self.loop is not None and self.queue is not None
        self.ctx.kube.fence(None)
        queue = self.queue

        async def start() -> None:
            try:
                await asyncio.to_thread(self.sync)
            except Exception as err:  # a leader that cannot start must not hold the lease
                self.lost(f"cannot start reconciling: {type(err).__name__}: {err}")
            keys = [key for k in all_kinds() for key in self.cache.keys(k.plural)]
            for key in keys:
                queue.add(key)
            queue.start()
            log.info("leading: reconciling %d objects", len(keys))

        self._starting = self.loop.create_task(start(), name="start reconciling")  # kept: tasks are weak

    def lost(self, why: str) -> None:
        """This replica leads no more: no write from now on, and exit non-zero at once (Kubernetes
        restarts the pod, as a standby); what the reconciles were doing, the next leader does again."""
        self.ctx.kube.fence(f"lost the lease: {why}")
        log.error("stopped leading (%s): exiting", why)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(EXIT_LOST_LEASE)

    def enqueue(self, key: Hashable) -> None:
        if self.loop is not None and self.queue is not None:
            self.loop.call_soon_threadsafe(self.queue.add, key)

    def lane(self, key: Hashable) -> Lane:
        """A pipeline never reconciled yet (no phase) waits in the admission lane; everything else is
        progress of what already runs."""
        plural, namespace, name = cast(Key, key)
        if plural == PIPELINES and self.cache.phase(plural, namespace, name) is None:
            return Lane.ADMISSION
        return Lane.PROGRESS

    def reconcile(self, key: Hashable) -> datetime | None:
        """Run the controller of ``key``'s kind (timed: ``pro_operator_reconcile_seconds``)."""
        plural, namespace, name = cast(Key, key)
        started = time.perf_counter()
        self._reconciling.key = key
        try:
            if plural in stage_plurals():
                return reconcile_stage(self.ctx, plural, namespace, name)
            if plural == PIPELINES:
                return reconcile_pipeline(self.ctx, namespace, name)
            if plural == SCHEDULES:
                return reconcile_schedule(self.ctx, namespace, name)
            return None
        finally:
            self._reconciling.key = None
            kind = kind_of_plural(plural)
            metrics.RECONCILE_SECONDS.labels(kind=kind.name if kind else plural).observe(
                time.perf_counter() - started
            )

    def sync(self) -> list[tuple[str, str, str]]:
        """List every watched object into the cache before the first reconcile (an informer's initial
        sync): a controller that reconciled on a partial cache, e.g. a stage resource listed before its
        jobs, would re-plan from missing observations after every restart.  The keys to reconcile."""
        keys: list[tuple[str, str, str]] = []
        for namespace in self.namespaces or [None]:  # type: ignore[list-item]
            for group, version, plural, selector in watched(self.ctx.jobs):
                try:
                    found = self.ctx.kube.list_objects(
                        group, version, plural, namespace, label_selector=selector
                    )
                except kube.KubeError as err:  # no such CRD, or not allowed: the watch says so again
                    log.warning("initial list skipped: %s", err)
                    continue
                for obj in found:
                    keys.extend(self.observe(plural, {"type": None, "object": obj}))
        return list(dict.fromkeys(keys))

    def observe(self, plural: str, event: dict[str, Any]) -> list[tuple[str, str, str]]:
        """Feed one watch event to the cache; the keys it concerns (none when it brings nothing new)."""
        obj = event.get("object") or {}
        meta = obj.get("metadata") or {}
        ns, name = meta.get("namespace", ""), meta.get("name")
        if not name:
            return []
        if event.get("type") == "DELETED":
            self.cache.remove(plural, ns, name)
        elif not self.cache.put(plural, obj):
            return []
        labels = meta.get("labels") or {}
        keys: list[tuple[str, str, str]] = []
        if plural in job_plurals():
            plural_of = {k.name: k.plural for k in stage_kinds()}
            for owner in meta.get("ownerReferences") or []:
                owner_plural = plural_of.get(owner.get("kind", ""))
                if owner_plural and owner.get("controller"):
                    keys.append((owner_plural, ns, owner["name"]))
            return keys
        keys.append((plural, ns, name))
        if plural in stage_plurals() and PIPELINE_LABEL in labels:
            keys.append((PIPELINES, ns, labels[PIPELINE_LABEL]))
        if plural == PIPELINES and SCHEDULE_LABEL in labels:
            keys.append((SCHEDULES, ns, labels[SCHEDULE_LABEL]))
        return keys


class NoDiffBase(kopf.DiffBaseStorage):
    """No diff base: it serves on.create/update/field handlers, and this operator has none (only
    level-based on.event handlers), so kopf's default, a filtered deep copy of every body on every
    event, would be wasted work."""

    def build(self, *, body: kopf.Body, extra_fields: Any = None) -> Any:
        return None

    def fetch(self, *, body: kopf.Body) -> Any:
        return None

    def store(self, *, body: kopf.Body, patch: kopf.Patch, essence: Any) -> None:
        return None


def register(registry: kopf.OperatorRegistry, rt: Runtime) -> None:
    """Watch every kind of ours and the jobs we own; start the queue with the operator."""

    def watch(group: str, version: str, plural: str, **filters: Any) -> None:
        @kopf.on.event(group, version, plural, registry=registry, **filters)
        async def on_event(*, event: Any, **_: Any) -> None:
            if rt.queue is None:
                return
            for key in rt.observe(plural, event):
                rt.queue.add(key)

    for group, version, plural, selector in watched(rt.ctx.jobs):
        if selector:
            watch(group, version, plural, labels={selector: kopf.PRESENT})
        else:
            watch(group, version, plural)

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        return credentials(in_cluster=rt.in_cluster)  # as the controllers' client

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        # a silently stalled watch stream is re-opened: the server ends each watch within 5 minutes,
        # and the client gives up on one that says nothing for longer
        settings.watching.server_timeout = 300
        settings.watching.client_timeout = 330
        settings.watching.connect_timeout = 30
        settings.posting.level = logging.WARNING
        settings.persistence.diffbase_storage = NoDiffBase()
        if rt.namespaces is not None:
            # named namespaces and known kinds: nothing to discover cluster-wide (a namespaced
            # install has no right to list namespaces or CRDs, and kopf would retry for ~50 s)
            settings.scanning.disabled = True
        rt.loop = asyncio.get_running_loop()
        keys = await asyncio.to_thread(rt.sync)  # kopf starts watching after this: nothing is missed
        rt.queue = WorkQueue(
            rt.reconcile,
            workers=rt.workers,
            admission_workers=rt.admission_workers,
            lane=rt.lane,
            on_busy=rt.ctx.events.hold if rt.ctx.events is not None else lambda busy: None,
        )
        for key in keys:
            rt.queue.add(key)
        if rt.elector is None:
            metrics.LEADER.set(1)
            rt.queue.start()
            log.info("pro-operator started with %d workers, %d objects to reconcile", rt.workers, len(keys))
            return
        log.info("pro-operator started with %d workers, standing by: %s", rt.workers, rt.elector.describe())
        rt.elector.start(rt.lead, rt.lost)

    @kopf.on.probe(id="leader", registry=registry)
    def leader(**_: Any) -> bool:
        """Healthy either way (a standby is ready: it takes over at once); /healthz says which."""
        return rt.elector is None or rt.elector.leading

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        if rt.queue is not None:
            await rt.queue.stop(drain=DRAIN_SECONDS)  # the reconciles running finish their writes
        if rt.ctx.events is not None:
            await asyncio.to_thread(rt.ctx.events.close)  # what the last reconciles recorded
        if rt.elector is not None:
            rt.ctx.kube.fence("shutting down")  # nothing more from here: a standby may lead now
            await rt.elector.stop()
