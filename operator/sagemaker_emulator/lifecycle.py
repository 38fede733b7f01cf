"""The lifecycle clock: durations, deployment timelines and lazily evaluated transitions.

No background task polls resources. Starting an operation computes its whole timeline up front
(when the new fleet is provisioned, when each traffic shift happens, when it finishes); every
read asks the timeline what is true *now*. A resource's status therefore costs O(1) to compute,
however many resources exist, and a duration of 0 means a Describe right after the call sees the
final state.

Only two things change a timeline after it starts, both from the admin API: a CloudWatch alarm
going to ALARM (which schedules an auto-rollback from that instant) and durations, which only
apply to operations started afterwards.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

CREATE = "create"
UPDATE = "update"
WEIGHTS = "weights"
RUNTIME = "runtime"
DELETE = "delete"


@dataclass
class Durations:
    """Seconds each transition takes; 0 makes it instantaneous."""

    create: float = 3.0
    update: float = 3.0
    delete: float = 2.0
    # How long a transform job stays InProgress before it runs (Stopping lasts ``delete``).
    transform: float = 3.0

    def as_dict(self) -> dict[str, float]:
        """JSON form used by the admin API."""
        return {"create": self.create, "update": self.update, "delete": self.delete, "transform": self.transform}


def now() -> float:
    """Wall-clock seconds; AWS timestamps are wall-clock too, so one clock serves both.

    Rounded to the microsecond, the precision botocore parses and sends timestamps with: a CreationTime a client
    read back and passes as CreationTimeAfter (or Before) then names exactly the stored instant, so the strict
    List* time filters leave that resource out on both sides, as they do on AWS.
    """
    return round(time.time(), 6)


@dataclass(slots=True)
class Step:
    """From ``at`` on, ``fraction`` of the traffic goes to the new fleet; ``phase`` is shown as
    the pending variants' VariantStatus."""

    at: float
    fraction: float
    phase: str


@dataclass(slots=True)
class Deployment:
    """One in-flight operation on an endpoint or inference component.

    ``target`` carries what the operation installs on success (variants, specification, ...);
    the semantic layer interprets it. ``failure`` is decided when the operation starts (failure
    marker or admin trigger) and takes effect when the new fleet would have become ready.
    """

    kind: str
    started: float
    finish_at: float
    steps: list[Step] = field(default_factory=list)
    target: dict[str, Any] = field(default_factory=dict)
    deployment_config: dict[str, Any] | None = None
    alarms: tuple[str, ...] = ()
    failure: str | None = None
    rollback_at: float | None = None
    rollback_reason: str | None = None
    rollback_fails: bool = False
    rollback_seconds: float = 0.0

    def done(self, t: float) -> bool:
        """Whether the operation has finished at time ``t``."""
        return t >= self.finish_at

    def fraction(self, t: float) -> float:
        """Share of traffic served by the new fleet at time ``t``."""
        if self.rollback_at is not None and t >= self.rollback_at:
            # A failed rollback leaves the endpoint serving the mix it had when it started.
            return self._fraction_before(self.rollback_at) if self.rollback_fails else 0.0
        return self._fraction_before(t)

    def _fraction_before(self, t: float) -> float:
        share = 0.0
        for step in self.steps:
            if step.at <= t:
                share = step.fraction
            else:
                break
        return share

    def phase(self, t: float) -> str:
        """VariantStatus of the new fleet at ``t`` (Creating, ActivatingTraffic, Baking, ...)."""
        if self.rollback_at is not None and t >= self.rollback_at:
            return "Deleting"
        phase = "Creating"
        for step in self.steps:
            if step.at <= t:
                phase = step.phase
            else:
                break
        return phase

    def outcome(self) -> str:
        """``succeeded``, ``failed``, ``rolled_back`` or ``rollback_failed`` once done."""
        if self.failure is not None:
            return "failed"
        if self.rollback_at is not None:
            return "rollback_failed" if self.rollback_fails else "rolled_back"
        return "succeeded"

    def start_rollback(self, t: float, reason: str) -> bool:
        """Schedule an auto-rollback from ``t`` (no earlier than the first traffic shift).

        Returns False when the deployment cannot roll back any more (finished, failing or
        already rolling back).
        """
        if self.failure is not None or self.rollback_at is not None or t >= self.finish_at:
            return False
        first_shift = next((s.at for s in self.steps if s.fraction > 0), self.finish_at)
        self.rollback_at = max(t, first_shift) if first_shift < self.finish_at else t
        self.rollback_reason = reason
        self.finish_at = self.rollback_at + self.rollback_seconds
        return True


