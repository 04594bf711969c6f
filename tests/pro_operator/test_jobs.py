"""The job backends read without an API server: a TrainJob's status onto the same observation as a
PyTorchJob's, what the server dropped of a job, and which backend a stage runs on (the integration tests
run the same code through the real operator)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from pro.planner import RunState
from pro.spec.conventions import rfc3339
from pro.spec.execution import KubernetesSettings, StageExecution
from pro_operator.backends import JobSupport, Refusal, choose, settings_refusal
from pro_operator.cache import trim
from pro_operator.jobs import BACKENDS, PYTORCHJOB, TRAINJOB, JobObservation, dropped, observe_job

pytestmark = pytest.mark.unit

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
Obj = dict[str, Any]
LOG = "\n".join([*(f"step {i}" for i in range(30)), "error: data file /data/missing.jsonl not found"])


def trainjob(*conditions: tuple[str, str, str], children: Obj | None = None, suspend: bool = False) -> Obj:
    """A TrainJob with conditions (type, status, reason) at T0+5s and one child job's counts."""
    status: Obj = {
        "conditions": [
            {
                "type": t,
                "status": s,
                "reason": r,
                "message": f"{t} {r}",
                "lastTransitionTime": rfc3339(T0 + timedelta(seconds=5)),
            }
            for t, s, r in conditions
        ]
    }
    if children is not None:
        status["jobsStatus"] = [
            {"name": "node", "ready": 0, "succeeded": 0, "failed": 0, "active": 0, "suspended": 0, **children}
        ]
    return {
        "metadata": {
            "name": "rm-2",
            "labels": {"pro.alignment.dev/attempt": "2"},
            "creationTimestamp": rfc3339(T0),
        },
        "spec": {"suspend": suspend, "trainer": {"image": "x"}},
        "status": status,
    }


def node_pod(state: Obj, name: str = "rm-2-node-0-0-abcde") -> Obj:
    return {"metadata": {"name": name}, "status": {"containerStatuses": [{"name": "node", "state": state}]}}


def see(job: Obj, *, now: datetime = T0, pods: list[Obj] | None = None, logs: dict[str, str] | None = None,
        deadline: float = 900) -> JobObservation:  # fmt: skip
    asked: list[tuple[str, str]] = []

    def log(pod: str, container: str) -> str:
        asked.append((pod, container))
        return (logs or {}).get(pod, "")

    return observe_job(TRAINJOB, job, now=now, start_deadline=deadline, pods=lambda: pods or [], logs=log)


def test_a_complete_trainjob_succeeded_when_its_condition_turned_true() -> None:
    seen = see(trainjob(("Complete", "True", "AllJobsCompleted"), children={"succeeded": 1}))
    assert seen == JobObservation("rm-2", 2, RunState.SUCCEEDED, T0 + timedelta(seconds=5))


def test_a_failed_trainjob_reads_why_from_its_failing_pods_log() -> None:
    """The runtime's container keeps no log in its termination message: the pod's log says why."""
    failed = node_pod({"terminated": {"exitCode": 1, "reason": "Error", "message": ""}})
    done = node_pod({"terminated": {"exitCode": 0, "reason": "Completed"}}, "rm-2-node-0-1-fghij")
    job = trainjob(("Failed", "True", "FailedJobs"), children={"failed": 1})
    seen = see(job, pods=[done, failed], logs={"rm-2-node-0-0-abcde": LOG})
    assert seen.run is RunState.FAILED and seen.finished_at == T0 + timedelta(seconds=5)
    assert seen.failure == "pod rm-2-node-0-0-abcde exited with 1: data file /data/missing.jsonl not found"
    assert len(seen.log_tail) == 20 and seen.log_tail[-1].startswith("error: data file")
    # a log that cannot be read: the exit code and reason; no pod at all (a deadline deleted them): the job's
    assert see(job, pods=[failed]).failure == "pod rm-2-node-0-0-abcde exited with 1: Error"
    deadline = trainjob(("Failed", "True", "DeadlineExceeded"))
    assert see(deadline).failure == "Failed DeadlineExceeded"


def test_a_trainjob_runs_once_a_child_job_is_ready_not_while_its_pods_wait() -> None:
    assert see(trainjob(children={"ready": 1, "active": 1})).run is RunState.RUNNING
    # active counts pods pulling their image too: only the start deadline tells
    pulling = trainjob(children={"active": 1})
    waiting = see(pulling, now=T0 + timedelta(seconds=2), deadline=3)
    assert waiting.run is RunState.RUNNING and waiting.recheck_at == T0 + timedelta(seconds=4)
    pod = node_pod({"waiting": {"reason": "ImagePullBackOff", "message": "no such image x:1"}})
    stuck = see(pulling, now=T0 + timedelta(seconds=3), deadline=3, pods=[pod])
    assert (
        stuck.abandon
        and stuck.failure == "job rm-2 not running 3s after creation: ImagePullBackOff: no such image x:1"
    )


def test_a_suspended_trainjob_runs_suspended_and_a_resumed_one_waits_from_its_resumption() -> None:
    held = see(trainjob(("Suspended", "True", "Suspended"), suspend=True))
    assert held.run is RunState.RUNNING and held.suspended and held.recheck_at is None
    resumed = trainjob(("Suspended", "False", "Resumed"), children={"active": 1})
    seen = see(resumed, now=T0 + timedelta(seconds=6), deadline=3)
    assert seen.run is RunState.RUNNING and seen.recheck_at == T0 + timedelta(seconds=9)


