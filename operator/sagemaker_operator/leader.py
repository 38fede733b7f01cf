"""Leader election on a ``coordination.k8s.io/v1`` Lease, with the semantics of client-go's leaderelection.

Several ``sagemaker-operator run`` processes with the same arguments may run at once (two replicas, a rolling
upgrade, a partitioned node's old pod): exactly one of them leads and reconciles; the others stand by with their
watches and caches filled. The rules, as in client-go:

* A process takes the lease only when it is free (no holder: released) or expired, and "expired" is judged by the
  observer's own clock: ``leaseDurationSeconds`` after the moment this process last saw the record change. Clocks of
  different machines are never compared, only durations on one machine.
* Every write is an update guarded by the ``resourceVersion`` that was read (optimistic concurrency): of two
  candidates that decide at the same moment, one gets 409 Conflict.
* ``leaseTransitions`` counts the changes of holder.
* Fencing by time: the leader counts its lease from the moment it *sent* its last successful renewal, and stops
  acting ``renew deadline`` after it, while others wait ``lease duration`` after they *saw* that renewal: the leader
  always stops first, by at least ``lease duration - renew deadline``. :meth:`LeaderElector.fence` applies the same
  clock to every AWS call and Kubernetes write, so even a process frozen (SIGSTOP, a stalled VM) and resumed acts not
  once before it has renewed.
* On a clean stop (SIGTERM) the leader releases the lease (no holder, a 1 s duration: client-go's
  ReleaseOnCancel), so a standby takes over at its next retry instead of after a whole lease duration.

The decision itself is pure (:func:`observe`, :func:`decide`, :func:`next_record`), so it is unit-tested without a
server; :class:`LeaderElector` only reads and writes the Lease around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import enum
import json
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import kubernetes
import urllib3
from kubernetes.client.exceptions import ApiException

from sagemaker_operator.metrics import LEADER

logger = logging.getLogger(__name__)

# client-go's defaults (and controller-runtime's): a lease of 15 s, renewed every 2 s, given up after 10 s of failures.
DEFAULT_LEASE_DURATION = 15
DEFAULT_RENEW_DEADLINE = 10.0
DEFAULT_RETRY_PERIOD = 2.0
DEFAULT_LEASE_NAME = "sagemaker-operator"
# A standby waits retry_period times a factor in [1, 1 + JITTER) between attempts, so that standbys do not move in
# step. client-go uses up to 2.2x; less jitter hands a released lease over sooner.
JITTER = 0.2
# Where a pod finds its own namespace when POD_NAMESPACE (the downward API) is not set.
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


class NotLeading(Exception):
    """An AWS call or Kubernetes write was refused because this process does not (or no longer) hold the lease."""


@dataclass(frozen=True)
class ElectionConfig:
    """Which lease, who we are, and the three durations (seconds)."""

    namespace: str
    name: str = DEFAULT_LEASE_NAME
    identity: str = ""
    lease_duration: int = DEFAULT_LEASE_DURATION
    renew_deadline: float = DEFAULT_RENEW_DEADLINE
    retry_period: float = DEFAULT_RETRY_PERIOD

    def __post_init__(self) -> None:
        # The same checks as client-go's NewLeaderElector: without them the fencing argument does not hold.
        if not self.identity:
            raise ValueError("leader election needs an identity")
        if self.lease_duration <= self.renew_deadline:
            raise ValueError(f"the lease duration ({self.lease_duration} s) must be longer than the renew deadline "
                             f"({self.renew_deadline} s): the leader must stop before others may start")
        if self.renew_deadline <= self.retry_period * (1 + JITTER):
            raise ValueError(f"the renew deadline ({self.renew_deadline} s) must be longer than {1 + JITTER:g} x "
                             f"the retry period ({self.retry_period} s), so that a renewal can be retried")
        if self.retry_period <= 0:
            raise ValueError("the retry period must be positive")


def default_identity() -> str:
    """The host name (a pod's name) plus a random suffix: a restarted process is a new candidate, never mistaken
    for the one before it, which may still be running somewhere (a partitioned node)."""
    return f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"


def default_namespace(environ: dict[str, str] | None = None, account_file: Path = SERVICE_ACCOUNT_NAMESPACE) -> str:
    """The pod's namespace: POD_NAMESPACE (the chart sets it from the downward API), else the service account's
    namespace file, else ``default`` (a process outside a cluster)."""
    env = os.environ if environ is None else environ
    if env.get("POD_NAMESPACE"):
        return env["POD_NAMESPACE"]
    with contextlib.suppress(OSError):
        namespace = account_file.read_text().strip()
        if namespace:
            return namespace
    return "default"


# --- the decision (pure) -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LeaseRecord:
    """The spec of a Lease, as the election reads and writes it (times as the API server's MicroTime strings)."""

    holder: str = ""
    lease_duration_seconds: int = 0
    acquire_time: str = ""
    renew_time: str = ""
    transitions: int = 0

    @classmethod
    def from_spec(cls, spec: dict[str, Any] | None) -> LeaseRecord:
        spec = spec or {}
        return cls(holder=str(spec.get("holderIdentity") or ""),
                   lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
                   acquire_time=str(spec.get("acquireTime") or ""), renew_time=str(spec.get("renewTime") or ""),
                   transitions=int(spec.get("leaseTransitions") or 0))

    def to_spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {"holderIdentity": self.holder or None,
                                "leaseDurationSeconds": self.lease_duration_seconds,
                                "leaseTransitions": self.transitions}
        if self.acquire_time:
            spec["acquireTime"] = self.acquire_time
        if self.renew_time:
            spec["renewTime"] = self.renew_time
        return spec


@dataclass(frozen=True)
class Observation:
    """The lease as this process last read it, and when (its own monotonic clock) it last saw the record change.

    ``record`` None: there is no Lease object yet.
    """

    record: LeaseRecord | None
    resource_version: str
    observed_at: float


class Action(enum.Enum):
    CREATE = "create"  # no lease: create it, holding it
    ACQUIRE = "acquire"  # free or expired: take it over
    RENEW = "renew"  # ours: renew it
    WAIT = "wait"  # someone else holds a valid lease


def observe(previous: Observation | None, record: LeaseRecord | None, resource_version: str, now: float
            ) -> Observation:
    """The new observation after reading ``record`` at ``now``: the expiry clock restarts only when the record
    changed (a renewal changes renewTime), never merely because it was read again."""
    if previous is not None and previous.record == record:
        return replace(previous, resource_version=resource_version)
    return Observation(record, resource_version, now)


def expires_at(observation: Observation) -> float:
    """When, on the observer's clock, the observed lease expires."""
    duration = observation.record.lease_duration_seconds if observation.record else 0
    return observation.observed_at + duration


def decide(observation: Observation | None, now: float, identity: str) -> Action:
    """What a candidate called ``identity`` does at ``now`` with what it observed."""
    if observation is None or observation.record is None:
        return Action.CREATE
    record = observation.record
    if record.holder == identity:
        # Ours by the record: renew, even late (nobody took it meanwhile, or the resourceVersion would have moved).
        return Action.RENEW
    if record.holder and now < expires_at(observation):
        return Action.WAIT
    return Action.ACQUIRE


def micro_time(moment: datetime.datetime) -> str:
    """The API server's MicroTime format (RFC 3339 with microseconds, UTC)."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def next_record(current: LeaseRecord | None, action: Action, identity: str, lease_duration: int,
                wall_now: datetime.datetime) -> LeaseRecord:
    """The record to write for ``action`` (CREATE, ACQUIRE or RENEW)."""
    stamp = micro_time(wall_now)
    if action is Action.CREATE or current is None:
        return LeaseRecord(identity, lease_duration, stamp, stamp, 0)
    if action is Action.RENEW:
        return LeaseRecord(identity, lease_duration, current.acquire_time or stamp, stamp, current.transitions)
    if action is Action.ACQUIRE:
        return LeaseRecord(identity, lease_duration, stamp, stamp, current.transitions + 1)
    raise ValueError(f"nothing to write for {action}")


def released_record(current: LeaseRecord, wall_now: datetime.datetime) -> LeaseRecord:
    """client-go's release: no holder and a 1 s duration, so any standby may take the lease at its next retry."""
    stamp = micro_time(wall_now)
    return LeaseRecord("", 1, stamp, stamp, current.transitions)


# --- the elector ---------------------------------------------------------------------------------------------------


Callback = Callable[[], Awaitable[None]]


async def _nothing() -> None:
    return None


class LeaderElector:
    """Runs the election for one process (:meth:`run`); :meth:`fence` guards every action of the leader."""

    def __init__(self, api_client: kubernetes.client.ApiClient, config: ElectionConfig, *,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC)) -> None:
        self.config = config
        self._api = kubernetes.client.CoordinationV1Api(api_client)
        self._on_started: Callback = _nothing
        self._on_stopped: Callback = _nothing
        self._clock = clock
        self._wall_clock = wall_clock
        self._rng = random.Random()
        self._observation: Observation | None = None
        # Monotonic time at which the last successful write of ours was *sent*; None while not leading.
        self._renewed_at: float | None = None
        self._acting = False  # between on_started and on_stopped
        self._lock = asyncio.Lock()  # one read-decide-write at a time (the loop, or the release)
        self.became_leader_at: float | None = None
        # A request must end well within the renew deadline, so that a hung connection cannot hold the loop.
        self._request_timeout = (min(5.0, config.renew_deadline / 2), config.renew_deadline / 2)

    # --- what the rest of the operator asks -----------------------------------------------------------------------

    def is_leading(self) -> bool:
        """Whether this process may act now: it holds the lease by its own clock (within the renew deadline)."""
        renewed = self._renewed_at
        return renewed is not None and self._clock() - renewed < self.config.renew_deadline

    def fence(self) -> None:
        """Raise :class:`NotLeading` unless this process may act now. Called right before each AWS call and each
        Kubernetes write, so no action can slip through between losing the lease and the workers being stopped."""
        if not self.is_leading():
            raise NotLeading(f"{self.config.identity} does not hold lease {self.config.namespace}/"
                             f"{self.config.name}")

    @property
    def holder(self) -> str:
        """Who holds the lease, as last read ("" if nobody or not read yet)."""
        record = self._observation.record if self._observation else None
        return record.holder if record else ""

    def status(self) -> dict[str, Any]:
        """For the probe payload: who we are, whether we lead, and who does."""
        return {"identity": self.config.identity, "leading": self.is_leading(), "holder": self.holder,
                "lease": f"{self.config.namespace}/{self.config.name}"}

    # --- the loop --------------------------------------------------------------------------------------------------

    async def run(self, on_started: Callback = _nothing, on_stopped: Callback = _nothing) -> None:
        """Acquire, lead until the lease is lost, stand by again; forever (until cancelled).

        ``on_started`` runs when this process gains the lease, ``on_stopped`` when it loses it or is stopped while
        leading (also from :meth:`release`).
        """
        self._on_started, self._on_stopped = on_started, on_stopped
        try:
            while True:
                await self._acquire()
                await self._lead()
        finally:
            await self._step_down("the election stopped", expected=True)

    async def _acquire(self) -> None:
        logger.info("leader election: %s is standing by for lease %s/%s", self.config.identity,
                    self.config.namespace, self.config.name)
        while True:
            if await self._attempt():
                return
            await asyncio.sleep(self.config.retry_period * (1 + self._rng.uniform(0, JITTER)))

    async def _lead(self) -> None:
        assert self._renewed_at is not None
        self.became_leader_at = self._clock()
        logger.info("leader election: %s now leads (lease %s/%s, %d transitions)", self.config.identity,
                    self.config.namespace, self.config.name,
                    self._observation.record.transitions if self._observation and self._observation.record else 0)
        self._acting = True
        LEADER.set(1)
        await self._on_started()
        while True:
            await asyncio.sleep(self.config.retry_period)
            if not await self._renew():
                await self._step_down("it could not renew the lease within the renew deadline")
                return

    async def _renew(self) -> bool:
        """Renew, retrying every retry period, until the renew deadline (counted from the last renewal) passes."""
        while True:
            assert self._renewed_at is not None
            remaining = self._renewed_at + self.config.renew_deadline - self._clock()
            if remaining <= 0:
                return False
            try:
                if await asyncio.wait_for(self._attempt(), timeout=remaining):
                    return True
            except TimeoutError:
                return False
            if self.holder != self.config.identity:
                return False  # another process holds it now: no point waiting for the deadline
            await asyncio.sleep(min(self.config.retry_period, max(0.0, remaining)))

    async def _attempt(self) -> bool:
        """One read-decide-write; True when this process holds the lease afterwards. API errors count as False."""
        async with self._lock:
            try:
                return await self._try_acquire_or_renew()
            except (ApiException, urllib3.exceptions.HTTPError, OSError) as error:
                logger.warning("leader election: lease %s/%s could not be read or written: %s",
                               self.config.namespace, self.config.name, _describe(error))
                return False

    async def _try_acquire_or_renew(self) -> bool:
        config = self.config
        started = self._clock()
        found = await self._read()
        record = LeaseRecord.from_spec(found.get("spec")) if found is not None else None
        version = str(found["metadata"].get("resourceVersion", "")) if found is not None else ""
        self._observation = observe(self._observation, record, version, self._clock())
        action = decide(self._observation, self._clock(), config.identity)
        if action is Action.WAIT:
            return False
        new = next_record(record, action, config.identity, config.lease_duration, self._wall_clock())
        try:
            if action is Action.CREATE:
                written = await self._create(new)
            else:
                written = await self._replace(new, version)
        except ApiException as error:
            if error.status in (409, 422):  # someone else wrote first (or created it first): read again next time
                logger.debug("leader election: %s lost a race for the lease: %s", config.identity, error.reason)
                return False
            raise
        self._observation = observe(self._observation, new, str(written["metadata"].get("resourceVersion", "")),
                                    self._clock())
        # Counted from before the read: others saw the new record only after it was written, so their lease ends
        # later than ours does on this clock.
        self._renewed_at = started
        return True

    async def _step_down(self, why: str, *, expected: bool = False) -> None:
        self._renewed_at = None  # the fence closes first: nothing may act from here on
        if not self._acting:
            return
        self._acting = False
        LEADER.set(0)
        logger.log(logging.INFO if expected else logging.WARNING, "leader election: %s stopped leading lease %s/%s: %s",
                   self.config.identity, self.config.namespace, self.config.name, why)
        await self._on_stopped()

    async def release(self) -> None:
        """Stop acting, then give the lease up if it is ours (ReleaseOnCancel), so a standby need not wait for it to
        expire. Errors are logged: the lease then simply expires."""
        await self._step_down("it is shutting down", expected=True)
        observation = self._observation
        if observation is None or observation.record is None or observation.record.holder != self.config.identity:
            return
        async with self._lock:
            try:
                await self._replace(released_record(observation.record, self._wall_clock()),
                                    observation.resource_version)
            except (ApiException, urllib3.exceptions.HTTPError, OSError) as error:
                logger.warning("leader election: could not release lease %s/%s (it will expire): %s",
                               self.config.namespace, self.config.name, _describe(error))
                return
        logger.info("leader election: %s released lease %s/%s", self.config.identity, self.config.namespace,
                    self.config.name)

    # --- the API calls (the kubernetes client is synchronous: each runs in a thread) ---------------------------------

    async def _read(self) -> dict[str, Any] | None:
        try:
            response = await asyncio.to_thread(
                self._api.read_namespaced_lease, self.config.name, self.config.namespace, _preload_content=False,
                _request_timeout=self._request_timeout)
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return _json(response)

    async def _create(self, record: LeaseRecord) -> dict[str, Any]:
        body: Any = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.config.name, "namespace": self.config.namespace},
                "spec": record.to_spec()}
        response = await asyncio.to_thread(self._api.create_namespaced_lease, self.config.namespace, body,
                                           _preload_content=False, _request_timeout=self._request_timeout)
        return _json(response)

    async def _replace(self, record: LeaseRecord, resource_version: str) -> dict[str, Any]:
        # An update carrying the resourceVersion that was read: 409 Conflict if anyone wrote since.
        body: Any = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.config.name, "namespace": self.config.namespace,
                             "resourceVersion": resource_version},
                "spec": record.to_spec()}
        response = await asyncio.to_thread(self._api.replace_namespaced_lease, self.config.name,
                                           self.config.namespace, body, _preload_content=False,
                                           _request_timeout=self._request_timeout)
        return _json(response)


def _json(response: Any) -> dict[str, Any]:
    # Read raw: the client's model would turn MicroTimes into datetimes and back, losing nothing but adding work.
    data = json.loads(response.data or b"{}")
    return data if isinstance(data, dict) else {}


def _describe(error: Exception) -> str:
    if isinstance(error, ApiException):
        return f"{error.status} {error.reason}"
    return f"{type(error).__name__}: {error}"

