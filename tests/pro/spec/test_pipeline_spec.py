"""AlignmentPipeline files: the examples load, and each malformed file names its path, line and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from pro.spec import SpecError, load_text, parse
from pro.spec.kinds import load_resource
from pro.spec.pipeline import AlignmentPipeline

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[3]

HEAD = "apiVersion: pro.alignment.dev/v1alpha1\nkind: AlignmentPipeline\nmetadata: {name: p}\nspec:\n"
OBJECTIVES = """\
  objectives:
    - name: helpfulness
      data: {format: jsonl, path: h.jsonl}
    - name: harmlessness
      data: {format: jsonl, path: s.jsonl}
"""
RM = "  rewardModel:\n    model: {name: some/model}\n"
ADAPTER = "  adapter:\n    data: {format: jsonl, path: m.jsonl}\n"
ALIGN = "  alignment:\n    policy: {name: some/policy}\n    prompts: p.jsonl\n"
GOOD = HEAD + OBJECTIVES + RM + ADAPTER + ALIGN


def problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as err:
        parse(AlignmentPipeline, load_text(text, "p.yaml"))
    return [p.render("p.yaml") for p in err.value.problems]


def test_the_minimal_pipeline_fills_every_default() -> None:
    p = parse(AlignmentPipeline, load_text(GOOD, "p.yaml"))
    spec = p.spec
    assert spec.adapter is not None and spec.adapter.tau == 0.1
    assert spec.adapter.model.name == "FacebookAI/xlm-roberta-base"
    assert spec.alignment.method == "morlhf" and spec.alignment.weights.mode == "adapter"
    assert spec.storage.uri == "pro-store" and spec.run_id == "default"
    assert spec.retry.limit == 2 and spec.evaluation is None


@pytest.mark.parametrize("name", ["pipeline.yaml", "pipeline-ultrafeedback.yaml"])
def test_the_examples_load(name: str) -> None:
    path = REPO / "examples" / ("toy" if name == "pipeline.yaml" else "production") / name
    assert isinstance(load_resource(path), AlignmentPipeline)


CASES = [
    # (what, text, expected "line: path: message" fragments)
    ("no objectives", HEAD + RM + ADAPTER + ALIGN, ["p.yaml:4: spec.objectives: required field is missing"]),
    (
        "misspelt field",
        GOOD.replace("    - name: harmlessness\n      data:", "    - name: harmlessness\n      dta:"),
        ["p.yaml:9: spec.objectives[1].dta: unknown field; did you mean 'data'?"],
    ),
    (
        "bad data format",
        GOOD.replace("{format: jsonl, path: s.jsonl}", "{format: csv, path: s.jsonl}"),
        ["p.yaml:9: spec.objectives[1].data.format: Input should be 'jsonl'", "got 'csv'"],
    ),
    (
        "repeated objective",
        GOOD.replace("name: harmlessness", "name: helpfulness"),
        ["p.yaml:8: spec.objectives[1].name: 'helpfulness' is not distinct"],
    ),
    (
        "objective name not a label",
        GOOD.replace("name: harmlessness", "name: Harm Less"),
        ["p.yaml:8: spec.objectives[1].name: String should match pattern"],
    ),
    (
        "no reward-model backbone",
        HEAD + OBJECTIVES + ADAPTER + ALIGN,
        [
            "spec.rewardModel.model: no reward-model backbone for helpfulness, harmlessness: set rewardModel.model"
        ],
    ),
    (
        "adapter weights without an adapter",
        HEAD + OBJECTIVES + RM + ALIGN,
        ["spec.alignment.weights.mode: mode 'adapter' (the default) needs the 'adapter' section"],
    ),
    (
        "fixed weights naming other objectives",
        GOOD + "    weights: {mode: fixed, fixed: {humor: 1}}\n",
        [
            "p.yaml:17: spec.alignment.weights.fixed.humor: unknown objective 'humor' (the objectives are "
            "helpfulness, harmlessness)",
            "p.yaml:17: spec.alignment.weights.fixed: no weight for objective helpfulness, harmlessness",
        ],
    ),
    (
        "tau out of range",
        GOOD.replace("path: m.jsonl}\n", "path: m.jsonl}\n    tau: 0\n"),
        ["p.yaml:14: spec.adapter.tau: Input should be greater than 0"],
    ),
    (
        "unknown alignment method",
        GOOD + "    method: ppo\n",
        ["p.yaml:17: spec.alignment.method: Input should be 'morlhf' or 'wic', got 'ppo'"],
    ),
    (
        "bad store URI",
        GOOD + "  storage: {uri: 'http://bucket/x'}\n",
        ["p.yaml:17: spec.storage.uri: 'http://bucket/x' is not s3://bucket[/prefix]"],
    ),
    (
        "bad resource quantity",
        GOOD + "    resources: {memory: lots}\n",
        ["p.yaml:17: spec.alignment.resources.memory: 'lots' is not a Kubernetes quantity"],
    ),
    (
        "baseline with weights and uri",
        GOOD + "  evaluation:\n    prompts: h.jsonl\n    judge: {kind: world, world: toy}\n"
        "    baseline: {weights: {mode: uniform}, uri: s3://b/x}\n",
        ["p.yaml:20: spec.evaluation.baseline.uri: set at most one of 'weights' or 'uri'"],
    ),
    (
        "bad run id",
        GOOD + "  runId: Run_1\n",
        ["p.yaml:17: spec.runId: 'Run_1' is not a DNS label"],
    ),
    (
        "config-built policy without init",
        GOOD.replace(
            "policy: {name: some/policy}", "policy: {config: {modelType: llama}, tokenizer: {build: {}}}"
        ),
        ["spec.alignment.init: a config-built policy needs 'init'"],
    ),
]


@pytest.mark.parametrize(("what", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_a_malformed_pipeline_names_the_problem(what: str, text: str, expected: list[str]) -> None:
    found = "\n".join(problems(text))
    for fragment in expected:
        assert fragment in found, f"{what}: {fragment!r} not in:\n{found}"


def test_every_problem_is_reported_at_once() -> None:
    text = GOOD.replace("{format: jsonl, path: s.jsonl}", "{format: csv}") + "    method: ppo\n  bogus: 1\n"
    found = problems(text)
    assert len(found) >= 3, found
    assert any("spec.bogus: unknown field" in p for p in found)


def test_unknown_and_missing_kinds_name_the_field(tmp_path: Path) -> None:
    f = tmp_path / "x.yaml"
    f.write_text("apiVersion: pro.alignment.dev/v1alpha1\nkind: Pipeline\nmetadata: {name: x}\n")
    with pytest.raises(
        SpecError, match=r"x.yaml:2: kind: unknown kind 'Pipeline' \(one of: AlignmentPipeline"
    ):
        load_resource(f)
    f.write_text("metadata: {name: x}\n")
    with pytest.raises(SpecError, match="kind: required field is missing"):
        load_resource(f)


def test_the_toy_schedule_is_the_toy_pipeline_reading_weekly_drops() -> None:
    """examples/toy/schedule.yaml's template stays in step with examples/toy/pipeline.yaml."""
    from pro.spec import load_file
    from pro.spec.schedule import AlignmentSchedule

    root = Path(__file__).resolve().parents[3] / "examples" / "toy"
    pipeline = load_file(root / "pipeline.yaml", AlignmentPipeline).spec.to_dict()
    template = load_file(root / "schedule.yaml", AlignmentSchedule).spec.pipeline_template.spec.to_dict()
    assert template.pop("promotion")["baseline"] == "lastPromoted"
    for objective in template["objectives"]:
        assert (
            objective["data"]["path"]
            == f"toy-out/drops/{{{{scheduledTime:%Y-%m-%d}}}}/{objective['name']}.jsonl"
        )
        objective["data"]["path"] = f"toy-out/pairs/{objective['name']}.jsonl"
    assert template == pipeline


def test_a_promotion_rule_naming_an_unknown_objective_is_one_line_naming_the_field() -> None:
    root = Path(__file__).resolve().parents[3] / "examples" / "toy"
    text = (root / "pipeline.yaml").read_text() + "  promotion:\n    rule: {maxRegression: {honesty: 0.1}}\n"
    with pytest.raises(SpecError) as err:
        parse(AlignmentPipeline, load_text(text, "p.yaml"))
    [problem] = err.value.problems
    assert problem.path == "spec.promotion.rule.maxRegression.honesty"
    assert (
        problem.message == "unknown objective 'honesty' (the objectives are helpfulness, harmlessness, humor)"
    )
    import yaml

    doc = yaml.safe_load(text)
    del doc["spec"]["evaluation"]
    with pytest.raises(SpecError, match="promotion needs the 'evaluation' section"):
        parse(AlignmentPipeline, load_text(yaml.safe_dump(doc), "p.yaml"))
