"""What every reconciler shares: settings, the AWS gateway, the object store, and per-object helpers."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from sagemaker_operator.api import rules
from sagemaker_operator.api.convert import SpecError
from sagemaker_operator.api.kinds import kind_named
from sagemaker_operator.aws.clients import AwsTarget
from sagemaker_operator.aws.errors import AwsFailure
from sagemaker_operator.aws.gateway import SageMakerGateway
from sagemaker_operator.reconcile.failures import RetryLater
from sagemaker_operator.reconcile.objects import KubeObject, ObjectRef, ObjectStore
from sagemaker_operator.reconcile.ownership import ADOPT_ANNOTATION, Custody, Owner, desired_tags
from sagemaker_operator.status import Outcome


@dataclass(frozen=True)
class OperatorSettings:
    """Operator-wide settings (command-line flags of ``sagemaker-operator run``)."""

    cluster_id: str = "default"
    default_region: str | None = None
    # Drift checks: a sweep by the page of every place every resync_seconds, plus up to jitter of it (where a sweep
    # fails, one Describe per Ready resource at that pace instead).
    resync_seconds: float = 300.0
    resync_jitter: float = 0.2
    # Tags are compared on every Nth sweep (a GetResources page per 100 resources; per resource, a ListTags).
    tag_check_every: int = 1
    # Polling while AWS works (Creating, Updating, Deleting): first delay, doubling up to the maximum.
    poll_initial_seconds: float = 5.0
    poll_max_seconds: float = 60.0
    default_revision_history_limit: int = 2
    # Artifact-aware revisions of models whose spec does not say (--artifact-tracking), and their own check pace.
    artifact_tracking: bool = False
    artifact_check_seconds: float = 600.0


# Status fields that hold the ARN of an object's own AWS resource (one per kind).
ARN_FIELDS = ("modelArn", "endpointConfigArn", "endpointArn", "inferenceComponentArn")


def _arn_parts(arn: object) -> list[str]:
    """``[arn, PARTITION, SERVICE, REGION, ACCOUNT, RESOURCE]`` of an ARN; empty for anything else."""
    parts = arn.split(":", 5) if isinstance(arn, str) else []
    return parts if len(parts) == 6 and parts[0] == "arn" else []


def arn_account(arn: str) -> str | None:
    """The account of an ARN (``arn:PARTITION:SERVICE:REGION:ACCOUNT:...``), if it names one."""
    parts = _arn_parts(arn)
    return parts[4] if parts and parts[4].isdigit() else None


def recorded_location(status: Mapping[str, Any]) -> tuple[str, str] | None:
    """(region, account) of the AWS resource an object's status records, if any."""
    for key in ARN_FIELDS:
        parts = _arn_parts(status.get(key))
        if parts and parts[2] == "sagemaker" and parts[3] and parts[4]:
            return parts[3], parts[4]
    return None


class SpecProblem(Exception):
    """A problem with the spec that only the user can fix; the message names the field."""


class MissingReference(SpecProblem):
    """A referenced object does not exist. Objects applied together reach the operator through one watch per kind,
    in any order: an endpoint can arrive before its config. So this is reported only once it lasts (see
    :meth:`ReconcileContext.spec_problem_outcome`); the referenced object's arrival wakes the referrer."""


class Waiting(Exception):
    """A referenced object is not ready yet: the referrer waits, it is not an error. ``reason`` goes to status.

    ``settling``: the referenced object is new or its spec changed, and its own next pass (which wakes the referrer)
    will most likely make it ready; such a wait is not worth a status write unless it lasts (see
    :meth:`ReconcileContext.waiting_outcome`).
    """

    reason = "Waiting"

    def __init__(self, message: str, *, settling: bool = False) -> None:
        super().__init__(message)
        self.settling = settling


def settling(obj: KubeObject) -> bool:
    """Whether an object is new or has a spec change its operator has not acted on yet: waiting for it is brief."""
    return not obj.status or obj.status.get("observedGeneration") != obj.generation


