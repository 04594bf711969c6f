"""The generated CRDs on a real kube-apiserver: installed, accept what ``pro render`` prints, reject bad
objects with the field named, keep a full status, and carry descriptions for ``kubectl explain``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from pro.cli.render import objects
from pro.spec.kinds import resolve
from pro.spec.status import (
    AlignmentPipelineStatus,
    Condition,
    EvaluationStatus,
    StageRunStatus,
    StageSummary,
)
from pro.testing.operator import install_crds

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
PIPELINE = ROOT / "examples/toy/pipeline.yaml"
GROUP, VERSION = "pro.alignment.dev", "v1alpha1"


@pytest.fixture
def apis(kube_cluster) -> Any:
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=kube_cluster.kubeconfig)
    install_crds(api)  # CEL stripped: v1.20 rejects x-kubernetes-validations
    yield client.ApiextensionsV1Api(api), client.CustomObjectsApi(api)
    api.close()


def create(custom: Any, ns: str, body: dict[str, Any]) -> dict[str, Any]:
    plural = resolve(body["kind"]).plural
    made: dict[str, Any] = custom.create_namespaced_custom_object(GROUP, VERSION, ns, plural, body)
    return made


def rejected(custom: Any, ns: str, body: dict[str, Any]) -> tuple[int, set[str], str]:
    from kubernetes.client.rest import ApiException

    with pytest.raises(ApiException) as exc:
        create(custom, ns, body)
    details = json.loads(exc.value.body)
    causes = {c.get("field", "") for c in details.get("details", {}).get("causes", [])}
    return exc.value.status, causes, details.get("message", "")


def round_trip_status(custom: Any, ns: str, plural: str, name: str, status: dict[str, Any]) -> Any:
    """Write ``status`` through the status subresource and read the object's status back."""
    current = custom.get_namespaced_custom_object(GROUP, VERSION, ns, plural, name)
    current["status"] = status
    custom.replace_namespaced_custom_object_status(GROUP, VERSION, ns, plural, name, current)
    return custom.get_namespaced_custom_object(GROUP, VERSION, ns, plural, name)["status"]


def pipeline_body(name: str = "toy") -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(PIPELINE.read_text())
    data["metadata"]["name"] = name
    return data


def test_crds_on_a_real_api_server(apis: Any, kube_namespace: Any) -> None:
    ext, custom = apis
    _, ns = kube_namespace

    # the pipeline, then one stage resource of every stage kind as `pro render` prints them
    pipeline = create(custom, ns, pipeline_body())
    assert pipeline["spec"]["objectives"][0]["name"] == "helpfulness"
    assert pipeline["spec"]["runId"] == "default"  # defaulted by the server from the schema
    rendered = [o for o in objects(str(PIPELINE)) if o["apiVersion"] == f"{GROUP}/{VERSION}"]
    by_kind = {o["kind"]: o for o in reversed(rendered)}
    assert set(by_kind) == {"RewardModelTraining", "AdapterTraining", "PolicyAlignment", "PolicyEvaluation"}
    for body in by_kind.values():
        body["metadata"]["ownerReferences"][0]["uid"] = pipeline["metadata"]["uid"]
        made = create(custom, ns, body)
        for key in ("spec", "kind"):
            assert made[key] == body[key], f"{body['kind']}: the server pruned or changed {key}"
        assert made["metadata"]["annotations"] == body["metadata"]["annotations"]
        assert made["metadata"]["ownerReferences"] == body["metadata"]["ownerReferences"]

    # bad objects: 422 naming the field
    bad = pipeline_body("bad-enum")
    bad["spec"]["alignment"]["method"] = "ppo"
    status, causes, message = rejected(custom, ns, bad)
    assert status == 422 and "spec.alignment.method" in causes, message
    bad = pipeline_body("bad-missing")
    del bad["spec"]["objectives"][1]["data"]
    status, causes, message = rejected(custom, ns, bad)
    assert status == 422, message
    assert causes & {"spec.objectives.data", "spec.objectives[1].data"}, causes  # 1.20 omits the index
    bad = pipeline_body("bad-dupe")
    bad["spec"]["objectives"][2]["name"] = "helpfulness"
    status, causes, message = rejected(custom, ns, bad)
    assert status == 422 and "spec.objectives" in " ".join(causes) + message, message

    # a full status is kept as written (nothing pruned) on the status subresource
    when = "2026-11-26T12:00:00Z"
    full = AlignmentPipelineStatus(
        observed_generation=1,
        phase="Running",
        conditions=[
            Condition(
                type="Running",
                status="True",
                reason="StagesRunning",
                message="align is running",
                last_transition_time=when,
                observed_generation=1,
            )
        ],
        stage="align",
        progress="3/7",
        result="Promoted, win rate 0.910",
        stages=[
            StageSummary(
                name="align",
                kind="PolicyAlignment",
                resource="toy-align",
                phase="Running",
                attempts=2,
                cached=False,
                artifact="s3://b/x/align",
                message="attempt 2",
            ),
            StageSummary(
                name="rm-humor",
                kind="RewardModelTraining",
                resource="toy-rm-humor",
                phase="Succeeded",
                cached=True,
            ),
        ],
        artifacts="s3://b/default/toy/default",
        report="s3://b/default/toy/default/eval/report.html",
        evaluation=EvaluationStatus(
            policy_a="pro",
            policy_b="uniform",
            prompts=300,
            win_rate=0.91,
            win_rate_low=0.88,
            win_rate_high=0.94,
        ),
        start_time=when,
        completion_time=when,
    ).to_dict()
    assert round_trip_status(custom, ns, "alignmentpipelines", "toy", full) == full
    stage_status = StageRunStatus(
        observed_generation=1,
        phase="Backoff",
        conditions=[Condition(type="Failed", status="False", reason="Retrying", last_transition_time=when)],
        attempts=1,
        job="toy-align-1",
        digest="d" * 64,
        artifact="s3://b/x",
        message="OOMKilled",
        start_time=when,
        completion_time=when,
        last_failure_time=when,
        retry_time=when,
    ).to_dict()
    assert round_trip_status(custom, ns, "policyalignments", "toy-align", stage_status) == stage_status

    # descriptions for `kubectl explain`, as the server serves them
    raw = ext.read_custom_resource_definition("alignmentpipelines.pro.alignment.dev", _preload_content=False)
    served = json.loads(raw.data)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    spec = served["properties"]["spec"]
    assert served["description"] and spec["description"]
    assert spec["properties"]["objectives"]["description"].startswith("The K objectives")
    assert spec["properties"]["objectives"]["items"]["properties"]["name"]["description"]
    assert served["properties"]["status"]["properties"]["phase"]["description"]
