"""The kind table is the one place a kind is declared: a throw-away stage kind registered there alone
reaches the CLI, ``pro validate``, the job renderer, the local runner and its warm interpreter, the CRD
generator, the operator's watches and controllers, and its RBAC rules."""

from __future__ import annotations

import importlib.util
import json
import sys
import tempfile
from pathlib import Path
from typing import Any, Literal

import pytest

from pro.spec.base import Resource, SpecModel
from pro.spec.conventions import API_GROUP, KUBEFLOW_GROUP, PYTORCHJOBS
from pro.spec.execution import StageExecution
from pro.spec.kinds import KINDS, Kind, kind_named, load_resource, resolve, stage_kind_of_verb, stage_kinds

pytestmark = pytest.mark.unit


class NoopSpec(SpecModel):
    """A stage that commits one file."""

    note: str = "hello"
    """What the file says."""
    output: str
    """Where the artifact goes."""
    execution: StageExecution | None = None
    """Cluster only: how the stage runs."""


class NoopStage(Resource):
    """A throw-away stage kind."""

    kind: Literal["NoopStage"] = "NoopStage"
    spec: NoopSpec


def run_noop(resource: NoopStage) -> dict[str, Any]:
    """The throw-away stage's entrypoint: commit ``note.txt`` to the store."""
    from pro.store import Producer, put_artifact

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "note.txt").write_text(resource.spec.note)
        put_artifact(
            tmp, resource.spec.output, producer=Producer("NoopStage", resource.metadata.name), work_digest=""
        )
    return {"output": resource.spec.output}


NOOP = Kind(
    "NoopStage",
    "noop",
    f"{__name__}:NoopStage",
    "Commit one file",
    verb="nothing",
    entrypoint=f"{__name__}:run_noop",
    libraries=("colorsys",),  # a module nothing else here imports
)


@pytest.fixture
def noop_registered(monkeypatch: pytest.MonkeyPatch) -> Kind:
    monkeypatch.setattr("pro.spec.kinds.KINDS", (*KINDS, NOOP))
    return NOOP


def _spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "noop.yaml"
    path.write_text(
        "apiVersion: pro.alignment.dev/v1alpha1\nkind: NoopStage\nmetadata:\n  name: say-hi\n"
        f"spec:\n  note: hi there\n  output: {tmp_path / 'store' / 'noop'}\n"
    )
    return path


def test_the_table_answers_every_name_of_the_kind(noop_registered: Kind) -> None:
    assert resolve("noopstages") is resolve("noop") is kind_named("NoopStage") is noop_registered
    assert stage_kind_of_verb("nothing") is noop_registered and noop_registered.is_stage


def test_the_cli_validates_and_runs_it(
    noop_registered: Kind, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from pro.cli import main
    from pro.store import read_manifest

    spec = _spec_file(tmp_path)
    assert isinstance(load_resource(spec), NoopStage)
    assert main(["validate", "-f", str(spec)]) == 0
    monkeypatch.delitem(sys.modules, "colorsys", raising=False)
    assert main(["stage", "nothing", "-f", str(spec)]) == 0
    assert "colorsys" in sys.modules  # its libraries, imported before it ran
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed == {"kind": "NoopStage", "output": str(tmp_path / "store" / "noop")}
    manifest = read_manifest(str(tmp_path / "store" / "noop"))
    assert manifest is not None and [f.path for f in manifest.files] == ["note.txt"]


def test_the_renderer_and_the_local_runner_run_its_verb(noop_registered: Kind, tmp_path: Path) -> None:
    from pro.render.jobs import render_stage
    from pro.runner.process import stage_command
    from pro.runner.warm import preload

    resource = load_resource(_spec_file(tmp_path))
    job = render_stage(resource, attempt=1).job
    command = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]["command"]
    assert command[:5] == ["torchrun", "-m", "pro", "stage", "nothing"]
    assert stage_command("NoopStage", tmp_path / "s.yaml", 1)[-3:] == [
        "nothing",
        "-f",
        str(tmp_path / "s.yaml"),
    ]
    # the run's warm interpreter imports every stage kind's libraries, each once
    assert preload()[-1] == "colorsys" and len(preload()) == len(set(preload()))


def _installed(module: str) -> bool:
    """``module`` is there to import (a submodule found by its file: nothing is imported)."""
    top, *rest = module.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None or not rest:
        return spec is not None
    base = Path(next(iter(spec.submodule_search_locations or [])), *rest[:-1])
    return (base / f"{rest[-1]}.py").is_file() or (base / rest[-1] / "__init__.py").is_file()


@pytest.mark.parametrize("kind", stage_kinds(), ids=lambda k: k.name)
def test_every_library_a_stage_kind_names_is_installed(kind: Kind) -> None:
    # a misspelt name is skipped at start-up without a word (only slower): caught here
    assert kind.libraries and [m for m in kind.libraries if not _installed(m)] == []


def test_the_crd_generator_makes_its_crd(noop_registered: Kind) -> None:
    from pro.render.crds import crd, crd_files

    body = crd(noop_registered)
    assert body["metadata"]["name"] == f"noopstages.{API_GROUP}"
    assert body["spec"]["names"]["shortNames"] == ["noop"]
    version = body["spec"]["versions"][0]
    assert version["subresources"] == {"status": {}}
    spec_props = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert {"note", "output", "execution"} <= set(spec_props)
    assert f"{API_GROUP}_noopstages.yaml" in crd_files()


def test_the_operator_watches_reconciles_and_may_touch_it(noop_registered: Kind) -> None:
    from pro_operator import rbac
    from pro_operator.handlers import Runtime, watched

    assert (API_GROUP, "v1alpha1", "noopstages", "") in watched()
    runtime = Runtime(object())  # type: ignore[arg-type]
    job = {
        "metadata": {
            "name": "say-hi-1",
            "namespace": "ns",
            "ownerReferences": [{"kind": "NoopStage", "name": "say-hi", "controller": True}],
        }
    }
    # a job owned by a stage of the new kind wakes its stage resource, as for every stage kind
    assert runtime.observe(PYTORCHJOBS, {"type": "ADDED", "object": job}) == [("noopstages", "ns", "say-hi")]
    triples = rbac.triples(cluster_wide=False)
    for verb in ("list", "watch", "create", "update"):
        assert (API_GROUP, "noopstages", verb) in triples
    assert (API_GROUP, "noopstages/status", "patch") in triples
    assert (KUBEFLOW_GROUP, PYTORCHJOBS, "create") in triples
