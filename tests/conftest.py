"""Test tiers, and the real servers of the integration tier (started once per session).

Tiers are pytest markers: ``unit`` (pure, fast), ``ml`` (tiny models on CPU) and
``integration`` (real servers on loopback).  Every test carries exactly one.

Where no Kubernetes API server can be had, integration tests that need one are skipped
with a message saying how to enable them; with ``CI=true`` (or
``PRO_REQUIRE_INTEGRATION=1``) that skip is a failure instead.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadScopeScheduling

from pro.testing import kube as kube_harness
from pro.testing.s3server import S3Server

TIERS = ("unit", "ml", "integration")
#: seconds each slow test took (setup, call and teardown), recorded by ``PRO_RECORD_DURATIONS=1``: the
#: scheduler hands out the longest work first; a missing or stale entry costs speed, never correctness
DURATIONS = Path(__file__).with_name("durations.json")
#: what a test not in DURATIONS is taken to cost
UNLISTED_SECONDS = 0.2


def _integration_required() -> bool:
    flag = os.environ.get("PRO_REQUIRE_INTEGRATION")
    if flag is not None:
        return flag not in ("", "0", "false")
    return os.environ.get("CI", "").lower() == "true"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each test must declare exactly one tier."""
    bad = []
    for item in items:
        tiers = [t for t in TIERS if item.get_closest_marker(t)]
        if len(tiers) != 1:
            bad.append(f"{item.nodeid}: {tiers or 'no tier'}")
    if bad:
        raise pytest.UsageError(
            "every test needs exactly one tier marker (unit|ml|integration):\n" + "\n".join(bad)
        )


class ModuleFixtureScheduling(LoadScopeScheduling):
    """pytest-xdist scheduling that keeps the tests of a module with a module-scoped fixture on one
    worker, so the fixture (the core end-to-end run takes minutes) is set up once, not once per worker;
    every other test is a unit of its own, handed to whichever worker is free.

    ``--dist loadgroup`` with ``xdist_group`` marks would say this, but pytest-xdist 3.8 cannot apply
    them under pytest 9.2 (pytest-dev/pytest-xdist#1386), and its controller sees only test ids, so
    the modules are found by their text: one that declares a ``scope="module"`` fixture.

    Work goes out longest first (recorded in :data:`DURATIONS`), so that no long test starts last while
    the other workers idle.
    """

    def _split_scope(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0]
        return module if _declares_module_fixture(Path(self.config.rootpath, module)) else nodeid

    def schedule(self) -> None:
        """``LoadScopeScheduling.schedule`` (pytest-xdist 3.8) with the scopes queued by recorded cost."""
        assert self.collection_is_completed
        if self.collection is not None:  # initial distribution done: as upstream, reschedule
            for node in self.nodes:
                self._reschedule(node)
            return
        if not self._check_nodes_have_same_collection():
            self.log("**Different tests collected, aborting run**")
            return
        self.collection = list(next(iter(self.registered_collections.values())))
        if not self.collection:
            return
        known = recorded_durations()
        units: dict[str, dict[str, bool]] = {}
        cost: dict[str, float] = {}
        for nodeid in self.collection:
            scope = self._split_scope(nodeid)
            units.setdefault(scope, {})[nodeid] = False
            cost[scope] = cost.get(scope, 0.0) + known.get(nodeid, UNLISTED_SECONDS)
        for scope in sorted(units, key=lambda sc: -cost[sc]):
            self.workqueue[scope] = units[scope]
        for _ in range(max(0, len(self.nodes) - len(self.workqueue))):  # more workers than work
            unused, _assigned = self.assigned_work.popitem()
            unused.shutdown()
        for node in self.nodes:
            self._assign_work_unit(node)
        for node in self.nodes:
            self._reschedule(node)
        if not self.workqueue:
            for node in self.nodes:
                node.shutdown()


def recorded_durations() -> dict[str, float]:
    """Seconds per test id as last recorded (empty when never recorded)."""
    try:
        data = json.loads(DURATIONS.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): float(v) for k, v in data.items()} if isinstance(data, dict) else {}


_took: dict[str, float] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """With ``PRO_RECORD_DURATIONS=1``: add up each test's setup, call and teardown (on the controller)."""
    if os.environ.get("PRO_RECORD_DURATIONS"):
        _took[report.nodeid] = _took.get(report.nodeid, 0.0) + report.duration


def pytest_sessionfinish(session: pytest.Session) -> None:
    """With ``PRO_RECORD_DURATIONS=1``: write the tests over a second to :data:`DURATIONS` (not from an
    xdist worker: the controller saw every report)."""
    if os.environ.get("PRO_RECORD_DURATIONS") and not hasattr(session.config, "workerinput") and _took:
        slow = {k: round(v, 1) for k, v in sorted(_took.items(), key=lambda kv: -kv[1]) if v >= 1.0}
        DURATIONS.write_text(json.dumps(slow, indent=1) + "\n")


@cache
def _declares_module_fixture(path: Path) -> bool:
    return path.is_file() and 'scope="module"' in path.read_text(encoding="utf-8")


@pytest.hookimpl(tryfirst=True, optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> LoadScopeScheduling | None:
    """``--dist loadscope`` (what ``make test`` runs) schedules with :class:`ModuleFixtureScheduling`."""
    if config.getvalue("dist") != "loadscope":
        return None
    return ModuleFixtureScheduling(config, log)


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """One S3-protocol server (moto, own process) on 127.0.0.1 for the whole session."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with S3Server(log_path=log) as server:
        yield server


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point the standard AWS chain (env variables) of this process at the session's server."""
    env = s3_server.client_env()
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL_S3", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def s3_bucket(s3_server: S3Server, s3_env: dict[str, str]) -> str:
    """A fresh, empty bucket on the session's server."""
    import boto3

    name = f"test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server.endpoint_url).create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def kube_cluster() -> Iterator[kube_harness.KubeCluster]:
    """A real kube-apiserver for the session: kube-local on loopback, or PRO_TEST_KUBECONFIG."""
    reason = kube_harness.unavailable_reason()
    if reason is not None:
        if _integration_required():
            pytest.fail(f"integration tier required (CI) but unavailable: {reason}", pytrace=False)
        pytest.skip(reason)
    cluster = kube_harness.start(owner_pid=os.getpid())
    try:
        yield cluster
    finally:
        kube_harness.stop(cluster)


@pytest.fixture
def kube_namespace(kube_cluster: kube_harness.KubeCluster) -> Iterator[tuple[object, str]]:
    """A fresh namespace per test (deleted afterwards) and a CoreV1Api bound to the cluster."""
    from kubernetes import client, config

    api_client = config.new_client_from_config(config_file=kube_cluster.kubeconfig)
    core = client.CoreV1Api(api_client)
    name = f"pro-test-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    try:
        yield core, name
    finally:
        core.delete_namespace(name)
        api_client.close()


@pytest.fixture
def repo_root() -> Path:
    return Path(__file__).resolve().parents[1]
