"""manifests/: the kustomize base agrees with the chart and the generated CRDs; one sample per kind, each
valid against its CRD's schema and the spec models."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from pro.render.crds import schema
from pro.spec.kinds import KINDS, resolve

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "manifests" / "base"
SAMPLES = ROOT / "manifests" / "samples"
CHART = ROOT / "helm" / "pro-pipeline"
HELM_ONLY = ("helm.sh/chart", "app.kubernetes.io/managed-by")
Obj = dict[str, Any]


def _validator() -> Any:
    """The structural validator of tests/pro/render/test_crds.py (``problems(schema, value)``)."""
    path = ROOT / "tests" / "pro" / "render" / "test_crds.py"
    spec = importlib.util.spec_from_file_location("_crd_validator", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["_crd_validator"] = module
    spec.loader.exec_module(module)
    return module.problems


problems = _validator()


def _strip(o: Any) -> Any:
    if isinstance(o, dict):
        return {k: _strip(v) for k, v in o.items() if k not in HELM_ONLY}
    if isinstance(o, list):
        return [_strip(v) for v in o]
    return o


def base_objects() -> list[Obj]:
    kust = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    out: list[Obj] = []
    for res in kust["resources"]:
        if res.startswith(".."):
            continue
        out += [d for d in yaml.safe_load_all((BASE / res).read_text()) if d]
    return out


def test_the_kustomize_base_is_the_charts_default_render() -> None:
    helm = pytest.importorskip("helm_python")
    with helm.Chart.load(CHART) as chart:
        out = chart.render({}, name="pro-pipeline", namespace="pro-system")
    rendered = [
        _strip(d) for p, t in sorted(out.items()) if p.endswith(".yaml") for d in yaml.safe_load_all(t) if d
    ]
    key = lambda o: (o["kind"], o["metadata"]["name"])  # noqa: E731
    base = [o for o in base_objects() if o["kind"] != "Namespace"]
    assert sorted(base, key=key) == sorted(rendered, key=key), "regenerate manifests/base from the chart"


def test_the_kustomize_base_uses_the_generated_crds_and_its_namespace() -> None:
    from pro.version import __version__

    kust = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    assert "../crds" in kust["resources"] and kust["namespace"] == "pro-system"
    assert kust["images"] == [{"name": "ghcr.io/pro-pipeline/operator", "newTag": __version__}]
    crds = yaml.safe_load((ROOT / "manifests" / "crds" / "kustomization.yaml").read_text())["resources"]
    assert sorted(crds) == sorted(f"pro.alignment.dev_{k.plural}.yaml" for k in KINDS)
    ns = [o for o in base_objects() if o["kind"] == "Namespace"]
    assert [o["metadata"]["name"] for o in ns] == ["pro-system"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with built-in kustomize) not on PATH")
def test_kubectl_kustomize_builds_the_base() -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(BASE)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    objs = [d for d in yaml.safe_load_all(built) if d]
    kinds = sorted(o["kind"] for o in objs)
    assert kinds.count("CustomResourceDefinition") == len(KINDS)
    assert {
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Service",
    } <= set(kinds)
    for o in objs:
        if o["kind"] in ("ServiceAccount", "Deployment", "Service"):
            assert o["metadata"]["namespace"] == "pro-system"
    binding = next(o for o in objs if o["kind"] == "ClusterRoleBinding")
    assert binding["subjects"][0]["namespace"] == "pro-system"


# ----------------------------------------------------------------------------- samples
def test_one_sample_per_kind_named_after_it() -> None:
    want = {f"pro.alignment.dev_v1alpha1_{k.name.lower()}.yaml" for k in KINDS}
    assert {p.name for p in SAMPLES.glob("*.yaml")} == want
    for k in KINDS:
        doc = yaml.safe_load((SAMPLES / f"pro.alignment.dev_v1alpha1_{k.name.lower()}.yaml").read_text())
        assert doc["apiVersion"] == "pro.alignment.dev/v1alpha1" and doc["kind"] == k.name


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_every_sample_validates_against_its_crd_and_its_model(kind: Any) -> None:
    path = SAMPLES / f"pro.alignment.dev_v1alpha1_{kind.name.lower()}.yaml"
    doc = yaml.safe_load(path.read_text())
    # the generated CRD file's schema, as the API server would apply it
    crd = yaml.safe_load((ROOT / "manifests" / "crds" / f"pro.alignment.dev_{kind.plural}.yaml").read_text())
    (version,) = crd["spec"]["versions"]
    assert version["schema"]["openAPIV3Schema"] == schema(resolve(kind.name))
    assert problems(version["schema"]["openAPIV3Schema"], doc) == []
    kind.model().model_validate(doc)


def test_the_validator_rejects_a_broken_sample() -> None:
    doc = yaml.safe_load((SAMPLES / "pro.alignment.dev_v1alpha1_alignmentpipeline.yaml").read_text())
    doc["spec"]["alignment"]["method"] = "ppo"
    found = problems(schema(resolve("AlignmentPipeline")), doc)
    assert any(p.startswith("spec.alignment.method: 'ppo' is not one of") for p in found)


def test_the_pipeline_sample_is_the_production_example() -> None:
    sample = yaml.safe_load((SAMPLES / "pro.alignment.dev_v1alpha1_alignmentpipeline.yaml").read_text())
    example = yaml.safe_load((ROOT / "examples" / "production" / "pipeline-ultrafeedback.yaml").read_text())
    assert sample["spec"] == example["spec"]
    schedule = yaml.safe_load((SAMPLES / "pro.alignment.dev_v1alpha1_alignmentschedule.yaml").read_text())
    assert schedule["spec"]["pipelineTemplate"]["spec"] == example["spec"]
