"""The invariants every reliability scenario checks at its end (issue 9).

* AWS (the emulator's snapshot) holds exactly what the custom resources ask for, plus at most
  ``revisionHistoryLimit`` retained revisions per model and config (and what a live endpoint still runs on): no
  orphan model, config, endpoint, inference component, scalable target or scaling policy, and no duplicate.
* Every custom resource is Ready or Degraded with an actionable reason, for its current generation; none is left
  Progressing; every object the scenario deleted is gone (its finalizer was removed).
* The operator log holds no traceback, and each WARNING/ERROR line names the object it concerns (lines about the
  operator's own connection to the API server are allowed only when the scenario says it cut that connection).

Use :func:`assert_invariants` (waits, with a deadline, for the state to settle, then reports every violation).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client import ApiClient

from sagemaker_emulator.server import EmulatorThread
from tests.reliability.harness import CONFIG, ENDPOINT, IC, KINDS, MODEL, condition, is_true, list_objects

TAG = "sagemaker.operator.dev/"
FINALIZER = "sagemaker.operator.dev/finalizer"
AWS_KIND = {"model": MODEL, "endpoint-config": CONFIG, "endpoint": ENDPOINT, "inference-component": IC}
# Degraded reasons a user can act on (docs/operator.md, "Failures" and "Ownership").
ACTIONABLE = {"InvalidSpec", "AwsRejected", "NotOwned", "UpdateFailed", "CreateFailed", "UpdateRollbackFailed",
              "OutOfService", "AwsCredentials", "AccessDenied", "QuotaExceeded"}
# WARNING/ERROR lines that concern the operator's connection to the API server, not one object. Allowed only in
# scenarios that cut that connection on purpose.
CONNECTION_NOISE = re.compile(
    r"(Request attempt #\d+|Cannot connect to host|Connection refused|ServerDisconnectedError|ClientConnectorError"
    r"|ClientOSError|Server disconnected|Connection reset|TimeoutError|timed out|Watch-stream|watch-stream"
    r"|Cannot (?:watch|list)|ConnectionResetError|APIServerError|Service Unavailable|503|Max retries exceeded"
    r"|failed to (?:connect|establish)|Connection aborted|RemoteDisconnected|NewConnectionError|ProtocolError"
    r"|Retrying \(Retry)")
LEVEL = re.compile(r"\[(WARNING|ERROR|CRITICAL)\s*\]|\b(WARNING|ERROR|CRITICAL)\b:")


@dataclass
class Scope:
    """What one scenario manages, and what it did outside the operator."""

    namespaces: list[str]
    cluster_id: str = "default"
    # (kind, namespace, name) of objects the scenario deleted: they must be gone.
    deleted: set[tuple[str, str, str]] = field(default_factory=set)
    # Objects allowed (expected) to end Degraded; any other must be Ready. None: any object may be Degraded.
    degraded: dict[tuple[str, str, str], str | None] | None = None
    # The scenario cut the operator's API server connection: connection warnings without an object are allowed.
    connection_trouble: bool = False
    # AWS resources the scenario created outside the operator (whatever their tags say): not orphans.
    foreign: set[str] = field(default_factory=set)


def _key(obj: dict[str, Any]) -> tuple[str, str, str]:
    return (str(obj["kind"]), str(obj["metadata"]["namespace"]), str(obj["metadata"]["name"]))


def _owner(tags: dict[str, str]) -> tuple[str, str, str, str] | None:
    if f"{TAG}namespace" not in tags:
        return None
    return (tags.get(f"{TAG}cluster", ""), tags.get(f"{TAG}kind", ""), tags.get(f"{TAG}namespace", ""),
            tags.get(f"{TAG}name", ""))


def kubernetes_problems(admin: ApiClient, scope: Scope) -> list[str]:
    """Conditions, finalizers and deletions of every custom resource in the scenario's namespaces."""
    problems = []
    present: set[tuple[str, str, str]] = set()
    for namespace in scope.namespaces:
        for kind in KINDS:
            for obj in list_objects(admin, namespace, kind):
                key = _key(obj)
                present.add(key)
                where = f"{key[0]} {key[1]}/{key[2]}"
                if obj["metadata"].get("deletionTimestamp"):
                    progressing = condition(obj, "Progressing")
                    problems.append(f"{where} is still being deleted (finalizers {obj['metadata'].get('finalizers')}"
                                    f"; Progressing: {progressing.get('reason')}: {progressing.get('message')})")
                    continue
                if FINALIZER not in (obj["metadata"].get("finalizers") or []):
                    problems.append(f"{where} has no finalizer: a deletion could leak its AWS resources")
                ready, degraded = is_true(obj, "Ready"), is_true(obj, "Degraded")
                entry = condition(obj, "Degraded" if degraded else "Ready" if ready else "Progressing")
                if not entry:
                    problems.append(f"{where} has no conditions")
                    continue
                if not entry.get("reason") or not entry.get("message"):
                    problems.append(f"{where}: condition {entry.get('type')} without reason or message: {entry}")
                if ready:
                    if scope.degraded is not None and scope.degraded.get(key):
                        problems.append(f"{where} is Ready; expected Degraded ({scope.degraded[key]})")
                    continue
                waiting = str(entry.get("reason", "")).startswith("WaitingFor") and bool(entry.get("message"))
                if not degraded and waiting and (scope.degraded is None or key in scope.degraded):
                    continue  # waits, saying for what, on an object that is itself reported (expected here)
                if not degraded:
                    problems.append(f"{where} is neither Ready nor Degraded for generation "
                                    f"{obj['metadata']['generation']}: {entry.get('type')}={entry.get('status')} "
                                    f"{entry.get('reason')}: {entry.get('message')}")
                    continue
                reason, message = str(entry.get("reason")), str(entry.get("message"))
                if reason not in ACTIONABLE:
                    problems.append(f"{where} is Degraded with a reason no user can act on: {reason}: {message}")
                if reason == "InvalidSpec" and not re.search(r"\b(spec|metadata)[.\w\[\]]*", message):
                    problems.append(f"{where}: InvalidSpec message names no field: {message}")
                if scope.degraded is not None:
                    if key not in scope.degraded:
                        problems.append(f"{where} is Degraded, expected Ready: {reason}: {message}")
                    elif scope.degraded[key] not in (None, reason):
                        problems.append(f"{where} is Degraded {reason}, expected {scope.degraded[key]}: {message}")
    for key in sorted(scope.deleted & present):
        problems.append(f"{key[0]} {key[1]}/{key[2]} was deleted but is still there")
    return problems


