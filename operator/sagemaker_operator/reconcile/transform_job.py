"""SageMakerTransformJob: a batch transform run, with the semantics Kubernetes users know from ``batch/v1 Job``.

The decision table (:func:`plan_transform`, pure):

- The AWS job name is ``<object name>-<hash of the rendered request>`` (``-<attempt>`` appended for re-runs): a
  changed spec is a new run, the same spec applied again finds its run. The referenced model is resolved when the
  run starts and is not part of the hash: a model change never re-runs a finished job, while a job still waiting
  for its model picks up the model's current revision.
- A run recorded in status as finished (Completed, or Failed with no attempt left) is never described again.
- A spec change while a run is in progress: StopTransformJob, wait for Stopping to end, then start the new run.
- No job of the current name: CreateTransformJob.
- InProgress past ``activeDeadlineSeconds``: StopTransformJob; once Stopped, the job is Failed (DeadlineExceeded).
- Failed: a new attempt while attempts are left (``backoffLimit``), else Failed.
- Stopped by someone else: Failed (Stopped).
"""

from __future__ import annotations

import copy
import datetime
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from sagemaker_operator.api import kinds
from sagemaker_operator.api.convert import SpecError
from sagemaker_operator.api.status_models import TransformJobStatus, parse
from sagemaker_operator.aws.clients import AwsTarget
from sagemaker_operator.aws.errors import AwsFailure
from sagemaker_operator.reconcile.actions import Call, execute, tag_calls
from sagemaker_operator.reconcile.context import ReconcileContext, SpecProblem
from sagemaker_operator.reconcile.failures import failure_outcome
from sagemaker_operator.reconcile.live import Decision
from sagemaker_operator.reconcile.model import WaitingForModel, resolved_model_name
from sagemaker_operator.reconcile.naming import AWS_NAME_MAX, content_hash, sanitize
from sagemaker_operator.reconcile.objects import KubeObject
from sagemaker_operator.reconcile.ownership import as_aws_tags
from sagemaker_operator.status import EventRecord, Outcome, State

RUNNING = frozenset({"InProgress", "Stopping"})
DEADLINE_EXCEEDED = "DeadlineExceeded"


def job_name(object_name: str, revision: str, attempt: int) -> str:
    """``<object name>-<hash>`` for the first attempt, ``<object name>-<hash>-<attempt>`` for re-runs, within AWS's
    63 characters (the object name is shortened, never the hash or the attempt)."""
    suffix = f"-{revision}" + (f"-{attempt}" if attempt else "")
    prefix = sanitize(object_name)[: AWS_NAME_MAX - len(suffix)].rstrip("-")
    return f"{prefix}{suffix}"


@dataclass(frozen=True)
class TransformDesired:
    """The run the spec asks for."""

    object_name: str
    revision: str  # hash of the rendered request, model by reference (see the module docstring)
    request: Mapping[str, Any]  # CreateTransformJob without TransformJobName and Tags; ModelName resolved
    backoff_limit: int = 0
    deadline_seconds: int | None = None
    waiting_for: str | None = None  # why no run can start yet (the model is not Ready); None: it can


    def name(self, attempt: int) -> str:
        """The AWS job name of ``attempt``."""
        return job_name(self.object_name, self.revision, attempt)


@dataclass(frozen=True)
class TransformMemory:
    """What status remembers of the runs."""

    revision: str | None = None  # of the run status describes
    attempt: int = 0
    job_name: str | None = None
    finished: bool = False  # the run reached its end (Completed, or Failed with no attempt left)
    stopped_for_deadline: bool = False
    attempts: tuple[Mapping[str, Any], ...] = ()
    failure_reason: str | None = None


@dataclass(frozen=True)
class TransformPlan(Decision):
    """The decision for one pass (at most one call, the state, the status fields) and how the job ended."""

    complete: bool = False
    failed: bool = False


def _seconds(start: Any, end: Any) -> int | None:
    if not isinstance(start, datetime.datetime) or not isinstance(end, datetime.datetime):
        return None
    return max(0, int((end - start).total_seconds()))


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value) if value else None


def _attempts(memory: TransformMemory, name: str, status: str, reason: str | None) -> list[dict[str, Any]]:
    """The attempts list with ``name``'s entry current."""
    entry = {"name": name, "jobStatus": status, **({"failureReason": reason} if reason else {})}
    rows = [dict(a) for a in memory.attempts if a.get("name") != name]
    return [*rows, entry]


