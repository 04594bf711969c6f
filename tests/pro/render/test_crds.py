"""The generated CRDs: committed files current, examples valid, columns and status fields declared."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from pro.render import crds
from pro.render.crds import CEL, crd, crd_files, main, schema, strip_cel
from pro.spec.kinds import KINDS, Kind, resolve
from pro.spec.status import AlignmentPipelineStatus, AlignmentScheduleStatus, StageRunStatus

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[3]
CRD_DIR = ROOT / "manifests" / "crds"

Schema = dict[str, Any]

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
}


def problems(schema: Schema, value: Any, path: str = "") -> list[str]:
    """Every place ``value`` breaks ``schema``; unknown fields (the server would prune them) count too."""
    where = path or "<root>"
    if value is None:
        return [] if schema.get("nullable") else [f"{where}: null is not allowed"]
    if schema.get("x-kubernetes-int-or-string"):
        ok = isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))
        return [] if ok else [f"{where}: expected int or string"]
    kind = schema.get("type")
    if kind is not None:
        wanted = _TYPES[kind]
        if not isinstance(value, wanted) or (isinstance(value, bool) and kind in ("integer", "number")):
            return [f"{where}: expected {kind}, got {type(value).__name__}"]
    out: list[str] = []
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{where}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, str):
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(f"{where}: {value!r} does not match {schema['pattern']}")
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", len(value)):
            out.append(f"{where}: length {len(value)} out of bounds")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and (value < low or (schema.get("exclusiveMinimum") and value == low)):
            out.append(f"{where}: {value} is below the minimum {low}")
        if high is not None and (value > high or (schema.get("exclusiveMaximum") and value == high)):
            out.append(f"{where}: {value} is above the maximum {high}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            out.append(f"{where}: fewer than {schema['minItems']} items")
        for i, item in enumerate(value):
            out += problems(schema.get("items", {}), item, f"{path}[{i}]")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        out += [
            f"{where}.{key}: required field is missing"
            for key in schema.get("required", [])
            if key not in value
        ]
        for key, item in value.items():
            child = f"{path}.{key}" if path else key
            if key in props:
                out += problems(props[key], item, child)
            elif isinstance(schema.get("additionalProperties"), dict):
                out += problems(schema["additionalProperties"], item, child)
            elif props and not schema.get("x-kubernetes-preserve-unknown-fields"):  # bare: metadata
                out.append(f"{child}: unknown field (the API server would prune it)")
    return out


def example_files() -> list[Path]:
    """Every example resource file (YAML with a kind this API group serves)."""
    names = {k.name for k in KINDS}
    found = []
    for path in sorted((ROOT / "examples").rglob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("kind") in names:
            found.append(path)
    return found


def test_committed_crds_are_current() -> None:
    stale = crds.stale_files(CRD_DIR)
    assert not stale, f"manifests/crds is out of date ({', '.join(stale)}); run: make crds"
    listed = yaml.safe_load((CRD_DIR / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in CRD_DIR.glob("pro.alignment.dev_*.yaml"))


def test_check_mode_fails_on_stale_files_and_passes_after_writing(tmp_path: Path, capsys) -> None:
    assert main(["--check", "--dir", str(tmp_path)]) == 1
    assert "run: make crds" in capsys.readouterr().err
    assert main(["--dir", str(tmp_path)]) == 0
    assert main(["--check", "--dir", str(tmp_path)]) == 0
    first = sorted(tmp_path.iterdir())[0]
    first.write_text(first.read_text() + "# edited\n")
    assert main(["--check", "--dir", str(tmp_path)]) == 1
    assert first.name in capsys.readouterr().err


def test_files_carry_the_generated_header() -> None:
    for name, text in crd_files().items():
        assert text.startswith("# generated by `python -m pro.render.crds`; do not edit\n"), name


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_crd_names_and_version(kind: Kind) -> None:
    c = crd(kind)
    assert c["apiVersion"] == "apiextensions.k8s.io/v1" and c["kind"] == "CustomResourceDefinition"
    assert c["metadata"]["name"] == f"{kind.plural}.pro.alignment.dev"
    spec = c["spec"]
    assert spec["group"] == "pro.alignment.dev" and spec["scope"] == "Namespaced"
    names = spec["names"]
    assert names["kind"] == kind.name and names["plural"] == kind.plural
    assert names["singular"] == kind.name.lower() and names["shortNames"] == [kind.short]
    assert names["categories"] == ["pro"]
    (version,) = spec["versions"]
    assert version["name"] == "v1alpha1" and version["served"] and version["storage"]
    assert version["subresources"] == {"status": {}}
    root = version["schema"]["openAPIV3Schema"]
    assert root["type"] == "object" and root["description"]
    assert set(root["properties"]) == {"apiVersion", "kind", "metadata", "spec", "status"}


def _at(node: dict[str, Any], json_path: str) -> dict[str, Any] | None:
    for part in json_path.strip(".").split("."):
        node = node.get("properties", {}).get(part)
        if node is None:
            return None
    return node


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_printer_columns_point_at_declared_fields(kind: Kind) -> None:
    version = crd(kind)["spec"]["versions"][0]
    root = version["schema"]["openAPIV3Schema"]
    columns = version["additionalPrinterColumns"]
    assert columns[-1] == {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    for column in columns[:-1]:
        node = _at(root, column["jsonPath"])
        assert node is not None, column
        assert {"string": "string", "integer": "integer", "boolean": "boolean", "date": "string"}[
            column["type"]
        ] == node["type"], column


def test_printer_columns_per_kind() -> None:
    def names(word: str) -> list[str]:
        return [c["name"] for c in crd(resolve(word))["spec"]["versions"][0]["additionalPrinterColumns"]]

    assert names("alp") == ["Status", "Progress", "Stage", "Result", "Age"]
    assert names("pal") == ["Status", "Attempts", "Job", "Age"]
    assert names("als") == ["Schedule", "Suspend", "Last Schedule", "Age"]


def _declares(node: dict[str, Any], model: Any, where: str) -> list[str]:
    """Fields of ``model`` (recursively) missing from the schema ``node``."""
    from pro.spec.loader import _field_models

    missing = []
    for name, field in model.model_fields.items():
        alias = field.alias or name
        child = node.get("properties", {}).get(alias)
        if child is None:
            missing.append(f"{where}.{alias}")
            continue
        for sub in _field_models(field.annotation):
            missing += _declares(child.get("items", child), sub, f"{where}.{alias}")
    return missing


@pytest.mark.parametrize(
    ("word", "model"),
    [
        ("rmt", StageRunStatus),
        ("adt", StageRunStatus),
        ("pal", StageRunStatus),
        ("pev", StageRunStatus),
        ("alp", AlignmentPipelineStatus),
        ("als", AlignmentScheduleStatus),
    ],
)
def test_every_status_field_is_declared(word: str, model: Any) -> None:
    status = schema(resolve(word))["properties"]["status"]
    assert _declares(status, model, "status") == []
    assert "x-kubernetes-preserve-unknown-fields" not in status
    assert "default" not in yaml.safe_dump(status)  # the operator writes status, the server invents none


@pytest.mark.parametrize("path", example_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_examples_validate_against_their_crd(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    kind = resolve(data["kind"])
    assert problems(schema(kind), data) == []


def test_the_toy_examples_are_found() -> None:
    found = {p.relative_to(ROOT).as_posix() for p in example_files()}
    assert {"examples/toy/pipeline.yaml", "examples/toy/reward-humor.yaml", "examples/toy/eval.yaml"} <= found


def test_the_validator_catches_what_the_server_rejects() -> None:
    data = yaml.safe_load((ROOT / "examples/toy/pipeline.yaml").read_text())
    spec = data["spec"]
    spec["alignment"]["method"] = "ppo"
    del spec["objectives"][0]["data"]
    spec["objectives"][1]["nmae"] = "x"
    spec["runId"] = "Not_A_Label"
    found = problems(schema(resolve("alp")), data)
    assert any(p.startswith("spec.alignment.method: 'ppo' is not one of") for p in found)
    assert "spec.objectives[0].data: required field is missing" in found
    assert "spec.objectives[1].nmae: unknown field (the API server would prune it)" in found
    assert any(p.startswith("spec.runId: 'Not_A_Label' does not match") for p in found)


def _rules(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [r["rule"] for r in node.get(CEL, [])]
        return own + [r for k, v in node.items() if k != CEL for r in _rules(v)]
    if isinstance(node, list):
        return [r for v in node for r in _rules(v)]
    return []


def test_cel_rules_sit_where_the_models_check() -> None:
    alp = schema(resolve("alp"))
    spec = alp["properties"]["spec"]
    top = [r["rule"] for r in spec[CEL]]
    assert any("has(self.adapter)" in r for r in top)
    objectives = spec["properties"]["objectives"]
    assert objectives["x-kubernetes-list-type"] == "map" and objectives["x-kubernetes-list-map-keys"] == [
        "name"
    ]
    assert [r["rule"] for r in objectives[CEL]] == ["self.map(o, o.name) == oldSelf.map(o, o.name)"]
    baseline = spec["properties"]["evaluation"]["properties"]["baseline"]
    assert "!(has(self.weights) && has(self.uri))" in [r["rule"] for r in baseline[CEL]]
    model = spec["properties"]["rewardModel"]["properties"]["model"]
    assert "has(self.name) != has(self.config)" in [r["rule"] for r in model[CEL]]
    # a policy reference has the same fields as a baseline but none of its rules
    pev = schema(resolve("pev"))["properties"]["spec"]["properties"]
    assert not any("has(self.uri)" in r for r in [x["rule"] for x in pev["policyA"].get(CEL, [])])
    # every rule has a message; the schedule's template gets the pipeline's rules but no transition rule
    for kind in KINDS:
        for node_rules in _rule_nodes(schema(kind)):
            assert all(r["message"] and "\n" not in r["message"] for r in node_rules)
    assert not any("oldSelf" in r for r in _rules(schema(resolve("als"))))
    assert any("has(self.adapter)" in r for r in _rules(schema(resolve("als"))))


def _rule_nodes(node: Any) -> list[list[dict[str, str]]]:
    if isinstance(node, dict):
        own = [node[CEL]] if CEL in node else []
        return own + [n for k, v in node.items() if k != CEL for n in _rule_nodes(v)]
    if isinstance(node, list):
        return [n for v in node for n in _rule_nodes(v)]
    return []


def test_strip_cel_removes_every_rule_and_nothing_else() -> None:
    for kind in KINDS:
        full = crd(kind)
        stripped = strip_cel(full)
        assert _rules(stripped) == [] and CEL not in yaml.safe_dump(stripped)
        assert _rules(full) == _rules(crd(kind))  # the original is untouched
        text = re.sub(
            r"\n\s*x-kubernetes-validations:(\n\s*- rule: .*\n\s*message: .*)+", "", yaml.safe_dump(full)
        )
        assert yaml.safe_load(text) is not None
        assert stripped["spec"]["names"] == full["spec"]["names"]


def test_without_cel_writes_a_copy_for_clusters_before_1_25(tmp_path: Path, capsys) -> None:
    """What Kubernetes 1.20-1.24 takes (the integration tier installs exactly these on 1.20)."""
    assert main(["--without-cel", "--dir", str(tmp_path)]) == 0
    for kind in KINDS:
        written = yaml.safe_load((tmp_path / crds.file_name(kind)).read_text())
        assert written == strip_cel(crd(kind)) and CEL not in yaml.safe_dump(written)
    with pytest.raises(SystemExit):
        main(["--without-cel"])  # never over the committed CRDs
    assert "name another --dir" in capsys.readouterr().err