def aws_problems(admin: ApiClient, emulator: EmulatorThread, scope: Scope) -> list[str]:
    """The emulator's resources against what the custom resources ask for."""
    problems: list[str] = []
    resources = emulator.admin.resources()
    objects: dict[tuple[str, str, str], dict[str, Any]] = {}
    for namespace in scope.namespaces:
        for kind in KINDS:
            for obj in list_objects(admin, namespace, kind):
                if not obj["metadata"].get("deletionTimestamp"):
                    objects[_key(obj)] = obj

    # No duplicate: one resource per kind and name in each account and region (AWS names are case-insensitive).
    names = Counter((r["account"], r["region"], r["kind"], r["name"].lower()) for r in resources)
    problems += [f"duplicate AWS {k[2]} {k[3]}: {n} copies" for k, n in names.items() if n > 1]

    endpoints = [r for r in resources if r["kind"] == "endpoint"]
    configs_in_use = {r.get("endpoint_config") for r in endpoints} | {r.get("pending_endpoint_config")
                                                                     for r in endpoints}
    models_in_use = {v.get("model") for r in resources if r["kind"] == "endpoint-config"
                     for group in ("ProductionVariants", "ShadowProductionVariants")
                     for v in _variants_of(r, group)} | {
        str((r.get("specification") or {}).get("ModelName")) for r in resources if r["kind"] == "inference-component"}
    owned: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for resource in resources:
        if resource["kind"] not in AWS_KIND or resource["name"] in scope.foreign:
            continue
        owner = _owner(resource.get("tags") or {})
        if owner is None or owner[0] != scope.cluster_id or owner[2] not in scope.namespaces:
            continue  # not ours, or another scenario's: the tests of foreign resources check them themselves
        key = (owner[1], owner[2], owner[3])
        if owner[1] != AWS_KIND[resource["kind"]]:
            problems.append(f"AWS {resource['kind']} {resource['name']} carries kind tag {owner[1]}")
        if key not in objects:
            problems.append(f"orphan AWS {resource['kind']} {resource['name']}: its owner {key[0]} "
                            f"{key[1]}/{key[2]} does not exist")
            continue
        owned.setdefault(key, []).append(resource)

    for key, obj in objects.items():
        where = f"{key[0]} {key[1]}/{key[2]}"
        mine = owned.get(key, [])
        status = obj.get("status") or {}
        ready = is_true(obj, "Ready")
        if key[0] in (MODEL, CONFIG):
            current = status.get("modelName") if key[0] == MODEL else status.get("endpointConfigName")
            in_use = models_in_use if key[0] == MODEL else configs_in_use
            history = {str(h.get("name")) for h in status.get("revisions") or []}
            limit = int(obj["spec"].get("revisionHistoryLimit", 2))
            names_mine = {r["name"] for r in mine}
            if ready and current not in names_mine:
                problems.append(f"{where} is Ready but its AWS revision {current} does not exist")
            unknown = names_mine - history - {current}
            if unknown:
                problems.append(f"{where}: AWS revisions not in its status (leaked): {sorted(unknown)}")
            retained = names_mine - {current} - in_use
            if len(retained) > limit:
                problems.append(f"{where}: {len(retained)} unused retained revisions, revisionHistoryLimit is {limit}:"
                                f" {sorted(retained)}")
        elif key[0] == ENDPOINT:
            wanted = str(status.get("endpointName") or obj["spec"].get("endpointName") or key[2])
            if len(mine) > 1:
                problems.append(f"{where} owns {len(mine)} AWS endpoints: {[r['name'] for r in mine]}")
            if ready:
                live = [r for r in mine if r["name"].lower() == wanted.lower()]
                if not live:
                    problems.append(f"{where} is Ready but AWS endpoint {wanted} is not its own or does not exist")
                elif live[0]["status"] != "InService" or live[0]["endpoint_config"] != status.get(
                        "currentEndpointConfigName") or status.get("currentEndpointConfigName") != status.get(
                        "desiredEndpointConfigName"):
                    problems.append(f"{where} is Ready but AWS says {live[0]['status']} on "
                                    f"{live[0]['endpoint_config']} (status: current "
                                    f"{status.get('currentEndpointConfigName')}, desired "
                                    f"{status.get('desiredEndpointConfigName')})")
        elif key[0] == IC and ready and not mine:
            problems.append(f"{where} is Ready but its AWS inference component does not exist")
        problems += _scaling_problems(key, obj, resources, ready)

    # Scalable targets and policies: each belongs to an endpoint variant or component whose spec asks for it.
    wanted_targets, wanted_policies = _wanted_scaling(objects)
    for resource in resources:
        if resource["kind"] == "scalable-target" and resource["resource_id"] not in wanted_targets:
            problems.append(f"orphan scalable target {resource['resource_id']}")
        if resource["kind"] == "scaling-policy" and (resource["resource_id"], resource["policy_name"]) \
                not in wanted_policies:
            problems.append(f"orphan scaling policy {resource['policy_name']} on {resource['resource_id']}")
    return problems


