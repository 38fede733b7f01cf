"""Server side of the admin API (JSON under ``/_emulator/``); the client is :mod:`admin`.

=========================  ====================================================================
``GET  health``            ``{"ok": true, "resources": N}``
``POST reset``             forget resources, credentials, counters, faults, alarms, triggers;
                           durations go back to the values the server started with
``GET  snapshot``          every resource in every account/region with its status, plus alarms
                           and durations
``GET  counters``          calls per operation, per caller (role ARN or ``default``), per error
``POST counters/reset``    zero the counters
``GET|POST|DELETE faults`` fault injection per operation (or ``*`` for all)
``GET|POST alarms``        CloudWatch alarm states (``ALARM`` triggers auto-rollbacks)
``GET|POST|DELETE failures``  failure triggers for the next create/update/rollback
``GET|POST durations``     lifecycle durations in seconds (``create``, ``update``, ``delete``, ``transform``)
=========================  ====================================================================
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, cast

from aiohttp import web

from .lifecycle import Durations, now
from .sagemaker_ops import SageMakerService
from .store import (
    ENDPOINT,
    INFERENCE_COMPONENT,
    TRANSFORM_JOB,
    Endpoint,
    FailureTrigger,
    Fleet,
    InferenceComponent,
    Resource,
    ScalableTarget,
    ScalingPolicy,
    Store,
    TransformJob,
)
from .sts import StsService

PREFIX = "/_emulator/"


@dataclass
class Fault:
    """Injected misbehaviour for one operation (or ``*``)."""

    throttle_rate: float = 0.0
    error_rate: float = 0.0
    error_status: int = 500
    latency_ms: float = 0.0
    count: int | None = None  # how many more faults may fire; None = unlimited


@dataclass
class Counters:
    """Call counters for the admin API."""

    total: int = 0
    operations: Counter[str] = field(default_factory=Counter)
    callers: dict[str, Counter[str]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    operation_errors: dict[str, Counter[str]] = field(default_factory=dict)

    def record(self, operation: str, caller: str, error: str | None) -> None:
        """Count one call and its error code, if any."""
        self.total += 1
        self.operations[operation] += 1
        self.callers.setdefault(caller, Counter())[operation] += 1
        if error:
            self.errors[error] += 1
            self.operation_errors.setdefault(operation, Counter())[error] += 1

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "total": self.total,
            "operations": dict(self.operations),
            "callers": {k: dict(v) for k, v in self.callers.items()},
            "errors": dict(self.errors),
            "operation_errors": {k: dict(v) for k, v in self.operation_errors.items()},
        }


def _bad(message: str, status: int = 400) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _variants(fleet: Fleet | None) -> list[dict[str, Any]]:
    if fleet is None:
        return []
    return [
        {
            "name": v.name,
            "model": v.model_name,
            "instance_type": v.instance_type,
            "current_weight": v.weight,
            "desired_weight": v.desired_weight,
            "current_instance_count": v.count,
            "desired_instance_count": v.desired_count,
            "serverless": v.serverless,
        }
        for v in fleet.variants
    ]


class EmulatorState(Protocol):
    """What the admin API reads and changes of a running emulator (``server.Emulator`` is one), named here so that
    the admin API does not import the server that routes to it."""

    store: Store
    sagemaker: SageMakerService
    sts: StsService
    durations: Durations
    counters: Counters
    faults: dict[str, Fault]

    def reset(self) -> None:
        """Forget every resource, counter and fault."""


def describe_resource(emulator: EmulatorState, resource: Resource) -> dict[str, Any]:
    """Snapshot entry of one resource."""
    entry: dict[str, Any] = {
        "account": resource.account,
        "region": resource.region,
        "kind": resource.kind,
        "name": resource.name,
        "arn": resource.arn,
        "created": resource.created,
        "modified": resource.modified,
        "tags": dict(resource.tags),
    }
    if isinstance(resource, Endpoint):
        dep = resource.deployment
        entry["status"] = emulator.sagemaker.status_of(resource)
        entry["endpoint_config"] = resource.fleet.config_name if resource.fleet else None
        entry["failure_reason"] = resource.failure_reason
        entry["variants"] = _variants(resource.fleet)
        if dep is not None and "fleet" in dep.target:
            entry["pending_endpoint_config"] = cast(Fleet, dep.target["fleet"]).config_name
            entry["traffic_to_new_fleet"] = dep.fraction(now())
    elif isinstance(resource, InferenceComponent):
        entry["status"] = emulator.sagemaker.status_of(resource)
        entry.update(
            endpoint=resource.endpoint_name,
            variant=resource.variant_name,
            current_copy_count=resource.copies,
            desired_copy_count=resource.desired_copies,
            failure_reason=resource.failure_reason,
            specification=resource.spec,
        )
    elif isinstance(resource, TransformJob):
        entry.update(status=resource.status, failure_reason=resource.failure_reason, outputs=list(resource.outputs))
    elif isinstance(resource, ScalableTarget):
        entry.update(
            resource_id=resource.resource_id,
            scalable_dimension=resource.dimension,
            min_capacity=resource.min_capacity,
            max_capacity=resource.max_capacity,
        )
    elif isinstance(resource, ScalingPolicy):
        entry.update(
            policy_name=resource.policy_name,
            resource_id=resource.resource_id,
            scalable_dimension=resource.dimension,
            policy_type=resource.policy_type,
            configuration=resource.config,
        )
    else:
        entry["spec"] = getattr(resource, "spec", None)
    return entry


async def _json_body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw:
        return {}
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


async def handle_admin(emulator: EmulatorState, request: web.Request) -> web.Response:
    """Dispatch one admin request."""
    path = request.path[len(PREFIX) :].strip("/")
    method = request.method
    try:
        body = await _json_body(request) if method in ("POST", "PUT") else {}
    except ValueError as exc:
        return _bad(f"invalid JSON body: {exc}")
    store = emulator.store
    if path == "health":
        return web.json_response({"ok": True, "resources": store.count()})
    if path == "reset" and method == "POST":
        emulator.reset()
        return web.json_response({"ok": True})
    if path == "snapshot" and method == "GET":
        resources = []
        for resource in list(store.everything()):
            if isinstance(resource, Endpoint) and not emulator.sagemaker.settle_endpoint(resource):
                continue
            if isinstance(resource, InferenceComponent) and not emulator.sagemaker.settle_component(resource):
                continue
            resources.append(describe_resource(emulator, resource))
        return web.json_response(
            {"resources": resources, "alarms": dict(store.alarms), "durations": emulator.durations.as_dict()}
        )
    if path == "counters" and method == "GET":
        return web.json_response(emulator.counters.as_dict())
    if path == "counters/reset" and method == "POST":
        emulator.counters = Counters()
        return web.json_response({"ok": True})
    if path == "faults":
        return _faults(emulator, method, body, request)
    if path == "alarms":
        if method in ("POST", "PUT"):
            name, state = body.get("name"), body.get("state")
            if not isinstance(name, str) or state not in ("ALARM", "OK", "INSUFFICIENT_DATA"):
                return _bad("expected {'name': str, 'state': 'ALARM'|'OK'|'INSUFFICIENT_DATA'}")
            previous = store.alarms.get(name)
            store.alarms[name] = state
            if state == "ALARM" and previous != "ALARM":
                emulator.sagemaker.start_rollbacks(name, now())
        return web.json_response(dict(store.alarms))
    if path == "failures":
        if method in ("POST", "PUT"):
            kind = body.get("resource", ENDPOINT)
            if kind not in (ENDPOINT, INFERENCE_COMPONENT, TRANSFORM_JOB) or not isinstance(body.get("name"), str):
                return _bad("expected {'resource': 'endpoint'|'inference-component'|'transform-job', 'name': str, ...}")
            operation = body.get("operation", "any")
            if operation not in ("create", "update", "any"):
                return _bad("operation must be create, update or any")
            store.triggers.append(
                FailureTrigger(
                    kind=kind,
                    name=body["name"],
                    operation=operation,
                    reason=str(body.get("reason") or ""),
                    rollback=bool(body.get("rollback", False)),
                )
            )
        elif method == "DELETE":
            store.triggers.clear()
        return web.json_response([asdict(t) for t in store.triggers])
    if path == "quotas":
        if method in ("POST", "PUT"):
            kind, region, limit = body.get("kind"), str(body.get("region") or "*"), body.get("limit")
            if not isinstance(kind, str) or not kind:
                return _bad("kind is required (model, endpoint-config, endpoint, inference-component)")
            if limit is None:
                store.quotas.pop((kind, region), None)
            elif not isinstance(limit, int) or limit < 0:
                return _bad("limit must be a non-negative integer, or null to remove the quota")
            else:
                store.quotas[(kind, region)] = limit
        return web.json_response([{"kind": k, "region": r, "limit": n} for (k, r), n in sorted(store.quotas.items())])
    if path == "credentials":
        return _credentials(emulator, method, body)
    if path == "durations":
        if method in ("POST", "PUT"):
            for key in ("create", "update", "delete", "transform"):
                if key in body:
                    value = body[key]
                    if not isinstance(value, (int, float)) or value < 0:
                        return _bad(f"{key} must be a non-negative number of seconds")
                    setattr(emulator.durations, key, float(value))
        return web.json_response(emulator.durations.as_dict())
    return _bad(f"unknown admin path {request.method} {request.path}", status=404)


def _credentials(emulator: EmulatorState, method: str, body: dict[str, Any]) -> web.Response:
    sts = emulator.sts
    if method in ("POST", "PUT"):
        deny, allow, revoke = body.get("deny_role"), body.get("allow_role"), body.get("revoke_role")
        expire = body.get("expire")
        deny_bucket, allow_bucket = body.get("deny_bucket"), body.get("allow_bucket")
        if all(v is None for v in (deny, allow, revoke, expire, deny_bucket, allow_bucket)):
            return _bad("expected {'deny_role': arn} or {'allow_role': arn} or {'revoke_role': arn} or "
                        "{'expire': {'role_arn': arn?, 'access_key': key?}} or {'deny_bucket': name} or "
                        "{'allow_bucket': name}")
        # Everything is checked before anything is applied: a refused request changes nothing.
        for value, name in ((deny, "deny_role"), (allow, "allow_role"), (revoke, "revoke_role")):
            if value is not None and not isinstance(value, str):
                return _bad(f"{name} must be a role ARN")
        for value, name in ((deny_bucket, "deny_bucket"), (allow_bucket, "allow_bucket")):
            if value is not None and not isinstance(value, str):
                return _bad(f"{name} must be a bucket name")
        if expire is not None and (not isinstance(expire, dict) or any(
                not isinstance(expire.get(k), (str, type(None))) for k in ("role_arn", "access_key"))):
            return _bad("expire must be {'role_arn': str?, 'access_key': str?}")
        counts: dict[str, int] = {}
        if isinstance(deny, str):
            sts.denied_roles.add(deny)
        if isinstance(allow, str):
            sts.denied_roles.discard(allow)
        if isinstance(revoke, str):
            counts["revoked"] = sts.revoke(revoke)
        if isinstance(deny_bucket, str):
            sts.denied_buckets.add(deny_bucket)
        if isinstance(allow_bucket, str):
            sts.denied_buckets.discard(allow_bucket)
        if isinstance(expire, dict):
            counts["expired"] = sts.expire(now(), role_arn=expire.get("role_arn"), access_key=expire.get("access_key"))
        return web.json_response({**sts.describe(now()), **counts})
    return web.json_response(sts.describe(now()))


def _faults(emulator: EmulatorState, method: str, body: dict[str, Any], request: web.Request) -> web.Response:
    if method in ("POST", "PUT"):
        operation = body.get("operation", "*")
        try:
            fault = Fault(
                throttle_rate=float(body.get("throttle_rate", 0.0)),
                error_rate=float(body.get("error_rate", 0.0)),
                error_status=int(body.get("error_status", 500)),
                latency_ms=float(body.get("latency_ms", 0.0)),
                count=int(body["count"]) if body.get("count") is not None else None,
            )
        except (TypeError, ValueError) as exc:
            return _bad(f"invalid fault: {exc}")
        if not (0 <= fault.throttle_rate <= 1 and 0 <= fault.error_rate <= 1) or fault.error_status < 500:
            return _bad("rates must be within [0, 1] and error_status must be 5xx")
        emulator.faults[operation] = fault
    elif method == "DELETE":
        operation = request.query.get("operation")
        if operation:
            emulator.faults.pop(operation, None)
        else:
            emulator.faults.clear()
    return web.json_response({op: asdict(f) for op, f in emulator.faults.items()})