def test_each_backend_selects_its_pods_and_suspends_its_own_way() -> None:
    assert TRAINJOB.pod_selector("rm-2") == "jobset.sigs.k8s.io/jobset-name=rm-2"
    assert TRAINJOB.suspend_patch(True) == {"spec": {"suspend": True}}
    assert PYTORCHJOB.pod_selector("rm-2") == "training.kubeflow.org/job-name=rm-2"
    assert PYTORCHJOB.suspend_patch(False) == {"spec": {"runPolicy": {"suspend": False}}}
    assert list(BACKENDS) == ["PyTorchJob", "TrainJob"]  # auto's order
    # the cache keeps what the controllers read, not the pod templates
    body = {
        "metadata": {"name": "j", "managedFields": [{}]},
        "spec": {"suspend": False, **trainjob()["spec"], "runtimePatches": []},
    }
    assert trim("trainjobs", body) == {"metadata": {"name": "j"}, "spec": {"suspend": False}}


def test_dropped_names_what_the_server_did_not_keep_and_ignores_its_defaults() -> None:
    sent = {"a": 1, "b": {"c": [{"d": 1, "e": 2}], "f": "x"}}
    assert dropped(sent, {**sent, "managedBy": "trainer"}, "spec") == []
    assert dropped(sent, {"a": 1, "b": {"c": [{"d": 1}], "f": "y"}}, "spec") == ["spec.b.c[0].e", "spec.b.f"]
    assert dropped(sent, {"b": {"c": [], "f": "x"}}, "spec") == ["spec.a", "spec.b.c"]


# ------------------------------------------------------------------------------------------ backends
def k8s(**fields: Any) -> KubernetesSettings:
    return KubernetesSettings.model_validate(fields)


def test_auto_prefers_pytorchjob_then_trainjob_and_keeps_the_kind_a_stage_ran() -> None:
    both = JobSupport(("PyTorchJob", "TrainJob"))
    trainer = JobSupport(("TrainJob",))
    assert choose(k8s(), both, field_prefix="spec.") is PYTORCHJOB
    assert choose(k8s(), trainer, field_prefix="spec.") is TRAINJOB
    assert choose(k8s(), both, ran="TrainJob", field_prefix="spec.") is TRAINJOB  # a restart keeps it
    assert choose(k8s(jobBackend="TrainJob"), both, ran="PyTorchJob", field_prefix="spec.") is TRAINJOB
    assert choose(k8s(), JobSupport(("PyTorchJob", "TrainJob"), "TrainJob"), field_prefix="spec.") is TRAINJOB
    assert both.describe() == (
        "job backend PyTorchJob (auto); the cluster serves: PyTorchJob (kubeflow.org/v1), "
        "TrainJob (trainer.kubeflow.org/v1alpha1)"
    )


def test_a_backend_the_cluster_does_not_serve_is_refused_naming_the_field_and_what_is_installed() -> None:
    refused = choose(k8s(jobBackend="PyTorchJob"), JobSupport(("TrainJob",)), field_prefix="spec.execution.")
    assert refused == Refusal(
        "JobBackendUnavailable",
        "spec.execution.kubernetes.jobBackend: PyTorchJob, but pytorchjobs.kubeflow.org/v1 is not served by "
        "this cluster (installed: TrainJob)",
    )
    none = choose(k8s(), JobSupport(()), field_prefix="spec.")
    assert isinstance(none, Refusal) and none.message == (
        "spec.kubernetes.jobBackend: auto, but no Kubeflow job (install Training Operator v1 or Trainer "
        "v2.3) is served"
    )
    default = choose(k8s(), JobSupport(("PyTorchJob",), "TrainJob"), field_prefix="spec.")
    assert isinstance(default, Refusal) and "auto, the operator's default TrainJob, but" in default.message


def test_gpu_counts_a_trainjob_cannot_express_are_refused_naming_the_field() -> None:
    execution = StageExecution.model_validate({"resources": {"processesPerNode": 8, "gpus": 4}})
    refused = settings_refusal(execution, TRAINJOB, field_prefix="spec.execution.")
    assert refused is not None and refused.reason == "JobSettingsUnsupported"
    assert refused.message.startswith(
        "spec.execution.resources.processesPerNode: 8 processes per node on 4 GPU"
    )
    assert settings_refusal(execution, PYTORCHJOB, field_prefix="spec.execution.") is None
    fits = StageExecution.model_validate({"resources": {"processesPerNode": 4, "gpus": 4}})
    assert settings_refusal(fits, TRAINJOB, field_prefix="spec.execution.") is None


class ForbiddenRuntimes:
    """A Kube whose token may not list ClusterTrainingRuntimes (a namespaced install)."""

    calls = 0

    def list_objects(self, group: str, version: str, plural: str, namespace: str | None) -> list[Obj]:
        from pro_operator.kube import Forbidden

        self.calls += 1
        raise Forbidden(f'cannot list resource "{plural}" in API group "{group}" at the cluster scope', 403)


def test_a_runtime_kind_it_may_not_list_is_not_checked_and_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from pro.render.trainjob import RuntimeRef
    from pro_operator.backends import Runtimes

    kube, runtimes = ForbiddenRuntimes(), Runtimes(ttl=0.0)
    with caplog.at_level("DEBUG", logger="pro_operator.backends"):
        for _ in range(3):  # asked again each time the remembered answer expires
            assert runtimes.refusal(kube, RuntimeRef(), "team-a", field_prefix="spec.") is None  # type: ignore[arg-type]
    assert kube.calls == 3
    said = [(r.levelname, r.getMessage()) for r in caplog.records if "not checked" in r.getMessage()]
    assert [level for level, _ in said] == ["WARNING", "DEBUG", "DEBUG"]
    assert "clustertrainingruntimes" in said[0][1]
