"""The pure pipeline planner: ``plan(graph, observed, now) -> Plan``.

No I/O, no clock reads, no cluster or ML libraries: the local runner and the operator
observe the world, call :func:`plan`, and carry out its actions.
"""

from pro.planner.graph import Graph, GraphError, RetryPolicy, StageNode
from pro.planner.observed import Observed, RunState, StageStatus
from pro.planner.plan import (
    CancelStage,
    PipelinePhase,
    Plan,
    StagePhase,
    StagePlan,
    StartStage,
    attempt_failure,
    plan,
)

__all__ = [
    "CancelStage",
    "Graph",
    "GraphError",
    "Observed",
    "PipelinePhase",
    "Plan",
    "RetryPolicy",
    "RunState",
    "StageNode",
    "StagePhase",
    "StagePlan",
    "StageStatus",
    "StartStage",
    "attempt_failure",
    "plan",
]