def capacity_fraction(size: dict[str, Any] | None, total: int) -> float:
    """A CapacitySize (INSTANCE_COUNT/COPY_COUNT or CAPACITY_PERCENT) as a share of ``total``."""
    if not size:
        return 1.0
    value = float(size.get("Value", 1))
    if size.get("Type") == "CAPACITY_PERCENT":
        return min(1.0, value / 100.0)
    return min(1.0, value / max(total, 1))


def plan_steps(start: float, provision: float, config: dict[str, Any] | None, total: int) -> tuple[list[Step], float]:
    """Traffic-shift timeline of an update and its finish time.

    * no DeploymentConfig: one switch once the new fleet is provisioned;
    * blue/green ALL_AT_ONCE: switch, bake ``WaitIntervalInSeconds``, then wait
      ``TerminationWaitInSeconds`` before the old fleet goes;
    * CANARY: ``CanarySize`` first, bake, then the rest, bake;
    * LINEAR: ``LinearStepSize`` per step, a bake after each;
    * rolling (``RollingUpdatePolicy``): ``MaximumBatchSize`` instances (or copies) per batch,
      ``WaitIntervalInSeconds`` between batches.
    """
    ready = start + provision
    steps = [Step(start, 0.0, "Creating")]
    if not config:
        steps.append(Step(ready, 1.0, "Baking"))
        return steps, ready
    blue_green = config.get("BlueGreenUpdatePolicy")
    rolling = config.get("RollingUpdatePolicy")
    if blue_green:
        routing = blue_green.get("TrafficRoutingConfiguration", {})
        wait = float(routing.get("WaitIntervalInSeconds", 0))
        termination = float(blue_green.get("TerminationWaitInSeconds", 0))
        kind = routing.get("Type", "ALL_AT_ONCE")
        if kind == "CANARY":
            shares = [capacity_fraction(routing.get("CanarySize"), total), 1.0]
        elif kind == "LINEAR":
            step = capacity_fraction(routing.get("LinearStepSize"), total)
            count = max(1, math.ceil(1.0 / step - 1e-9))
            shares = [min(1.0, step * (k + 1)) for k in range(count)]
        else:
            shares = [1.0]
        shares[-1] = 1.0
        at = ready
        for share in shares:
            steps.append(Step(at, share, "Baking" if share >= 1.0 else "ActivatingTraffic"))
            at += wait
        return steps, at + termination
    if rolling:
        wait = float(rolling.get("WaitIntervalInSeconds", 0))
        batch = capacity_fraction(rolling.get("MaximumBatchSize"), total)
        count = max(1, math.ceil(1.0 / batch - 1e-9))
        at = ready
        for k in range(count):
            share = 1.0 if k == count - 1 else min(1.0, batch * (k + 1))
            steps.append(Step(at, share, "Baking" if share >= 1.0 else "Updating"))
            at += wait
        return steps, at
    steps.append(Step(ready, 1.0, "Baking"))
    return steps, ready


def alarm_names(config: dict[str, Any] | None) -> tuple[str, ...]:
    """Alarm names of a DeploymentConfig's AutoRollbackConfiguration."""
    if not config:
        return ()
    alarms = (config.get("AutoRollbackConfiguration") or {}).get("Alarms") or []
    return tuple(a["AlarmName"] for a in alarms if "AlarmName" in a)
