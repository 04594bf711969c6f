"""The pure pipeline planner: ``decide_stage(node, status, now, …) -> StageDecision`` for one stage,
``plan(graph, observed, now) -> Plan`` for a graph.

No I/O, no clock reads, no cluster or ML libraries: the local runner and the operator
observe the world, call the planner, and carry out its decisions.
"""

from pro.planner.graph import Graph, GraphError, RetryPolicy, StageNode
from pro.planner.observed import Observed, RunState, StageStatus
from pro.planner.plan import (
    CancelStage,
    Plan,
    StageDecision,
    StartStage,
    attempt_failure,
    decide_stage,
    plan,
    queued,
    started,
)
from pro.spec.status import PipelinePhase, StagePhase

__all__ = [
    "CancelStage",
    "Graph",
    "GraphError",
    "Observed",
    "PipelinePhase",
    "Plan",
    "RetryPolicy",
    "RunState",
    "StageDecision",
    "StageNode",
    "StagePhase",
    "StageStatus",
    "StartStage",
    "attempt_failure",
    "decide_stage",
    "plan",
    "queued",
    "started",
]
