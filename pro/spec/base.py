"""Base classes for every spec: Kubernetes-style field names, strictness and digests."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from pro.spec.conventions import GROUP_VERSION
from pro.spec.k8s import DNS_LABEL, Annotations, Labels

Name = Annotated[str, Field(pattern=DNS_LABEL, min_length=1, max_length=63)]


class SpecModel(BaseModel):
    """A spec section: camelCase in YAML (as in Kubernetes objects), unknown fields rejected.

    Python code builds models with field names (``TrainingSettings(max_steps=5)``); a spec *file* is read
    strictly by :func:`pro.spec.loader.parse` (camelCase names only, no type coercion), as the API server
    reads it.  Field docstrings become the descriptions shown by ``pro explain`` and ``kubectl explain``.
    """

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        validate_default=True,
        use_attribute_docstrings=True,
        frozen=True,
    )

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data with YAML field names, defaults filled in."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class ObjectMeta(SpecModel):
    """The part of Kubernetes object metadata a spec file may carry."""

    name: Name
    """Object name: lower-case letters, digits and '-', at most 63 characters."""
    namespace: Name | None = None
    """Namespace on the cluster; locally it becomes part of the artifact path."""
    labels: Labels = Field(default_factory=dict)
    """Labels copied to everything created for this object."""
    annotations: Annotations = Field(default_factory=dict)
    """Annotations copied to everything created for this object."""


class Resource(SpecModel):
    """A Kubernetes-style object: ``apiVersion``, ``kind``, ``metadata`` and ``spec``.

    Concrete kinds declare ``kind: Literal["…"]`` and a typed ``spec``.
    """

    api_version: Literal["pro.alignment.dev/v1alpha1"] = GROUP_VERSION
    """Always ``pro.alignment.dev/v1alpha1``."""
    metadata: ObjectMeta
    """Name, namespace, labels and annotations."""


#: spec fields that say how a stage runs, not what it computes: left out of its digest
NOT_DIGESTED = frozenset({"execution"})


def spec_digest(spec: SpecModel) -> str:
    """SHA-256 of the spec's canonical JSON (defaults included, ``execution`` left out): equal digests,
    equal work."""
    data = {k: v for k, v in spec.to_dict().items() if k not in NOT_DIGESTED}
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
