"""Stage resource specs: loading, defaults, digests and errors with path and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from pro.spec import SpecError, load_file, spec_digest
from pro.spec.stages import DEFAULT_ADAPTER_MODEL, AdapterTraining, RewardModelTraining
from pro.stages.runtime import DistEnv

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]

RM = """\
apiVersion: pro.alignment.dev/v1alpha1
kind: RewardModelTraining
metadata: {name: rm-help}
spec:
  objective: helpfulness
  data: {format: jsonl, path: pairs.jsonl}
  model:
    config: {modelType: bert, hiddenSize: 16}
    tokenizer: {build: {kind: wordlevel}}
  training:
    maxSteps: 10
  output: file:///tmp/x
"""


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "stage.yaml"
    p.write_text(text)
    return p


def test_examples_load() -> None:
    for o in ("helpfulness", "harmlessness", "humor"):
        r = load_file(REPO / f"examples/toy/reward-{o}.yaml", RewardModelTraining)
        assert r.spec.objective == o and r.spec.model.config is not None
    a = load_file(REPO / "examples/toy/adapter.yaml", AdapterTraining)
    assert a.spec.tau == 0.1 and len(a.spec.objectives) == 3


def test_reward_defaults_and_digest(tmp_path: Path) -> None:
    r = load_file(_write(tmp_path, RM), RewardModelTraining)
    assert r.spec.training.max_steps == 10 and r.spec.training.max_length == 512
    assert r.spec.lora is None and r.spec.deepspeed is None
    again = load_file(_write(tmp_path, RM.replace("{name: rm-help}", "{name: other}")), RewardModelTraining)
    assert spec_digest(r.spec) == spec_digest(again.spec)  # metadata does not change the work
    changed = load_file(_write(tmp_path, RM.replace("maxSteps: 10", "maxSteps: 11")), RewardModelTraining)
    assert spec_digest(changed.spec) != spec_digest(r.spec)


def test_adapter_defaults_to_xlm_roberta(tmp_path: Path) -> None:
    text = """\
kind: AdapterTraining
metadata: {name: a}
spec:
  objectives: [a, b]
  rewardModels: {a: s3://b/a, b: s3://b/b}
  data: {format: jsonl, path: mixed.jsonl}
  output: s3://b/adapter
"""
    a = load_file(_write(tmp_path, text), AdapterTraining)
    assert a.spec.model.name == DEFAULT_ADAPTER_MODEL and a.spec.tau == 0.1


def test_errors_carry_path_and_line(tmp_path: Path) -> None:
    bad = RM.replace("maxSteps: 10", "maxSteps: 0\n    learningRte: 1").replace(
        "{modelType: bert, hiddenSize: 16}", "{modelType: bert}\n    name: x"
    )
    with pytest.raises(SpecError) as err:
        load_file(_write(tmp_path, bad), RewardModelTraining)
    msg = str(err.value)
    assert "stage.yaml:12: spec.training.maxSteps" in msg
    assert "stage.yaml:13: spec.training.learningRte: unknown field; did you mean 'learningRate'" in msg
    assert "exactly one of 'name' or 'config'" in msg


def test_adapter_reward_models_must_match(tmp_path: Path) -> None:
    text = """\
kind: AdapterTraining
metadata: {name: a}
spec:
  objectives: [a, b]
  rewardModels: {a: s3://b/a, c: s3://b/c}
  data: {format: jsonl, path: mixed.jsonl}
  tau: 0
  output: s3://b/adapter
"""
    with pytest.raises(SpecError) as err:
        load_file(_write(tmp_path, text), AdapterTraining)
    assert "stage.yaml:7: spec.tau" in str(err.value)
    with pytest.raises(SpecError) as err:
        load_file(_write(tmp_path, text.replace("tau: 0", "tau: 0.5")), AdapterTraining)
    msg = str(err.value)
    assert "stage.yaml:5: spec.rewardModels: no reward model for b" in msg
    assert "stage.yaml:5: spec.rewardModels.c: reward model for unknown objective 'c'" in msg


def test_wrong_kind_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as err:
        load_file(_write(tmp_path, RM), AdapterTraining)
    assert "stage.yaml:2: kind" in str(err.value)


def test_dist_env_from_torchrun_variables() -> None:
    env = DistEnv.from_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"})
    assert env.distributed and not env.is_main
    assert DistEnv.from_env({}).is_main


def test_stage_defaults_do_not_depend_on_whether_training_is_written(tmp_path: Path) -> None:
    """Writing one training field keeps the stage's other defaults (no hidden second set)."""
    omitted = load_file(
        _write(tmp_path, RM.replace("  training:\n    maxSteps: 10\n", "")), RewardModelTraining
    )
    partial = load_file(_write(tmp_path, RM), RewardModelTraining)
    assert omitted.spec.training.learning_rate == partial.spec.training.learning_rate == 1e-5
    assert omitted.spec.training.max_steps == 1000 and partial.spec.training.max_steps == 10