def plan_transform(desired: TransformDesired, observed: Mapping[str, Any] | None, memory: TransformMemory,
                   now: datetime.datetime, observed_name: str | None = None) -> TransformPlan:
    """Decide the next step for one transform job. Pure.

    ``observed`` is DescribeTransformJob of ``observed_name`` (see :func:`name_to_observe`); None: no such job.
    """
    same_run = memory.revision == desired.revision
    attempt = memory.attempt if same_run else 0
    name = desired.name(attempt)
    if same_run and memory.finished:
        # A record: never described again.
        last = str(memory.attempts[-1].get("jobStatus")) if memory.attempts else ""
        if memory.stopped_for_deadline or last != "Completed":
            # The same reason and message as when it ended (a restart or a tag change passes here again).
            ended_as = DEADLINE_EXCEEDED if memory.stopped_for_deadline else (
                "Stopped" if last == "Stopped" else "Failed")
            ended = "was stopped" if memory.stopped_for_deadline or last == "Stopped" else "failed"
            return TransformPlan(State.DEGRADED, ended_as, f"transform job {memory.job_name} {ended}: "
                                                         f"{memory.failure_reason or 'no reason given'}", failed=True)
        return TransformPlan(State.READY, "Completed", f"transform job {memory.job_name} completed", complete=True)
    if not same_run and memory.job_name and observed_name == memory.job_name and observed is not None \
            and observed.get("TransformJobStatus") in RUNNING:
        # The spec changed while a run is in progress: stop it before the new run starts.
        old = str(memory.job_name)
        if observed.get("TransformJobStatus") == "Stopping":
            return TransformPlan(State.PROGRESSING, "StoppingPrevious", f"waiting for the previous run {old} to stop",
                                 poll=True)
        return TransformPlan(State.PROGRESSING, "StoppingPrevious",
                             f"the spec changed: stopping the previous run {old} before starting {name}",
                             call=Call("StopTransformJob", {"TransformJobName": old}, missing_ok=True), poll=True,
                             events=(EventRecord("Superseded", f"Stopping transform job {old}: the spec changed"),))
    base = {"revision": desired.revision, "attempt": attempt, "jobName": name,
            "outputPath": str((desired.request.get("TransformOutput") or {}).get("S3OutputPath") or "") or None}
    if observed is None or observed_name != name:
        if desired.waiting_for:
            return TransformPlan(State.PROGRESSING, "WaitingForModel", desired.waiting_for, poll=False)
        started = _attempts(memory if same_run else TransformMemory(), name, "InProgress", None)
        return TransformPlan(
            State.PROGRESSING, "Starting", f"starting transform job {name}",
            call=Call("CreateTransformJob", {"TransformJobName": name, **desired.request}), poll=True,
            fields={**base, "jobStatus": "InProgress", "attempts": started, "finished": None,
                    "stoppedForDeadline": None, "failureReason": None, "startTime": _iso(now),
                    "completionTime": None, "durationSeconds": None, "jobArn": None},
            events=(EventRecord("Started", f"Started transform job {name}"),))
    status = str(observed.get("TransformJobStatus", ""))
    reason = observed.get("FailureReason") or None
    started_at = observed.get("TransformStartTime") or observed.get("CreationTime")
    timing = {"jobArn": observed.get("TransformJobArn"), "jobStatus": status,
              "startTime": _iso(started_at) or None,
              "completionTime": _iso(observed.get("TransformEndTime")),
              "durationSeconds": _seconds(started_at, observed.get("TransformEndTime") or now)}
    attempts = _attempts(memory, name, status, reason)
    fields = {**base, **timing, "attempts": attempts}
    if status == "InProgress":
        elapsed = _seconds(observed.get("CreationTime"), now)
        if desired.deadline_seconds is not None and elapsed is not None and elapsed > desired.deadline_seconds:
            return TransformPlan(
                State.PROGRESSING, DEADLINE_EXCEEDED,
                f"transform job {name} ran {elapsed} s, over activeDeadlineSeconds {desired.deadline_seconds}: "
                "stopping it", call=Call("StopTransformJob", {"TransformJobName": name}, missing_ok=True), poll=True,
                fields={**fields, "stoppedForDeadline": True},
                events=(EventRecord(DEADLINE_EXCEEDED, f"Stopping transform job {name}: it ran past "
                                                       f"activeDeadlineSeconds ({desired.deadline_seconds})",
                                    warning=True),))
        return TransformPlan(State.PROGRESSING, "InProgress", f"transform job {name} is running", poll=True,
                             fields=fields)
    if status == "Stopping":
        return TransformPlan(State.PROGRESSING, "Stopping", f"transform job {name} is stopping", poll=True,
                             fields=fields)
    if status == "Completed":
        return TransformPlan(State.READY, "Completed", f"transform job {name} completed", complete=True,
                             fields={**fields, "finished": True, "failureReason": None},
                             events=(EventRecord("Completed", f"Transform job {name} completed"),))
    if status == "Stopped" and memory.stopped_for_deadline and memory.job_name == name:
        message = f"transform job {name} was stopped: it ran past activeDeadlineSeconds ({desired.deadline_seconds})"
        return TransformPlan(State.DEGRADED, DEADLINE_EXCEEDED, message, failed=True,
                             fields={**fields, "finished": True, "failureReason": message},
                             events=(EventRecord("Failed", message, warning=True),))
    # Failed, or Stopped by someone else.
    why = reason or ("stopped outside the operator" if status == "Stopped" else "no reason given")
    if status == "Failed" and attempt < desired.backoff_limit and desired.waiting_for:
        return TransformPlan(State.PROGRESSING, "WaitingForModel", f"transform job {name} failed ({why}); the next "
                             f"attempt waits: {desired.waiting_for}", fields=fields)
    if status == "Failed" and attempt < desired.backoff_limit:
        retry = desired.name(attempt + 1)
        return TransformPlan(
            State.PROGRESSING, "Retrying",
            f"transform job {name} failed ({why}); starting attempt {attempt + 2} of {desired.backoff_limit + 1} "
            f"as {retry}", call=Call("CreateTransformJob", {"TransformJobName": retry, **desired.request}),
            poll=True,
            fields={**fields, "attempt": attempt + 1, "jobName": retry, "jobStatus": "InProgress",
                    "attempts": [*attempts, {"name": retry, "jobStatus": "InProgress"}],
                    "failureReason": why, "startTime": _iso(now), "completionTime": None, "durationSeconds": None},
            events=(EventRecord("Retrying", f"Transform job {name} failed ({why}): starting {retry}", warning=True),))
    message = f"transform job {name} {'failed' if status == 'Failed' else 'was stopped'}: {why}"
    return TransformPlan(State.DEGRADED, "Failed" if status == "Failed" else "Stopped", message, failed=True,
                         fields={**fields, "finished": True, "failureReason": why},
                         events=(EventRecord("Failed", message, warning=True),))


