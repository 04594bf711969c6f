"""Spec models → structural OpenAPI schemas, and ``explain`` built on them."""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal

import pytest
from pydantic import Field

from pro.spec import Resource, SpecModel
from pro.spec.explain import ExplainError, explain
from pro.spec.openapi import crd_schema, structural_schema


class Source(SpecModel):
    """Where the rows come from."""

    path: str | None = None
    """A local file."""
    max_rows: int = Field(default=3, ge=1, lt=10)
    """Rows to read."""
    config: dict[str, Any] = Field(default_factory=dict)
    """Free-form settings."""
    labels: dict[str, str] = Field(default_factory=dict)
    fmt: Literal["jsonl", "parquet"] = "jsonl"
    """File format."""
    port: int | str = 80


class DemoSpec(SpecModel):
    tau: float = Field(default=0.1, gt=0)
    """Softmax temperature."""
    sources: list[Source] = Field(min_length=1)
    """One per objective."""
    extra: Source | None = None
    """An optional source."""


class Demo(Resource):
    kind: Literal["Demo"] = "Demo"
    spec: DemoSpec


def _walk(node: Any) -> list[dict[str, Any]]:
    found = []
    if isinstance(node, dict):
        found.append(node)
        for v in node.values():
            found += _walk(v)
    elif isinstance(node, list):
        for v in node:
            found += _walk(v)
    return found


@pytest.mark.unit
def test_schema_is_structural() -> None:
    schema = structural_schema(Demo)
    text = json.dumps(schema)
    assert "$ref" not in text and '"title"' not in text and "const" not in text
    for node in _walk(schema):
        if "anyOf" in node:  # only Kubernetes' own int-or-string form
            assert node["x-kubernetes-int-or-string"] is True
            assert node["anyOf"] == [{"type": "integer"}, {"type": "string"}]
        if "properties" in node:
            assert node["type"] == "object" and "additionalProperties" not in node
    spec = schema["properties"]["spec"]
    assert spec["required"] == ["sources"]
    tau = spec["properties"]["tau"]
    assert tau == {
        "default": 0.1,
        "description": "Softmax temperature.",
        "exclusiveMinimum": True,
        "minimum": 0,
        "type": "number",
    }
    src = spec["properties"]["sources"]["items"]["properties"]
    assert src["maxRows"]["maximum"] == 10 and src["maxRows"]["exclusiveMaximum"] is True
    assert src["config"]["x-kubernetes-preserve-unknown-fields"] is True
    assert src["labels"]["additionalProperties"] == {"type": "string"}
    assert src["fmt"]["enum"] == ["jsonl", "parquet"]
    assert (
        src["path"]["nullable"] is True and src["path"]["type"] == "string" and "default" not in src["path"]
    )
    assert src["port"]["x-kubernetes-int-or-string"] is True and "type" not in src["port"]
    assert schema["properties"]["kind"]["enum"] == ["Demo"]
    extra = spec["properties"]["extra"]
    assert extra["nullable"] is True and extra["description"] == "An optional source."


@pytest.mark.unit
def test_explain_a_field_like_kubectl() -> None:
    text = explain(Demo, "Demo", ["spec", "sources"])
    assert text.startswith("KIND:     Demo\nVERSION:  pro.alignment.dev/v1alpha1\n")
    assert "FIELD:    sources <[]Object> (min items: 1)" in text
    assert "  maxRows\t<integer> (default: 3; min: 1; max (exclusive): 10)" in text
    assert "    Rows to read." in text
    assert 'fmt\t<string> (default: "jsonl"; one of: "jsonl", "parquet")' in text
    top = explain(Demo, "Demo", ["spec"])
    assert "sources\t<[]Object> -required-" in top


@pytest.mark.unit
def test_explain_recursive_lists_nested_fields() -> None:
    text = explain(Demo, "Demo", ["spec"], recursive=True)
    assert "\n  sources\t<[]Object>" in text and "\n    maxRows\t<integer>" in text


@pytest.mark.unit
def test_explain_unknown_field_suggests() -> None:
    with pytest.raises(
        ExplainError, match=r'field "sorces" does not exist in Demo.spec; did you mean \'sources\'\?'
    ):
        explain(Demo, "Demo", ["spec", "sorces"])


@pytest.mark.integration
def test_a_real_api_server_accepts_the_schema_and_enforces_it(kube_cluster, kube_namespace) -> None:
    """The generated schema is structural: kube-apiserver installs it, defaults and validates with it."""
    from kubernetes import client, config
    from kubernetes.client.rest import ApiException

    api = config.new_client_from_config(config_file=kube_cluster.kubeconfig)
    ext, custom = client.ApiextensionsV1Api(api), client.CustomObjectsApi(api)
    _, ns = kube_namespace
    group = f"t{uuid.uuid4().hex[:6]}.pro.alignment.dev"
    schema = crd_schema(Demo)
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"demos.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": "demos", "singular": "demo", "kind": "Demo"},
            "versions": [
                {"name": "v1alpha1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
            ],
        },
    }
    ext.create_custom_resource_definition(crd)
    try:
        import time

        for _ in range(100):
            got = ext.read_custom_resource_definition(f"demos.{group}")
            if any(c.type == "Established" and c.status == "True" for c in got.status.conditions or []):
                break
            time.sleep(0.1)
        body = {
            "apiVersion": f"{group}/v1alpha1",
            "kind": "Demo",
            "metadata": {"name": "ok"},
            "spec": {"sources": [{"path": "a.jsonl", "unknown": 1}]},
        }
        made = custom.create_namespaced_custom_object(group, "v1alpha1", ns, "demos", body)
        assert made["spec"]["tau"] == 0.1  # defaulted by the server from our schema
        assert made["spec"]["sources"][0]["maxRows"] == 3
        assert "unknown" not in made["spec"]["sources"][0]  # pruned
        bad = {**body, "metadata": {"name": "bad"}, "spec": {"tau": 0, "sources": [{"fmt": "csv"}]}}
        with pytest.raises(ApiException) as exc:
            custom.create_namespaced_custom_object(group, "v1alpha1", ns, "demos", bad)
        assert exc.value.status == 422
        causes = {c["field"] for c in json.loads(exc.value.body)["details"]["causes"]}
        assert "spec.tau" in causes
        assert causes & {"spec.sources.fmt", "spec.sources[0].fmt"}  # 1.20 omits the index
    finally:
        ext.delete_custom_resource_definition(f"demos.{group}")
        api.close()