# How long a wait for a settling object goes unreported: the transient "waiting for the model" between a model's
# change and its new revision would otherwise cost a status write (and a watch event) per referrer and change.
QUIET_WAIT_SECONDS = 30.0
# How long a missing referenced object goes unreported: long enough for the objects of one apply to arrive from
# their watches, short enough for a misspelt reference to be reported soon.
QUIET_MISSING_SECONDS = 10.0


@dataclass
class ReconcileContext:
    """Shared state and helpers for the reconcilers of all kinds."""

    gateway: SageMakerGateway
    store: ObjectStore
    settings: OperatorSettings
    rng: random.Random = field(default_factory=random.Random)
    clock: Callable[[], float] = time.monotonic
    # In memory only: after a restart, drift checks are spread over one resync window instead of all at once.
    _next_drift_check: dict[ObjectRef, float] = field(default_factory=dict)
    _drift_checks: dict[ObjectRef, int] = field(default_factory=dict)
    _poll_attempts: dict[ObjectRef, int] = field(default_factory=dict)
    _own_accounts: dict[str, asyncio.Future[str]] = field(default_factory=dict)
    _inherited: set[ObjectRef] = field(default_factory=set)
    _next_artifact_check: dict[ObjectRef, float] = field(default_factory=dict)
    _waiting_since: dict[ObjectRef, float] = field(default_factory=dict)
    # Drift found by a sweep, to be looked at by the object's next pass: whether its tags differ too.
    _suspects: dict[ObjectRef, bool] = field(default_factory=dict)
    # Places whose last sweep failed: their Ready resources are described one by one, as before sweeps.
    _unswept: set[AwsTarget] = field(default_factory=set)
    _sweeps: dict[AwsTarget, int] = field(default_factory=dict)

    async def target(self, obj: KubeObject) -> AwsTarget:
        """The region and role of an object's AWS resources, once the spec passes its kind's validation rules.

        The rules are the CRD's CEL rules: an API server that dropped them (Kubernetes < 1.25) accepted the object,
        so the operator refuses it here with the same message. Once an object has AWS resources, their region and
        account are fixed: SageMaker resources cannot move, and acting on a new region or account would create a
        second set and leave the first one billing, unseen.
        """
        problems = rules.problems(kind_named(obj.kind).all_rules, obj.spec)
        if problems:
            raise SpecProblem("; ".join(problems))
        target = self._spec_target(obj)
        if target is None:
            raise SpecProblem("spec.region is not set and the operator has no default region (--region)")
        recorded = recorded_location(obj.status)
        if recorded is not None and recorded[0] != target.region:
            field_name = "spec.region" if obj.spec.get("region") else "spec.region (unset: the operator's --region)"
            raise SpecProblem(
                f"{field_name}: this object's AWS resources are in {recorded[0]} and cannot move to {target.region}; "
                f"set spec.region to {recorded[0]}, or delete this object (which deletes them) and create it again")
        await self._check_account(target, recorded, deleting=False)
        return target

    async def deletion_target(self, obj: KubeObject) -> AwsTarget | None:
        """Where to delete an object's AWS resources: where they are (their recorded region), whatever the spec says
        now; None when there is no region at all (then nothing was ever created). Raises SpecProblem when the
        spec's role is in another account than the resources, which it could not reach."""
        recorded = recorded_location(obj.status)
        target = self._spec_target(obj, region=recorded[0] if recorded else None)
        if target is not None:
            await self._check_account(target, recorded, deleting=True)
        return target

    async def deletion_step_target(self, obj: KubeObject) -> AwsTarget | Outcome:
        """:meth:`deletion_target`, or the outcome that ends this deletion step without an AWS call: Degraded when
        the spec's role cannot reach the resources, finalized when there is no region (nothing was created)."""
        try:
            target = await self.deletion_target(obj)
        except SpecProblem as problem:
            return Outcome.degraded("InvalidSpec", f"cannot delete: {problem}")
        if target is None:
            return Outcome.progressing("Deleted", "no region: nothing was created", finalized=True)
        return target

    def place(self, obj: KubeObject) -> AwsTarget | None:
        """Where the spec says the object's resources live, without validating it (for grouping objects)."""
        return self._spec_target(obj)

    def _spec_target(self, obj: KubeObject, region: str | None = None) -> AwsTarget | None:
        """The spec's role in ``region`` (default: the spec's region, else the operator's); None without a region."""
        region = region or obj.spec.get("region") or self.settings.default_region
        role = obj.spec.get("assumeRoleArn") or None
        return AwsTarget(region=str(region), role_arn=str(role) if role else None) if region else None

    async def _check_account(self, target: AwsTarget, recorded: tuple[str, str] | None, *, deleting: bool) -> None:
        if recorded is None:
            return
        if target.role_arn:
            account, whose = arn_account(target.role_arn), f"{target.role_arn} is a role of account"
        else:
            account = await self._own_account(target)
            whose = "without it, the operator's own credentials are of account"
        if account is None or account == recorded[1]:
            return
        remedy = ("or set spec.deletionPolicy to Retain to leave them" if deleting else
                  "or delete this object (which deletes them) and create it again")
        raise SpecProblem(f"spec.assumeRoleArn: this object's AWS resources are in account {recorded[1]}, and {whose} "
                          f"{account}; set it to a role of account {recorded[1]}, {remedy}")

    async def _own_account(self, target: AwsTarget) -> str | None:
        """The account of the operator's own credentials in the target's region (one STS call per region, ever).

        None when the credentials cannot tell (missing, denied): the calls that follow report that problem. A
        throttled or failing STS raises RetryLater: going on without the check could act in the wrong account.
        """
        region = target.region
        # One question in flight per region: after a restart every object asks at once.
        pending = self._own_accounts.get(region)
        if pending is None:
            pending = asyncio.ensure_future(self.gateway.caller_account(target))
            self._own_accounts[region] = pending

            def forget_failure(done: asyncio.Future[str]) -> None:
                # A failed or cancelled question is not remembered: the next object asks again.
                if (done.cancelled() or done.exception() is not None) and self._own_accounts.get(region) is done:
                    del self._own_accounts[region]

            pending.add_done_callback(forget_failure)
        try:
            return await asyncio.shield(pending)
        except AwsFailure as failure:
            if failure.kind.retryable:
                raise RetryLater(failure) from None
            return None

    def owner(self, obj: KubeObject) -> Owner:
        """The ownership identity of an object."""
        return Owner(cluster=self.settings.cluster_id, kind=obj.kind, namespace=obj.namespace, name=obj.name,
                     uid=obj.uid)

    def tags(self, obj: KubeObject) -> dict[str, str]:
        """The tags every AWS resource of ``obj`` should carry: the user's plus ownership tags."""
        user: Mapping[str, Any] = obj.spec.get("tags") or {}
        return desired_tags({str(k): str(v) for k, v in user.items()}, self.owner(obj))

    def tags_digest(self, obj: KubeObject) -> str:
        """A digest of :meth:`tags`: live resources record it in status (``tagsDigest``) once AWS has those tags.

        observedGeneration cannot tell whether a tag change reached AWS: a pass that only waited (for the endpoint
        configuration, for an update to finish) observes the generation without comparing tags.
        """
        return hashlib.sha256(json.dumps(self.tags(obj), sort_keys=True).encode()).hexdigest()[:16]

    def tags_applied(self, obj: KubeObject) -> bool:
        """Whether status says AWS has the tags the spec asks for now."""
        return obj.status.get("tagsDigest") == self.tags_digest(obj)

    def custody(self, obj: KubeObject, *, compare_tags: bool) -> Custody:
        """What a plan needs to know of ``obj``'s ownership and tags; ``compare_tags``: this pass compares them."""
        return Custody(owner=self.owner(obj), tags=self.tags(obj), digest=self.tags_digest(obj),
                       adopt=obj.annotations.get(ADOPT_ANNOTATION) == "true", compare_tags=compare_tags,
                       tags_recorded=self.tags_applied(obj),
                       spec_unchanged=obj.status.get("observedGeneration") == obj.generation)

    def artifact_check_due(self, ref: ObjectRef, *, force: bool = False) -> bool:
        """Whether a model's artifacts should be read from S3 now (and, if so, schedule the next check); ``force``:
        they are read now anyway (the spec changed). The first check after start is spread over one interval, as
        drift checks are."""
        now = self.clock()
        due = self._next_artifact_check.get(ref)
        if force:
            self._next_artifact_check[ref] = now + self.settings.artifact_check_seconds
            return True
        if due is None:
            due = now + self.rng.uniform(0.0, self.settings.artifact_check_seconds)
            self._next_artifact_check[ref] = due
        if now < due:
            return False
        self._next_artifact_check[ref] = now + self.settings.artifact_check_seconds
        return True

    def seconds_until_artifact_check(self, ref: ObjectRef) -> float:
        """Seconds until a model's next artifact check."""
        return max(0.0, self._next_artifact_check.get(ref, self.clock()) - self.clock())

    def first_pass(self, ref: ObjectRef) -> bool:
        """Whether this is the first pass over ``ref``, an object that existed when this process began to lead (and
        record that it happened).

        A new leader (or a restarted operator) does not know what its predecessor did in its last moments: a create
        it made but could not record in status. Its first pass over what it inherited looks before it creates;
        objects created later need no such care.
        """
        first = ref in self._inherited
        self._inherited.discard(ref)
        return first

    def new_term(self, inherited: Collection[ObjectRef]) -> None:
        """This process (again) leads, and these objects exist: each one's next pass is a first pass."""
        self._inherited = set(inherited)

    def waiting_outcome(self, obj: KubeObject, waiting: Waiting) -> Outcome:
        """The outcome of a pass that waits for another object.

        A wait for a settling object (see :class:`Waiting`) is not reported at first: the object keeps the status it
        has, and is woken by the other object's status change, or looked at again when the quiet time is over, and
        then reported as waiting.
        """
        if waiting.settling:
            left = self._quiet_left(obj.ref, QUIET_WAIT_SECONDS)
            if left > 0:
                return Outcome.progressing(waiting.reason, str(waiting), requeue_after=left, report=False)
        return Outcome.progressing(waiting.reason, str(waiting))

    def spec_problem_outcome(self, obj: KubeObject, problem: SpecProblem | SpecError,
                             conditions: Mapping[str, bool] | None = None) -> Outcome:
        """The outcome of a pass that found the spec invalid: Degraded, InvalidSpec, naming the field. A reference
        to an object that does not exist is not reported at first (:class:`MissingReference`): the object keeps the
        status it has for up to QUIET_MISSING_SECONDS, or until the referenced object arrives and wakes it."""
        if isinstance(problem, MissingReference):
            left = self._quiet_left(obj.ref, QUIET_MISSING_SECONDS)
            if left > 0:
                return Outcome.progressing("WaitingForReference", str(problem), requeue_after=left, report=False)
        return Outcome.degraded("InvalidSpec", str(problem), **({"conditions": conditions} if conditions else {}))

    def _quiet_left(self, ref: ObjectRef, quiet: float) -> float:
        """Seconds left of a quiet time of ``quiet`` seconds that started at the first unreported pass over
        ``ref`` since it last reported (0 or less: over)."""
        now = self.clock()
        return self._waiting_since.setdefault(ref, now) + quiet - now

    def reported(self, ref: ObjectRef) -> None:
        """A pass over ``ref`` reported its outcome: a later wait starts its quiet time afresh."""
        self._waiting_since.pop(ref, None)

    def poll_delay(self, attempt: int) -> float:
        """How long to wait before describing again, after ``attempt`` polls of the same wait."""
        return float(min(self.settings.poll_initial_seconds * (2 ** max(attempt, 0)), self.settings.poll_max_seconds))

    def resync_delay(self) -> float:
        """Time until the next drift check of a Ready object."""
        return self.settings.resync_seconds * (1.0 + self.rng.uniform(0.0, self.settings.resync_jitter))

    def history_limit(self, obj: KubeObject) -> int:
        """How many previous AWS revisions of ``obj`` to keep."""
        limit = obj.spec.get("revisionHistoryLimit")
        return int(limit) if limit is not None else self.settings.default_revision_history_limit

    def suspect(self, ref: ObjectRef, *, compare_tags: bool) -> None:
        """A sweep found ``ref``'s resource different from its status: its next pass describes it."""
        self._suspects[ref] = self._suspects.get(ref, False) or compare_tags

    def suspected(self, ref: ObjectRef) -> bool:
        """Whether a sweep found the object's resource missing (for models and configs); clears the finding."""
        return self._suspects.pop(ref, None) is not None

    def swept(self, target: AwsTarget, ok: bool) -> None:
        """Record how the sweep of ``target`` went: a failed one falls back to a Describe per resource."""
        if ok:
            self._unswept.discard(target)
        else:
            self._unswept.add(target)

    def falls_back(self, target: AwsTarget) -> bool:
        """Whether the last sweep of ``target`` failed (its resources are described one by one)."""
        return target in self._unswept

    def tags_due(self, target: AwsTarget) -> bool:
        """Whether this sweep of ``target`` compares tags too (every ``tag_check_every``-th, the first one included);
        counts the sweep."""
        count = self._sweeps.get(target, 0)
        self._sweeps[target] = count + 1
        return count % max(self.settings.tag_check_every, 1) == 0

    def drift_check_due(self, ref: ObjectRef, target: AwsTarget) -> bool:
        """Whether a Ready object should be compared with AWS now: a sweep found it different, or the sweep of its
        place failed and its own check is due. First own check: a random time within one resync window, so that
        falling back does not describe every endpoint at once."""
        if ref in self._suspects:
            return True
        if target not in self._unswept:
            return False
        due = self._next_drift_check.get(ref)
        if due is None:
            due = self.clock() + self.rng.uniform(0.0, self.settings.resync_seconds)
            self._next_drift_check[ref] = due
        return self.clock() >= due

    def seconds_until_drift_check(self, ref: ObjectRef, target: AwsTarget) -> float | None:
        """Seconds until the object's own next drift check (0 if due); None when sweeps watch it (the sweep wakes
        it when it finds a difference)."""
        if ref in self._suspects:
            return 0.0
        if target not in self._unswept:
            return None
        return max(0.0, self._next_drift_check.get(ref, self.clock()) - self.clock())

    def checked(self, ref: ObjectRef, target: AwsTarget) -> bool:
        """Record an AWS comparison of ``ref``; True if it should compare tags too: a sweep found them different,
        or (without sweeps) every Nth check."""
        compare = self._suspects.pop(ref, False)
        if target not in self._unswept:
            return compare
        self._next_drift_check[ref] = self.clock() + self.resync_delay()
        count = self._drift_checks.get(ref, 0) + 1
        self._drift_checks[ref] = count
        return compare or count % max(self.settings.tag_check_every, 1) == 0

    def next_poll(self, ref: ObjectRef) -> float:
        """Delay before the next describe of an object AWS is still working on (grows with each poll)."""
        attempt = self._poll_attempts.get(ref, 0)
        self._poll_attempts[ref] = attempt + 1
        return self.poll_delay(attempt)

    def stop_polling(self, ref: ObjectRef) -> None:
        """AWS is done with ``ref``: the next wait starts polling from the shortest delay again."""
        self._poll_attempts.pop(ref, None)

    def forget(self, ref: ObjectRef) -> None:
        """Drop all per-object memory of an object that is gone."""
        for table in (self._next_drift_check, self._drift_checks, self._poll_attempts, self._next_artifact_check,
                      self._waiting_since, self._suspects):
            table.pop(ref, None)
        self._inherited.discard(ref)
