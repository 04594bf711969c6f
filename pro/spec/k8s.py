"""Kubernetes' own rules for the values a spec hands to the cluster: label keys and values, annotation keys,
object names and resource quantities (as ``k8s.io/apimachinery``'s validation states them).

A spec that breaks one of them would be refused by the API server, or worse, accepted and then never run
(a job whose pods are refused); ``pro validate``, ``pro run`` and the operator refuse it first, naming the
field and the value.  Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from pro.spec.rules import problems_at

#: Kubernetes integers are 64-bit
INT64_MAX = 2**63 - 1
#: fields Kubernetes (or Kubeflow) stores as 32-bit integers
INT32_MAX = 2**31 - 1

#: a DNS label (RFC 1123): object names that become label values and DNS names
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
#: a DNS subdomain (RFC 1123): most object names (Secrets, ServiceAccounts, PriorityClasses)
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
#: the name part of a label key or annotation key, and a label value
LABEL_NAME = r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"
#: a resource quantity (``resource.Quantity``, non-negative: ``4``, ``500m``, ``1.5``, ``16Gi``, ``1e3``)
QUANTITY = r"^([0-9]+(\.[0-9]*)?|\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|([eE][-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)))?$"
#: an image reference: no whitespace (Kubernetes refuses leading or trailing blanks; none works inside)
IMAGE = r"^\S+$"

#: what each pattern means, for messages (the patterns themselves are kept for the CRD schemas)
PATTERN_MEANING: dict[str, str] = {
    DNS_LABEL: "a DNS label: at most 63 lower-case letters, digits and '-', starting and ending with a letter "
    "or digit",
    DNS_SUBDOMAIN: "a DNS subdomain: lower-case letters, digits, '-' and '.', starting and ending with a "
    "letter or digit",
    LABEL_VALUE: "a label value: at most 63 letters, digits, '-', '_' and '.', starting and ending with a "
    "letter or digit (no spaces)",
    QUANTITY: "a Kubernetes quantity, e.g. 4, 500m, 1.5 or 16Gi (units: m k M G T P E Ki Mi Gi Ti Pi Ei)",
    IMAGE: "an image reference without spaces",
}

LabelValue = Annotated[str, Field(max_length=63, pattern=LABEL_VALUE)]
"""A label value (Kubernetes' rule: ``validation.IsValidLabelValue``)."""
DnsSubdomain = Annotated[str, Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN)]
"""The name of a Secret, ServiceAccount or PriorityClass."""
Quantity = Annotated[str, Field(pattern=QUANTITY)]
"""A resource quantity as a string."""
Image = Annotated[str, Field(min_length=1, pattern=IMAGE)]
"""A container image reference."""


def qualified_name_problem(key: str) -> str | None:
    """Why ``key`` is not a label or annotation key (``[prefix/]name``), or None when it is one."""
    prefix, slash, name = key.rpartition("/")
    if slash and not prefix:
        return "the prefix before '/' is empty"
    if slash and (len(prefix) > 253 or not re.match(DNS_SUBDOMAIN, prefix)):
        return f"the prefix {prefix!r} must be {PATTERN_MEANING[DNS_SUBDOMAIN]}"
    if not name:
        return "the name part is empty"
    if len(name) > 63 or not re.match(LABEL_NAME, name):
        return (
            f"the name {name!r} must be at most 63 letters, digits, '-', '_' and '.', starting and ending "
            "with a letter or digit (an optional DNS prefix goes before a '/')"
        )
    return None


def _check_keys(value: dict[str, str], what: str) -> dict[str, str]:
    bad = [((key,), f"{what} key {key!r}: {why}") for key in value if (why := qualified_name_problem(key))]
    if bad:
        raise problems_at("keys", bad)
    return value


def _label_keys(value: dict[str, str]) -> dict[str, str]:
    return _check_keys(value, "label")


def _annotation_keys(value: dict[str, str]) -> dict[str, str]:
    _check_keys(value, "annotation")
    size = sum(len(k) + len(v) for k, v in value.items())
    if size > 256 * 1024:
        raise ValueError(f"annotations total {size} bytes; Kubernetes allows at most 262144")
    return value


Labels = Annotated[dict[str, LabelValue], AfterValidator(_label_keys)]
"""Labels (or a node selector): keys are qualified names, values label values."""
Annotations = Annotated[dict[str, str], AfterValidator(_annotation_keys)]
"""Annotations: keys are qualified names, at most 256 KiB in all."""


__all__ = [
    "DNS_LABEL",
    "DNS_SUBDOMAIN",
    "INT32_MAX",
    "INT64_MAX",
    "LABEL_VALUE",
    "PATTERN_MEANING",
    "QUANTITY",
    "Annotations",
    "DnsSubdomain",
    "Image",
    "LabelValue",
    "Labels",
    "Quantity",
    "qualified_name_problem",
]
