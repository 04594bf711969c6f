"""The Dockerfiles (no Docker engine here): every path they copy exists, their install lines agree with
pyproject.toml and requirements/, their users and entrypoints match what the chart and the PyTorchJobs run."""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
OPERATOR = ROOT / "images" / "operator" / "Dockerfile"
TRAINER = ROOT / "images" / "trainer" / "Dockerfile"
Instr = tuple[str, str]


def instructions(path: Path) -> list[Instr]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[Instr] = []
    buf = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def args(path: Path) -> dict[str, str]:
    return dict(a.split("=", 1) for w, a in instructions(path) if w == "ARG" and "=" in a)


def runs(path: Path) -> str:
    return "\n".join(a for w, a in instructions(path) if w == "RUN")


def lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower()] = version
    return pins


def pyproject_deps() -> dict[str, Requirement]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {Requirement(d).name.lower(): Requirement(d) for d in data["project"]["dependencies"]}


@pytest.mark.parametrize("path", [OPERATOR, TRAINER], ids=["operator", "trainer"])
def test_every_copied_path_exists(path: Path) -> None:
    copies = [a for w, a in instructions(path) if w in ("COPY", "ADD") and not a.startswith("--from")]
    assert copies
    for spec in copies:
        *sources, _dest = shlex.split(spec)
        for src in sources:
            assert (ROOT / src).exists(), f"{path.relative_to(ROOT)}: COPY {src}: no such path"
    # the build context is the repository root; the per-Dockerfile ignore file lets those paths through
    ignore = (path.parent / "Dockerfile.dockerignore").read_text()
    for spec in copies:
        *sources, _ = shlex.split(spec)
        for src in sources:
            top = src.split("/")[0]
            assert f"!{top}" in ignore, f"{src} is excluded from the build context"


@pytest.mark.parametrize("path", [OPERATOR, TRAINER], ids=["operator", "trainer"])
def test_runs_as_a_numeric_non_root_user(path: Path) -> None:
    users = [a for w, a in instructions(path) if w == "USER"]
    assert users, "no USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) > 0 and gid.isdigit() and int(gid) > 0


def test_operator_image_installs_the_slim_set_and_no_torch() -> None:
    run = runs(OPERATOR)
    assert "pip install --prefix=/install -c requirements/lock.txt -r requirements/operator.txt" in run
    assert "pip install --prefix=/install --no-deps ." in run
    assert not any("torch" in a for _, a in instructions(OPERATOR))  # comments aside
    base = {w: a for w, a in instructions(OPERATOR)}["FROM"]
    assert "slim" in base
    # every slim requirement is a pyproject dependency with the same bounds
    deps = pyproject_deps()
    for line in (ROOT / "requirements" / "operator.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            req = Requirement(line)
            assert str(deps[req.name.lower()].specifier) == str(req.specifier), line


def test_operator_image_entrypoint_user_and_ports_match_the_chart() -> None:
    instr = instructions(OPERATOR)
    entry = json.loads(next(a for w, a in instr if w == "ENTRYPOINT"))
    assert entry == ["pro-operator"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["pro-operator"] == "pro_operator.__main__:main"
    values = yaml.safe_load((ROOT / "helm" / "pro-pipeline" / "values.yaml").read_text())
    exposed = {int(p) for w, a in instr if w == "EXPOSE" for p in a.split()}
    assert exposed == {values["health"]["port"], values["metrics"]["port"]}
    deployment = (ROOT / "helm" / "pro-pipeline" / "templates" / "deployment.yaml").read_text()
    user = next(a for w, a in instr if w == "USER").split(":")[0]
    assert f"runAsUser: {user}" in deployment
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == f">={args(OPERATOR)['PYTHON_VERSION']}"


def test_trainer_image_runs_the_stage_entrypoint_the_jobs_use() -> None:
    from pro.planner.compose import compose
    from pro.render import jobs
    from pro.spec.conventions import SPEC_DIR
    from pro.spec.pipeline import AlignmentPipeline
    from pro.testing.toy_pipeline import MINIMAL, pipeline_doc

    instr = instructions(TRAINER)
    entry = json.loads(next(a for w, a in instr if w == "ENTRYPOINT"))
    assert entry == ["torchrun", "-m", "pro", "stage"]
    # every rendered job's command (a PyTorchJob replica's, a TrainJob trainer's) is the entrypoint, then the
    # verb and the spec file; its pods run as the image's user
    uid = int(next(a for w, a in instr if w == "USER").split(":")[0])
    doc = pipeline_doc(Path("/toy"), "s3://bucket/pro", MINIMAL)
    for stage in compose(AlignmentPipeline.model_validate(doc)).stages:
        job = jobs.render_stage(stage.resource, attempt=1).job  # type: ignore[arg-type]
        runs = [
            (spec["template"]["spec"]["containers"][0]["command"], spec["template"]["spec"])
            for spec in job["spec"]["pytorchReplicaSpecs"].values()
        ]
        trainjob = jobs.render_stage(stage.resource, attempt=1, backend="TrainJob").job  # type: ignore[arg-type]
        patch = trainjob["spec"]["runtimePatches"][0]["trainingRuntimeSpec"]["template"]["spec"]
        runs.append(
            (
                trainjob["spec"]["trainer"]["command"],
                patch["replicatedJobs"][0]["template"]["spec"]["template"]["spec"],
            )
        )
        for command, pod in runs:
            assert command[: len(entry)] == entry
            assert command[len(entry) + 1 :] == ["--spec", f"{SPEC_DIR}/stage.yaml"]
            assert pod["securityContext"]["runAsUser"] == uid


def test_trainer_build_args_are_the_tested_versions() -> None:
    from pro.version import __version__

    a, pins, deps = args(TRAINER), lock(), pyproject_deps()
    assert a["PRO_VERSION"] == __version__ and args(OPERATOR)["PRO_VERSION"] == __version__
    for arg, name in (
        ("DEEPSPEED_VERSION", "deepspeed"),
        ("TRL_VERSION", "trl"),
        ("TRANSFORMERS_VERSION", "transformers"),
    ):
        assert a[arg] == pins[name], f"{arg}={a[arg]}, lock has {name}=={pins[name]}"
        assert deps[name].specifier.contains(a[arg]), f"{arg}={a[arg]} is outside pyproject's {deps[name]}"
        assert f'"{name}==${{{arg}}}"' in runs(TRAINER)
    torch_base = re.search(r"pytorch:(\d+\.\d+\.\d+)-cuda", a["BASE_IMAGE"])
    assert torch_base and deps["torch"].specifier.contains(torch_base.group(1))
    assert "cuda" in a["BASE_IMAGE"]
    run = runs(TRAINER)
    assert "requirements/lock.txt" in run and "pip install -c /tmp/constraints.txt ." in run
    assert "^(torch|deepspeed|trl|transformers)==" in run  # the base's torch and the build args win