def name_to_observe(desired: TransformDesired, memory: TransformMemory) -> str | None:
    """Which job the next pass describes: none for a finished run of this spec (a record), the previous run while
    the spec changed under it (it may have to be stopped first), else the current attempt."""
    if memory.revision == desired.revision:
        return None if memory.finished else desired.name(memory.attempt)
    if memory.job_name and not memory.finished:
        return memory.job_name
    return desired.name(0)



# --- the step: resolve, observe, plan, act, report ---------------------------------------------------------------


def resolve_transform(ctx: ReconcileContext, obj: KubeObject) -> TransformDesired:
    """The run the spec asks for; raises SpecProblem (naming the field) or SpecError for bad input."""
    spec = copy.deepcopy(dict(obj.spec))
    ref = (spec.pop("modelRef", None) or {}).get("name")
    literal = spec.get("modelName")
    if bool(ref) == bool(literal):
        raise SpecProblem("spec: set exactly one of modelRef and modelName")
    # The model enters the hash by reference: a new revision of the model does not make a new run.
    identity = kinds.TRANSFORM_JOB.request({**spec, "modelName": f"ref:{ref}" if ref else literal})
    revision = content_hash({"owner": [ctx.settings.cluster_id, obj.namespace, obj.name], "request": identity})
    waiting: str | None = None
    model_name = str(literal or "")
    if ref:
        try:
            model_name = resolved_model_name(ctx, obj.namespace, str(ref), "spec.modelRef.name")
        except WaitingForModel as pending:
            waiting = str(pending)
    request = kinds.TRANSFORM_JOB.request({**spec, "modelName": model_name or "pending"})
    deadline = spec.get("activeDeadlineSeconds")
    return TransformDesired(object_name=obj.name, revision=revision, request=request,
                            backoff_limit=int(spec.get("backoffLimit") or 0),
                            deadline_seconds=int(deadline) if deadline is not None else None, waiting_for=waiting)


def memory_of(obj: KubeObject) -> TransformMemory:
    """What the last passes left in status."""
    status = parse(TransformJobStatus, obj.status)
    return TransformMemory(revision=status.revision, attempt=status.attempt or 0, job_name=status.job_name,
                           finished=bool(status.finished), stopped_for_deadline=bool(status.stopped_for_deadline),
                           attempts=tuple(a.model_dump(by_alias=True, exclude_none=True) for a in status.attempts),
                           failure_reason=status.failure_reason)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


async def plan_transform_pass(ctx: ReconcileContext, target: AwsTarget, obj: KubeObject, desired: TransformDesired
                              ) -> TransformPlan:
    """Observe the run that matters (at most one Describe; none for a finished run) and plan. Read-only."""
    memory = memory_of(obj)
    name = name_to_observe(desired, memory)
    observed = await ctx.gateway.describe(target, "describe_transform_job", TransformJobName=name) if name else None
    plan = plan_transform(desired, observed, memory, _now(), observed_name=name)
    if plan.call is not None and plan.call.api == "CreateTransformJob":
        plan = replace(plan, call=replace(plan.call, request={**plan.call.request,
                                                              "Tags": as_aws_tags(ctx.tags(obj))}))
    return plan


