"""Tenant guardrails, the pure part: what an execution asks that the platform does not allow, by field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pro.spec import SpecError, load_text, parse
from pro.spec.execution import StageExecution
from pro.spec.guardrails import Guardrails, describe, qualified_image

pytestmark = pytest.mark.unit


def execution(**fields: Any) -> StageExecution:
    return StageExecution.model_validate(fields)


def guardrails(yaml_text: str) -> Guardrails:
    return parse(Guardrails, load_text(yaml_text, "guardrails.yaml"))


def test_the_defaults_allow_the_shipped_trainer_and_nothing_else_that_reaches_further() -> None:
    g = Guardrails()
    assert g.problems(StageExecution()) == []  # the default image, no service account, no extras
    assert g.problems(execution(image="ghcr.io/pro-pipeline/trainer:0.1.0")) == []
    assert g.problems(execution(image="ghcr.io/pro-pipeline/trainer@sha256:" + "a" * 64)) == []
    gpu = {"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]}
    assert g.problems(execution(kubernetes={**gpu, "nodeSelector": {"nvidia.com/gpu.product": "H100"}})) == []
    assert g.problems(execution(kubernetes={"serviceAccountName": "default"})) == []
    refused = execution(
        image="registry.evil/x:1",
        kubernetes={
            "serviceAccountName": "ci-deployer",
            "priorityClassName": "system-cluster-critical",
            "tolerations": [{"operator": "Exists"}, {"key": "nvidia.com/gpu", "operator": "Exists"}],
        },
    )
    assert g.problems(refused) == [
        ("image", "registry.evil/x:1 is not allowed (allowed: ghcr.io/pro-pipeline/trainer:*, "
         "ghcr.io/pro-pipeline/trainer@sha256:*)"),
        ("kubernetes.serviceAccountName", "ci-deployer is not allowed (allowed: none)"),
        ("kubernetes.priorityClassName", "system-cluster-critical is not allowed (allowed: none)"),
        ("kubernetes.tolerations[0]",
         "key (any), effect (any) is not allowed (allowed: nvidia.com/gpu (NoSchedule))"),
        ("kubernetes.tolerations[1]",
         "key nvidia.com/gpu, effect (any) is not allowed (allowed: nvidia.com/gpu (NoSchedule))"),
    ]  # fmt: skip


def test_the_operator_logs_what_is_allowed_in_one_line() -> None:
    assert Guardrails().summary() == (
        "images ghcr.io/pro-pipeline/trainer:*, ghcr.io/pro-pipeline/trainer@sha256:*; service accounts default; "
        "credentials Secrets labelled pro.alignment.dev/credentials=true; tolerations nvidia.com/gpu "
        "(NoSchedule); priority classes none; node-selector keys *; training runtimes ClusterTrainingRuntime/*; "
        "running jobs per namespace 20"
    )
    open_ = guardrails(
        "credentialsSecretLabel: ''\nmaxRunningJobsPerNamespace: 0\nallowedServiceAccounts: [a]\n"
    )
    assert "service accounts default, a; credentials Secrets any;" in open_.summary()
    assert open_.summary().endswith("running jobs per namespace unlimited")


def test_a_refusal_reads_as_one_line_with_the_path_as_the_user_wrote_it() -> None:
    found = Guardrails().problems(execution(image="registry.evil/x:1"))
    line = describe(found, "spec.execution.")
    assert line.startswith("spec.execution.image: registry.evil/x:1 is not allowed (allowed: ghcr.io/")
    assert describe(found, "spec.").startswith("spec.image: registry.evil/x:1 is not allowed")


@pytest.mark.parametrize(
    ("ref", "qualified"),
    [
        ("python", "docker.io/library/python:latest"),
        ("python:3.11", "docker.io/library/python:3.11"),
        ("team/trainer:1", "docker.io/team/trainer:1"),
        ("ghcr.io/pro-pipeline/trainer", "ghcr.io/pro-pipeline/trainer:latest"),
        ("localhost/trainer:dev", "localhost/trainer:dev"),
        ("registry:5000/trainer", "registry:5000/trainer:latest"),
        ("registry:5000/a/b:1@sha256:00", "registry:5000/a/b:1@sha256:00"),
        ("ghcr.io/x/y@sha256:00", "ghcr.io/x/y@sha256:00"),
    ],
)
def test_images_are_matched_as_the_runtime_resolves_them(ref: str, qualified: str) -> None:
    assert qualified_image(ref) == qualified


def test_image_patterns_name_the_registry_so_a_short_name_cannot_slip_through() -> None:
    g = guardrails("allowedImages: ['docker.io/library/python:*', 'registry.corp/ml/*']\n")
    assert g.problems(execution(image="python:3.11")) == []
    assert g.problems(execution(image="registry.corp/ml/trainer/gpu:2")) == []
    (path, why), *_ = g.problems(execution(image="pro-pipeline/trainer"))
    assert (path, why.split(" is not")[0]) == (
        "image",
        "pro-pipeline/trainer (docker.io/pro-pipeline/trainer:latest)",
    )
    assert g.problems(execution(image="registry.corp/mlx/trainer:1"))  # another path
    assert guardrails("allowedImages: ['*']\n").problems(execution(image="anything.example/x:y")) == []


def test_service_accounts_priority_classes_and_node_selector_keys_follow_their_patterns() -> None:
    g = guardrails(
        "allowedServiceAccounts: [pro-trainer, 'team-*-s3']\n"
        "allowedPriorityClasses: [batch-high]\n"
        "allowedNodeSelectorKeys: ['nvidia.com/*', kubernetes.io/arch]\n"
    )
    ok = {
        "serviceAccountName": "team-a-s3",
        "priorityClassName": "batch-high",
        "nodeSelector": {"nvidia.com/gpu.product": "H100", "kubernetes.io/arch": "amd64"},
    }
    assert g.problems(execution(kubernetes=ok)) == []
    bad = {"serviceAccountName": "admin", "priorityClassName": "batch-higher", "nodeSelector": {"pool": "x"}}
    assert [p for p, _ in g.problems(execution(kubernetes=bad))] == [
        "kubernetes.serviceAccountName",
        "kubernetes.priorityClassName",
        "kubernetes.nodeSelector",
    ]
    assert (
        "key pool is not allowed (allowed: nvidia.com/*, kubernetes.io/arch)"
        in dict(g.problems(execution(kubernetes=bad))).values()
    )


def test_training_runtimes_default_to_the_platforms_cluster_runtimes() -> None:
    g = Guardrails()
    cluster = {"trainingRuntime": "pro-torch"}
    assert g.problems(execution(kubernetes=cluster)) == []
    assert g.problems(StageExecution()) == []  # no runtime named: the operator's own
    namespaced = {"trainingRuntime": "mine", "trainingRuntimeKind": "TrainingRuntime"}
    assert g.problems(execution(kubernetes=namespaced)) == [
        ("kubernetes.trainingRuntime",
         "TrainingRuntime/mine is not allowed (allowed: ClusterTrainingRuntime/*)"),
    ]  # fmt: skip
    # a namespaced runtime of the operator's default name: named by the kind alone
    kind_only = execution(kubernetes={"trainingRuntimeKind": "TrainingRuntime"})
    assert g.problems(kind_only, default_runtime="pro-torch") == [
        ("kubernetes.trainingRuntimeKind",
         "TrainingRuntime/pro-torch is not allowed (allowed: ClusterTrainingRuntime/*)"),
    ]  # fmt: skip
    team = guardrails("allowedTrainingRuntimes: ['ClusterTrainingRuntime/*', 'TrainingRuntime/team-*']\n")
    assert team.problems(execution(kubernetes={**namespaced, "trainingRuntime": "team-gpu"})) == []
    assert team.problems(execution(kubernetes=namespaced)) != []


def test_toleration_rules_by_key_and_effect() -> None:
    g = guardrails(
        "allowedTolerations:\n  - {key: nvidia.com/gpu}\n  - {key: 'spot.example.com/*', effect: NoExecute}\n"
    )

    def allowed(*tolerations: dict[str, Any]) -> bool:
        return g.problems(execution(kubernetes={"tolerations": list(tolerations)})) == []

    assert allowed({"key": "nvidia.com/gpu", "operator": "Exists"})  # any effect: the rule has none
    assert allowed({"key": "spot.example.com/pool", "operator": "Exists", "effect": "NoExecute"})
    assert not allowed({"key": "spot.example.com/pool", "operator": "Exists", "effect": "NoSchedule"})
    assert not allowed({"key": "spot.example.com/pool", "operator": "Exists"})  # every effect
    assert not allowed({"operator": "Exists"})  # every taint: only a '*' rule allows it
    assert (
        guardrails("allowedTolerations: [{key: '*'}]\n").problems(
            execution(kubernetes={"tolerations": [{"operator": "Exists"}]})
        )
        == []
    )


def test_credentials_secrets_must_be_labelled_for_pro() -> None:
    g = Guardrails()
    assert g.secret_problem("pro-s3", {"pro.alignment.dev/credentials": "true", "team": "a"}) is None
    assert g.secret_problem("db-admin", {}) == (
        "Secret db-admin is not labelled pro.alignment.dev/credentials=true (only Secrets labelled so may be "
        "read by stage pods; whoever may edit the Secret labels it)"
    )
    assert g.secret_problem("x", {"pro.alignment.dev/credentials": "yes"}) is not None
    assert g.secret_problem("gone", None) == "Secret gone not found in the namespace"
    assert guardrails("credentialsSecretLabel: ''\n").secret_problem("any", {}) is None


def test_a_guardrails_file_is_read_strictly_with_the_field_named(tmp_path: Path) -> None:
    for text, field in (
        ("allowedImage: ['*']\n", "allowedImage"),
        ("maxRunningJobsPerNamespace: -1\n", "maxRunningJobsPerNamespace"),
        ("maxRunningJobsPerNamespace: '5'\n", "maxRunningJobsPerNamespace"),
        ("credentialsSecretLabel: 'has space'\n", "credentialsSecretLabel"),
        ("allowedTolerations: [{key: x, effect: Sometimes}]\n", "allowedTolerations[0].effect"),
        ("pods: {tmpSizeLimit: lots}\n", "pods.tmpSizeLimit"),
    ):
        with pytest.raises(SpecError) as err:
            guardrails(text)
        assert field in str(err.value), (text, str(err.value))
    assert guardrails("{}\n") == Guardrails()
