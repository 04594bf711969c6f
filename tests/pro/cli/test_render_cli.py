"""``pro render``: the YAML stream (or JSON List) of what the operator creates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pro.cli import main
from pro.spec.kinds import resolve

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
PIPELINE = str(ROOT / "examples/toy/pipeline.yaml")
STAGES = ["rm-helpfulness", "rm-harmlessness", "rm-humor", "adapter", "align", "align-baseline", "eval"]


def test_pipeline_stream_has_each_stage_its_configmap_and_job(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "-f", PIPELINE]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# what the operator creates") and "<uid of KIND/NAME>" in out.splitlines()[1]
    docs = list(yaml.safe_load_all(out))
    assert len(docs) == 3 * len(STAGES)
    for i, stage in enumerate(STAGES):
        resource, cm, job = docs[3 * i : 3 * i + 3]
        name = f"toy-{stage}"
        assert (
            resource["metadata"]["name"] == name
            and resource["metadata"]["labels"]["pro.alignment.dev/stage"] == stage
        )
        assert resource["metadata"]["ownerReferences"][0]["uid"] == "<uid of AlignmentPipeline/toy>"
        assert "status" not in resource
        short = resolve(resource["kind"]).short
        assert cm["kind"] == "ConfigMap" and cm["metadata"]["name"] == f"{short}-{name}-spec"
        assert yaml.safe_load(cm["data"]["stage.yaml"])["metadata"]["name"] == name
        assert job["kind"] == "PyTorchJob" and job["metadata"]["name"] == f"{short}-{name}-1"
        owner = job["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["name"], owner["uid"]) == (
            resource["kind"],
            name,
            f"<uid of {resource['kind']}/{name}>",
        )
    assert "&id" not in out  # every object reads on its own


def test_one_stage_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "-f", PIPELINE, "--stage", "align", "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "List"
    assert [(o["kind"], o["metadata"]["name"]) for o in data["items"]] == [
        ("PolicyAlignment", "toy-align"),
        ("ConfigMap", "pal-toy-align-spec"),
        ("PyTorchJob", "pal-toy-align-1"),
    ]


def test_either_backend_is_printed(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["render", "-f", PIPELINE, "--stage", "rm-humor", "--job-backend", "TrainJob", "-o", "json"])
        == 0
    )
    job = json.loads(capsys.readouterr().out)["items"][-1]
    assert (job["kind"], job["metadata"]["name"]) == ("TrainJob", "rmt-toy-rm-humor-1")
    assert job["spec"]["runtimeRef"]["name"] == "torch-distributed"
    args = [
        "render",
        "-f",
        PIPELINE,
        "--stage",
        "rm-humor",
        "--job-backend",
        "TrainJob",
        "--training-runtime",
        "pro-torch",
    ]
    assert main(args) == 0
    job = list(yaml.safe_load_all(capsys.readouterr().out))[-1]
    assert job["spec"]["runtimeRef"]["name"] == "pro-torch"
    assert main(["render", "-f", PIPELINE, "--stage", "rm-humor", "--job-backend", "PyTorchJob"]) == 0
    assert list(yaml.safe_load_all(capsys.readouterr().out))[-1]["kind"] == "PyTorchJob"


def test_a_stage_file_gives_its_configmap_and_job(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "-f", str(ROOT / "examples/toy/eval.yaml")]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    assert [d["kind"] for d in docs] == ["ConfigMap", "PyTorchJob"]
    assert (
        docs[1]["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]["command"][4]
        == "eval"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-f", PIPELINE, "--stage", "nope"], "pipeline 'toy' has no stage 'nope' (rm-helpfulness,"),
        (
            ["-f", str(ROOT / "examples/toy/eval.yaml"), "--stage", "eval"],
            "--stage applies to an AlignmentPipeline",
        ),
        (["-f", str(ROOT / "examples/toy/world.yaml")], "kind: required field is missing"),
        (["-f", "no-such.yaml"], "no-such.yaml: no such file"),
    ],
)
def test_errors_are_one_clear_message(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", *args]) == 1
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


def test_a_schedule_is_not_rendered_directly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pipeline = yaml.safe_load(Path(PIPELINE).read_text())
    schedule = {
        "apiVersion": "pro.alignment.dev/v1alpha1",
        "kind": "AlignmentSchedule",
        "metadata": {"name": "nightly"},
        "spec": {"schedule": "@daily", "pipelineTemplate": {"spec": pipeline["spec"]}},
    }
    path = tmp_path / "als.yaml"
    path.write_text(yaml.safe_dump(schedule))
    assert main(["render", "-f", str(path)]) == 1
    assert "AlignmentSchedule 'nightly' has no jobs of its own" in capsys.readouterr().err


def test_render_hardens_pods_as_the_guardrails_say(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    guardrails = tmp_path / "guardrails.yaml"
    guardrails.write_text("pods: {automountServiceAccountToken: true, tmpSizeLimit: 3Gi}\n")
    assert main(["render", "-f", PIPELINE, "--stage", "align", "--guardrails", str(guardrails)]) == 0
    job = list(yaml.safe_load_all(capsys.readouterr().out))[-1]
    pod = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is True
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "3Gi"}} in pod["volumes"]
