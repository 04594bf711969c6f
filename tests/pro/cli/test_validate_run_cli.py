"""``pro validate`` and the errors ``pro run`` gives before it starts anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from pro.cli import main

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]
TOY = REPO / "examples" / "toy" / "pipeline.yaml"


TOY_FILES = ("pairs/helpfulness", "pairs/harmlessness", "pairs/humor", "pairs/helpfulness.test",
             "pairs/harmlessness.test", "pairs/humor.test", "mixed", "mixed.test", "sft", "heldout")  # fmt: skip


@pytest.fixture
def toy_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of examples/toy/ with the toy example's data files beside it in toy-out/ (empty: validate
    checks they exist), used from another working directory: the files' relative paths are theirs."""
    (tmp_path / "toy").mkdir()
    for example in (REPO / "examples" / "toy").glob("*.yaml"):
        (tmp_path / "toy" / example.name).write_text(example.read_text())
    out = tmp_path / "toy" / "toy-out"
    for name in TOY_FILES:
        (out / f"{name}.jsonl").parent.mkdir(parents=True, exist_ok=True)
        (out / f"{name}.jsonl").touch()
    (out / "world.yaml").touch()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    return out


def test_validate_lists_the_stages_of_a_valid_pipeline_and_a_stage_file(
    capsys: pytest.CaptureFixture[str], toy_out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toy = toy_out.parent
    assert (
        main(["validate", "-f", str(toy / "pipeline.yaml"), "-f", str(toy / "reward-helpfulness.yaml")]) == 0
    )
    out = capsys.readouterr().out
    assert "AlignmentPipeline 'toy' is valid: 7 stages" in out
    assert "eval" in out and "needs align, align-baseline, adapter" in out
    assert f"artifacts under {toy_out}/store/default/toy/default" in out
    assert "RewardModelTraining 'rm-helpfulness' is valid" in out
    monkeypatch.chdir(toy)  # from the file's own directory: the same files
    assert main(["validate", "-f", "pipeline.yaml"]) == 0
    assert f"artifacts under {toy_out}/store/default/toy/default" in capsys.readouterr().out


def test_paths_on_the_command_line_are_the_working_directorys(
    capsys: pytest.CaptureFixture[str], toy_out: Path
) -> None:
    """pro run: the file's paths against its directory, --store (like every flag) against the current one;
    the dry run and pro validate agree on where the artifacts go."""
    pipeline = str(toy_out.parent / "pipeline.yaml")
    assert main(["run", "-f", pipeline, "--dry-run"]) == 0
    assert f"  artifacts: {toy_out}/store/default/toy/default" in capsys.readouterr().out.splitlines()
    assert main(["run", "-f", pipeline, "--dry-run", "--store", "my-store"]) == 0
    here = Path.cwd() / "my-store" / "default" / "toy" / "default"
    assert f"  artifacts: {here}" in capsys.readouterr().out.splitlines()


def test_render_notes_what_relative_paths_mean_on_a_cluster(
    capsys: pytest.CaptureFixture[str], toy_out: Path
) -> None:
    assert main(["render", "-f", str(toy_out.parent / "reward-humor.yaml")]) == 0
    out = capsys.readouterr().out
    assert "# 3 relative path(s), e.g. spec.data.path: toy-out/pairs/humor.jsonl" in out
    assert f"read them against\n# {toy_out.parent}/" in out
    assert "path: toy-out/pairs/humor.jsonl" in out  # what the operator creates: the paths as written


def test_validate_names_every_data_reference_that_resolves_to_nothing(
    capsys: pytest.CaptureFixture[str], toy_out: Path
) -> None:
    (toy_out / "pairs" / "humor.jsonl").unlink()
    (toy_out / "heldout.jsonl").unlink()
    s3 = toy_out.parent / "s3.yaml"
    s3.write_text(
        TOY.read_text().replace("path: toy-out/mixed.jsonl", "path: s3://no-such-bucket-for-pro/mixed/")
    )
    assert main(["validate", "-f", str(toy_out.parent / "pipeline.yaml")]) == 1
    out = capsys.readouterr().out
    assert out.splitlines()[1:] == [
        f"  spec.objectives[2].data.path: {toy_out}/pairs/humor.jsonl: no such file",
        f"  spec.evaluation.prompts: {toy_out}/heldout.jsonl: no such file",
        "1 of 1 resource(s) invalid",
    ]
    (toy_out / "pairs" / "humor.jsonl").touch()
    (toy_out / "heldout.jsonl").touch()
    assert main(["validate", "-f", str(s3), "--offline"]) == 0  # S3 not checked offline


def test_validate_reports_every_problem_of_every_file_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toy_out: Path
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(TOY.read_text().replace("method: morlhf", "method: ppo").replace("tau: 0.1", "tau: -1"))
    good = str(toy_out.parent / "pipeline.yaml")
    assert main(["validate", "-f", str(bad), "-f", str(tmp_path / "missing.yaml"), "-f", good]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:" in out and "spec.alignment.method: Input should be 'morlhf' or 'wic', got 'ppo'" in out
    assert "spec.adapter.tau: Input should be greater than 0" in out
    assert "missing.yaml: no such file" in out
    assert "2 of 3 resource(s) invalid" in out


def test_run_refuses_bad_arguments_and_files_before_starting_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "-f", str(TOY), "--parallel", "0", "--run-dir", str(tmp_path / "r")]) == 1
    assert "--parallel must be at least 1" in capsys.readouterr().err
    assert main(["run", "-f", str(tmp_path / "nope.yaml")]) == 1
    assert "nope.yaml: no such file" in capsys.readouterr().err
    assert main(["run", "-f", str(TOY), "--store", "http://x", "--run-dir", str(tmp_path / "r")]) == 1
    assert "spec.storage.uri: 'http://x' is not s3://" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    ("assignment", "message"),
    [
        ("alignment.beta", "--set 'alignment.beta': write FIELD=VALUE, e.g. --set alignment.beta=0.1"),
        ("alignment.bta=0.1", "spec.alignment.bta: unknown field"),
        ("objectives[7].name=x", "--set 'objectives[7].name=x': spec.objectives.7 does not exist"),
        ("alignment.beta=[unclosed", "--set 'alignment.beta=[unclosed': the value is not YAML"),
        ("alignment.max-steps=3", "'max-steps' is not a field name"),
    ],
)
def test_a_bad_set_is_one_line_naming_the_field(
    assignment: str, message: str, toy_out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "-f", str(toy_out.parent / "pipeline.yaml"), "--dry-run", "--set", assignment]) == 1
    err = capsys.readouterr().err
    assert message in err, err


