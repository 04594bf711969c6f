"""Prometheus metrics of the operator (served on ``--metrics-port``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

API_REQUESTS = Counter(
    "pro_operator_api_requests_total", "Kubernetes API requests made by the operator", ["verb", "resource"]
)
STAGE_TRANSITIONS = Counter(
    "pro_operator_stage_transitions_total", "Stage phase transitions", ["kind", "phase"]
)
STAGE_FAILURES = Counter("pro_operator_stage_failures_total", "Failed stage attempts (jobs)", ["kind"])
STAGE_DURATION = Histogram(
    "pro_operator_stage_duration_seconds",
    "Time from a stage's first job to its success or final failure",
    ["kind", "phase"],
    buckets=(1, 10, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 48 * 3600, float("inf")),
)
RECONCILE_SECONDS = Histogram(
    "pro_operator_reconcile_seconds",
    "Time of one reconcile",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, float("inf")),
)
RECONCILE_ERRORS = Counter("pro_operator_reconcile_errors_total", "Reconciles that raised", ["kind", "error"])
QUEUE_DEPTH = Gauge(
    "pro_operator_queue_depth",
    "Objects waiting for a reconcile, by lane (progress: what already runs; admission: new pipelines)",
    ["lane"],
)
EVENTS_PENDING = Gauge(
    "pro_operator_events_pending", "Events recorded and not yet posted (they wait while reconciles do)"
)
EVENTS_DROPPED = Counter(
    "pro_operator_events_dropped_total", "Events dropped because too many were waiting to be posted"
)
LEADER = Gauge(
    "pro_operator_leader",
    "1 while this replica leads (or runs without leader election), 0 while it stands by",
)
PIPELINES = Gauge("pro_operator_pipelines", "AlignmentPipelines by phase", ["phase"])


def serve(port: int) -> None:
    """Serve ``/metrics`` on ``port`` (0: don't)."""
    if port:
        from prometheus_client import start_http_server

        start_http_server(port)
