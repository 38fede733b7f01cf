"""Prometheus metrics of the operator, served on ``/metrics`` by ``sagemaker-operator run``.

The chart's alerts and dashboard (charts/sagemaker-operator) name these metrics; tests/chart/test_monitoring.py
scrapes a running operator and fails when one of those names is not served.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector

REGISTRY = CollectorRegistry(auto_describe=True)
# process_resident_memory_bytes, process_cpu_seconds_total, process_open_fds...: the operator's own memory and CPU,
# whoever scrapes it (the default registry has them, this one only when asked; they read /proc, Linux only).
ProcessCollector(registry=REGISTRY)

AWS_CALLS = Counter(
    "sagemaker_operator_aws_calls", "AWS API calls made by the operator, by operation and outcome.",
    ["service", "operation", "outcome"], registry=REGISTRY)
AWS_CALL_SECONDS = Histogram(
    "sagemaker_operator_aws_call_seconds", "Latency of AWS API calls, retries included.",
    ["service", "operation"], registry=REGISTRY,
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30))
RECONCILES = Counter(
    "sagemaker_operator_reconciles", "Reconciliations, by kind and result.", ["kind", "result"], registry=REGISTRY)
RECONCILE_SECONDS = Histogram(
    "sagemaker_operator_reconcile_seconds", "Time one reconciliation took.", ["kind"], registry=REGISTRY)
QUEUE_DEPTH = Gauge(
    "sagemaker_operator_queue_depth", "Objects waiting to be reconciled now.", registry=REGISTRY)
ENDPOINTS_BY_STATUS = Gauge(
    "sagemaker_operator_endpoints", "Managed endpoints by their last seen SageMaker status.", ["status"],
    registry=REGISTRY)
DEGRADED = Gauge(
    "sagemaker_operator_degraded",
    "Objects whose Degraded condition is True (they wait for a person), by kind and reason.", ["kind", "reason"],
    registry=REGISTRY)
K8S_WRITES = Counter(
    "sagemaker_operator_kubernetes_writes", "Writes to the Kubernetes API, by kind and what was written.",
    ["kind", "what"], registry=REGISTRY)
LEADER = Gauge(
    "sagemaker_operator_leader", "1 while this process leads (reconciles and calls AWS), 0 while it stands by.",
    registry=REGISTRY)
DRIFT_SWEEPS = Counter(
    "sagemaker_operator_drift_sweeps", "Drift checks by the page, per place (region and role), by result.",
    ["result"], registry=REGISTRY)
DRIFT_FOUND = Counter(
    "sagemaker_operator_drift_found", "Objects a drift check by the page found different from their status, by kind "
    "and what differed (missing, state, modified, tags).", ["kind", "what"], registry=REGISTRY)