def test_validate_checks_the_guardrails_with_each_kinds_field_paths(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    guardrails = tmp_path / "guardrails.yaml"
    guardrails.write_text(
        "allowedServiceAccounts: [pro-trainer]\nallowedImages: ['ghcr.io/pro-pipeline/*']\n"
    )
    production = REPO / "examples/production/pipeline-ultrafeedback.yaml"
    sample = REPO / "manifests/samples/pro.alignment.dev_v1alpha1_policyalignment.yaml"
    args = [
        "validate",
        "--offline",
        "--guardrails",
        str(guardrails),
        "-f",
        str(production),
        "-f",
        str(sample),
    ]
    assert main(args) == 1
    out = capsys.readouterr().out
    assert f"{production}: 1 setting(s) the guardrails do not allow:\n" in out
    assert "  spec.kubernetes.priorityClassName: batch-high is not allowed (allowed: none)\n" in out
    assert "  spec.execution.kubernetes.priorityClassName: batch-high is not allowed (allowed: none)\n" in out
    guardrails.write_text("allowedPriorityClasses: ['batch-*']\nallowedServiceAccounts: [pro-trainer]\n")
    assert main(["validate", "--offline", "--guardrails", str(guardrails), "-f", str(production)]) == 0
    guardrails.write_text("allowedPriorityClass: []\n")
    assert main(["validate", "--guardrails", str(guardrails), "-f", str(production)]) == 1
    assert (
        "allowedPriorityClass: unknown field; did you mean 'allowedPriorityClasses'?"
        in capsys.readouterr().out
    )


def test_validate_names_a_model_directory_that_is_not_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A model written as a path must exist (a hub id is org/name): one line naming the field."""
    example = Path(__file__).resolve().parents[3] / "examples" / "production" / "pipeline-ultrafeedback.yaml"
    text = example.read_text().replace("model: {name: meta-llama/Llama-3.2-1B}", "model: {name: ./models/rm}")
    assert "./models/rm" in text
    (tmp_path / "p.yaml").write_text(text)
    assert main(["validate", "-f", str(tmp_path / "p.yaml"), "--offline"]) == 1
    out = capsys.readouterr().out
    assert (
        f"  spec.rewardModel.model.name: {tmp_path / 'models' / 'rm'}: no such model directory "
        "(a hub id is written org/name)"
    ) in out.splitlines()
    (tmp_path / "models" / "rm").mkdir(parents=True)
    assert main(["validate", "-f", str(tmp_path / "p.yaml"), "--offline"]) == 0