async def _output_objects(ctx: ReconcileContext, target: AwsTarget, output_path: str) -> int | None:
    """How many objects a finished run wrote (one ListObjectsV2 page per thousand); None when S3 does not say
    (no permission: counting is a courtesy, not a reason to fail)."""
    bucket, _, prefix = output_path.removeprefix("s3://").partition("/")
    count, token = 0, None
    try:
        while True:
            page = await ctx.gateway.call(target, "list_objects_v2", service="s3", Bucket=bucket, Prefix=prefix,
                                          **({"ContinuationToken": token} if token else {}))
            count += int(page.get("KeyCount", 0))
            token = page.get("NextContinuationToken")
            if not token:
                return count
    except AwsFailure as failure:
        if failure.kind.retryable:
            raise
        return None


async def reconcile_transform_job(ctx: ReconcileContext, obj: KubeObject) -> Outcome:
    """One step of a transform job: at most one Describe and one call, then the report."""
    try:
        target = await ctx.target(obj)
        desired = resolve_transform(ctx, obj)
    except (SpecProblem, SpecError) as problem:
        return ctx.spec_problem_outcome(obj, problem, conditions={"Complete": False, "Failed": False})
    try:
        plan = await plan_transform_pass(ctx, target, obj, desired)
        answers = await execute(ctx.gateway, target, [plan.call] if plan.call else [])
        fields: dict[str, Any] = {"region": target.region, **plan.fields}
        arn = obj.status.get("jobArn")
        if plan.call is None and arn and memory_of(obj).revision == desired.revision and not ctx.tags_applied(obj):
            # Same run, other tags (spec.tags changed): the run, even a finished one, gets them.
            await execute(ctx.gateway, target, tag_calls(str(arn), await ctx.gateway.list_tags(target, str(arn)),
                                                         ctx.tags(obj)))
            fields["tagsDigest"] = ctx.tags_digest(obj)
        if plan.call is not None and plan.call.api == "CreateTransformJob":
            fields["jobArn"] = answers[0].get("TransformJobArn")
            fields["modelName"] = plan.call.request.get("ModelName")
            fields["tagsDigest"] = ctx.tags_digest(obj)
        if plan.complete and plan.fields.get("finished") and plan.fields.get("outputPath"):
            fields["outputObjects"] = await _output_objects(ctx, target, str(plan.fields["outputPath"]))
    except AwsFailure as failure:
        return failure_outcome(failure, f"reconciling transform job {desired.name(memory_of(obj).attempt)}")
    if plan.poll:
        requeue: float | None = ctx.next_poll(obj.ref)
    else:
        # A finished run is a record: nothing to look at again until the spec changes.
        ctx.stop_polling(obj.ref)
        requeue = None
    return Outcome(plan.state, plan.reason, plan.message, fields=fields, events=list(plan.events),
                   requeue_after=requeue, conditions={"Complete": plan.complete, "Failed": plan.failed})


async def finalize_transform_job(ctx: ReconcileContext, obj: KubeObject) -> Outcome:
    """Deleting the object stops a run in progress and waits until it has stopped (Retain leaves it running).
    AWS keeps finished jobs as records; there is nothing to delete."""
    memory = memory_of(obj)
    if obj.spec.get("deletionPolicy") == "Retain":
        return Outcome.progressing("Retained", "deletionPolicy is Retain: the run is left as it is", finalized=True)
    if memory.finished or not memory.job_name:
        return Outcome.progressing("Deleted", "no run in progress", finalized=True)
    target = await ctx.deletion_step_target(obj)
    if isinstance(target, Outcome):
        return target
    name = memory.job_name
    try:
        observed = await ctx.gateway.describe(target, "describe_transform_job", TransformJobName=name)
        status = (observed or {}).get("TransformJobStatus")
        if status not in RUNNING:
            ctx.forget(obj.ref)
            return Outcome.progressing("Deleted", f"transform job {name} is not running", finalized=True)
        if status == "InProgress":
            await execute(ctx.gateway, target, [Call("StopTransformJob", {"TransformJobName": name},
                                                     missing_ok=True)])
    except AwsFailure as failure:
        return failure_outcome(failure, f"stopping transform job {name}")
    return Outcome.progressing("Stopping", f"waiting for transform job {name} to stop",
                               fields={"jobStatus": "Stopping"}, requeue_after=ctx.next_poll(obj.ref),
                               events=[EventRecord("Stopping", f"Stopping transform job {name}: the object is "
                                                               "being deleted")] if status == "InProgress" else [])
