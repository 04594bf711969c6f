"""The operator's RBAC rules as data: exactly the API requests it makes, nothing with ``*``.

Where each rule comes from:

- :mod:`pro_operator.kube` is the only module that calls the Kubernetes API; every request goes through
  ``Kube._call(verb, resource, what)``.  The controllers (:mod:`~pro_operator.stage`,
  :mod:`~pro_operator.pipeline`, :mod:`~pro_operator.schedule`, writing through
  :mod:`~pro_operator.publish`) decide which resources those calls touch; the jobs are those of every
  backend in :mod:`pro_operator.jobs`.
- :mod:`pro_operator.handlers` registers kopf ``on.event`` watches: kopf lists, then watches, each of
  them (only ``on.event`` handlers: kopf writes no progress annotations and no finalizers, so it needs no
  ``patch`` on our kinds).
- API discovery (``Kube.served``: which Kubeflow job kinds the cluster serves) asks non-resource URLs
  (``/apis/<group>/<version>``) that the built-in ``system:discovery`` role grants every authenticated user.
- kopf itself (``standalone=True``, no peering) posts core/v1 Events (``create events``) and, cluster-wide,
  lists and watches ``customresourcedefinitions`` to notice new and changed resources.  Watching a list of
  namespaces it would also list/watch ``namespaces`` and CRDs; both are cluster-scoped, so a namespaced
  install (Roles only) leaves them out and kopf falls back (a warning at start-up, resources and namespaces
  known from discovery and the ``-n`` list; see the chart's README).

- :mod:`pro_operator.leader` (``--leader-elect``) reads, creates and updates its Lease in the operator's
  own namespace only: :data:`ELECTION_RULES`, a Role there (never a ClusterRole: leases elsewhere are
  none of its business).

``tests/pro_operator/test_rbac.py`` derives the rules from the code (ast) and compares them with these;
``tests/helm`` compares the chart's rendered Role/ClusterRole with them.  Not here, on purpose: on
clusters that enable the ``OwnerReferencesPermissionEnforcement`` admission plugin (OpenShift), setting
``blockOwnerDeletion`` needs ``update`` on the owner's ``finalizers`` subresource; add that rule there.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pro.spec.conventions import API_GROUP, CLUSTER_TRAINING_RUNTIMES, TRAINER_GROUP, TRAINING_RUNTIMES
from pro.spec.kinds import PIPELINE_KIND, all_kinds, kind_named, stage_kinds
from pro_operator.jobs import job_backends

GROUP = API_GROUP
CORE = ""


def our_plurals() -> tuple[str, ...]:
    """The plurals of every kind of ours (one CRD each)."""
    return tuple(k.plural for k in all_kinds())


@dataclass(frozen=True)
class Rule:
    """One PolicyRule: these verbs on these resources of these API groups."""

    api_groups: tuple[str, ...]
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    why: str

    def to_k8s(self) -> dict[str, Any]:
        return {
            "apiGroups": list(self.api_groups),
            "resources": list(self.resources),
            "verbs": list(self.verbs),
        }

    def triples(self) -> set[tuple[str, str, str]]:
        return {(g, r, v) for g in self.api_groups for r in self.resources for v in self.verbs}


def namespaced_rules() -> tuple[Rule, ...]:
    """The rules every watched namespace needs (a Role per namespace, or the ClusterRole cluster-wide),
    for our kinds as the kind table lists them now (a kind added there is covered here)."""
    ours = our_plurals()
    stages = tuple(k.plural for k in stage_kinds())
    pipelines = kind_named(PIPELINE_KIND).plural
    return (
        Rule(
            (GROUP,),
            ours,
            ("list", "watch"),
            "handlers.py: kopf on.event watches every kind of ours; Runtime.sync lists them (Kube.list_objects)",
        ),
        Rule(
            (GROUP,),
            stages,
            ("create", "update"),
            "pipeline.py: stage resources created as their inputs commit (Kube.create), spec changes carried "
            "down (Kube.replace_spec)",
        ),
        Rule(
            (GROUP,),
            (pipelines,),
            ("create", "delete"),
            "schedule.py: a pipeline per firing (Kube.create), history limits and Replace (Kube.delete)",
        ),
        Rule(
            (GROUP,),
            tuple(f"{p}/status" for p in ours),
            ("patch",),
            "publish.py (used by all three controllers): Kube.patch_status",
        ),
        *job_rules(),
        Rule(
            (CORE,),
            ("configmaps",),
            ("create", "get", "patch"),
            "stage.py: the stage spec ConfigMap (Kube.apply_config_map)",
        ),
        Rule(
            (TRAINER_GROUP,),
            (TRAINING_RUNTIMES,),
            ("list",),
            "backends.py: a TrainJob's namespaced runtime exists and runs torchrun (Kube.list_objects)",
        ),
        Rule(
            (CORE,),
            ("pods",),
            ("list",),
            "stage.py: failure reason and log tail from the job's pods (Kube.pods)",
        ),
        Rule(
            (CORE,),
            ("pods/log",),
            ("get",),
            "stage.py: the failing pod's log when its termination message is empty (Kube.pod_log)",
        ),
        Rule(
            (CORE,),
            ("secrets",),
            ("get",),
            "tenancy.py: a credentials Secret carries the guardrails' label (Kube.secret_labels, metadata "
            "only: the operator never receives a Secret's data)",
        ),
        Rule(
            (CORE,),
            ("events",),
            ("create",),
            "publish.py: Kube.event (events.py); kopf posts events too",
        ),
    )


def job_rules() -> tuple[Rule, ...]:
    """The jobs of every job backend (:mod:`pro_operator.jobs`)."""
    return tuple(
        Rule(
            (b.group,),
            (b.plural,),
            ("list", "watch", "create", "patch", "get"),
            "handlers.py watch (label-selected); stage.py: one job per attempt (Kube.create), suspend and "
            "give up (Kube.patch), whose a job of the name is when it exists (Kube.get)",
        )
        for b in job_backends()
    )


#: cluster-scoped rules, granted only cluster-wide (a namespaced install works without them)
CLUSTER_RULES: tuple[Rule, ...] = (
    Rule(
        ("apiextensions.k8s.io",),
        ("customresourcedefinitions",),
        ("list", "watch"),
        "kopf resource observer: watches CRDs to notice new and changed resources",
    ),
    Rule(
        (TRAINER_GROUP,),
        (CLUSTER_TRAINING_RUNTIMES,),
        ("list",),
        "backends.py: a TrainJob's ClusterTrainingRuntime exists and runs torchrun (Kube.list_objects); "
        "without it (a namespaced install) the runtime is not checked ahead and Trainer's webhook refuses",
    ),
)


#: the leader election's Lease, granted in the operator's own namespace only
ELECTION_RULES: tuple[Rule, ...] = (
    Rule(
        ("coordination.k8s.io",),
        ("leases",),
        ("get", "create", "update"),
        "leader.py: the Lease read each round (Kube.get_lease), created when there is none "
        "(Kube.create_lease), renewed, taken over and released (Kube.replace_lease)",
    ),
)


def election_rules() -> list[dict[str, Any]]:
    """The PolicyRules of the Role in the operator's own namespace (with ``--leader-elect``)."""
    return [r.to_k8s() for r in ELECTION_RULES]


def rules(*, cluster_wide: bool) -> list[dict[str, Any]]:
    """The PolicyRules of the operator's ClusterRole (``cluster_wide``) or of each namespace's Role."""
    chosen = namespaced_rules() + (CLUSTER_RULES if cluster_wide else ())
    return [r.to_k8s() for r in chosen]


def triples(*, cluster_wide: bool) -> set[tuple[str, str, str]]:
    """Every (apiGroup, resource, verb) granted."""
    chosen = namespaced_rules() + (CLUSTER_RULES if cluster_wide else ())
    return {t for r in chosen for t in r.triples()}