def _variants_of(resource: dict[str, Any], group: str) -> list[dict[str, Any]]:
    spec = resource.get("spec") or {}
    return [{"model": v.get("ModelName")} for v in spec.get(group) or []]


def _wanted_scaling(objects: dict[tuple[str, str, str], dict[str, Any]]
                    ) -> tuple[set[str], set[tuple[str, str]]]:
    targets: set[str] = set()
    policies: set[tuple[str, str]] = set()
    for key, obj in objects.items():
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        if key[0] == ENDPOINT:
            name = str(status.get("endpointName") or spec.get("endpointName") or key[2])
            for entry in spec.get("autoscaling") or []:
                resource_id = f"endpoint/{name}/variant/{entry['variantName']}"
                targets.add(resource_id)
                policies |= {(resource_id, str(p["policyName"])) for p in entry.get("policies") or []}
        elif key[0] == IC and spec.get("autoscaling"):
            name = str(spec.get("inferenceComponentName") or key[2])
            resource_id = f"inference-component/{name}"
            targets.add(resource_id)
            policies |= {(resource_id, str(p["policyName"])) for p in spec["autoscaling"].get("policies") or []}
    return targets, policies


def _scaling_problems(key: tuple[str, str, str], obj: dict[str, Any], resources: list[dict[str, Any]],
                      ready: bool) -> list[str]:
    """A Ready object with autoscaling in its spec has its targets registered."""
    if not ready:
        return []
    wanted, _ = _wanted_scaling({key: obj})
    present = {r["resource_id"] for r in resources if r["kind"] == "scalable-target"}
    return [f"{key[0]} {key[1]}/{key[2]} is Ready but scalable target {t} is not registered"
            for t in sorted(wanted - present)]


def log_problems(log: str, scope: Scope, names: Iterable[str] = ()) -> list[str]:
    """No traceback; every WARNING/ERROR line names the object it concerns (``namespace/name``)."""
    problems = []
    if "Traceback" in log:
        start = log.index("Traceback")
        problems.append(f"the operator logged a traceback:\n{log[max(0, start - 1500):start + 3000]}")
    objects = re.compile("|".join(re.escape(f"{ns}/") for ns in scope.namespaces) or r"^$")
    extra = [n for n in names if n]
    anonymous = []
    for line in log.splitlines():
        if not LEVEL.search(line):
            continue
        if objects.search(line) or any(name in line for name in extra):
            continue
        if scope.connection_trouble and CONNECTION_NOISE.search(line):
            continue
        anonymous.append(line)
    if anonymous:
        problems.append(f"{len(anonymous)} WARNING/ERROR lines name no object, e.g.:\n" + "\n".join(anonymous[:5]))
    return problems


def assert_invariants(admin: ApiClient, emulator: EmulatorThread, scope: Scope, log: str | None = None, *,
                      timeout: float = 90, log_names: Iterable[str] = ()) -> float:
    """Wait (up to ``timeout``) until the Kubernetes and AWS invariants hold; fail listing what does not.

    Returns how long settling took. The log is checked once, at the end (it only grows).
    """
    started = time.monotonic()
    deadline = started + timeout
    problems: list[str] = []
    while True:
        problems = kubernetes_problems(admin, scope)
        if not problems:
            problems = aws_problems(admin, emulator, scope)
        if not problems or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    settled = time.monotonic() - started
    if log is not None:
        problems += log_problems(log, scope, log_names)
    assert not problems, f"{len(problems)} invariant violations after {settled:.0f} s:\n" + "\n".join(problems[:40])
    return settled
