"""Batch transform jobs: CreateTransformJob, DescribeTransformJob, ListTransformJobs, StopTransformJob.

A job is InProgress for the ``transform`` duration, then it runs once, for real, against the emulator's S3 (moto):
every object under the data source (``S3Prefix``, or the objects a ``ManifestFile`` lists) is read, decompressed
(``CompressionType: Gzip``), split into records (:mod:`batch_data`), grouped into requests by BatchStrategy and
MaxPayloadInMB, filtered (InputFilter), answered one record at a time by the emulated model (the document
InvokeEndpoint answers, :func:`runtime.answer_document`), joined with the input (JoinSource), filtered again
(OutputFilter) and written to ``S3OutputPath/<key relative to the input prefix>.out``, assembled per AssembleWith.

Failures, as AWS words them:

* no object under the S3 URI: CreateTransformJob itself is refused (``No S3 objects found under S3 URL ...``);
* a record over MaxPayloadInMB, a record the filters cannot read: the job ends Failed with
  ``ClientError: See job logs for more information`` and the data log names the object and the reason; objects
  that succeeded are written, the failing object is not;
* a model carrying the ``fail`` marker (or an admin failure trigger on ``transform-job``): the job ends Failed with
  ``AlgorithmError: See job logs for more information`` (or the trigger's reason), nothing is written.

StopTransformJob: Stopping for the ``delete`` duration, then Stopped; a stopped job writes nothing.

Logs go to ``/aws/sagemaker/TransformJobs``: the container's lines in stream ``JOB/INSTANCE-ID`` and batch
transform's own lines (``[sagemaker logs]: ...``) in ``JOB/INSTANCE-ID/data-log``, as AWS names them.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import gzip
import hashlib
import json
import logging
import time
from collections.abc import Callable
from typing import Any, cast

from . import batch_data
from .batch_data import JsonPathError, RecordError
from .lifecycle import Durations, now
from .moto_services import MotoServices, S3Error, split_s3_uri
from .protocol import AwsError, RequestContext, validation_error
from .runtime import answer_document
from .sagemaker_ops import SageMakerService, list_page, model_has_failure_marker, model_images
from .store import MODEL, TRANSFORM_JOB, Model, Store, TransformJob

log = logging.getLogger(__name__)

Handler = Callable[[RequestContext, dict[str, Any]], dict[str, Any]]

LOG_GROUP = "/aws/sagemaker/TransformJobs"
CLIENT_ERROR = "ClientError: See job logs for more information"
ALGORITHM_ERROR = "AlgorithmError: See job logs for more information"
FINAL = ("Completed", "Failed", "Stopped")


def _log_time(t: float) -> str:
    """``2024-10-16T22:49:21.569`` as batch transform's data log stamps its lines."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}"


class TransformService:
    """Operation handlers for transform jobs (merged into the ``SageMaker`` target prefix)."""

    def __init__(self, sagemaker: SageMakerService, moto: MotoServices, durations: Durations) -> None:
        self.sagemaker = sagemaker
        self.store: Store = sagemaker.store
        self.moto = moto
        self.durations = durations
        self.handlers: dict[str, Handler] = {
            "CreateTransformJob": self.create,
            "DescribeTransformJob": self.describe,
            "ListTransformJobs": self.list_jobs,
            "StopTransformJob": self.stop,
        }

    # ------------------------------------------------------------------------------------------ lifecycle
    def settle(self, job: TransformJob, t: float | None = None) -> None:
        """Bring ``job`` to what is true at ``t``: run it if its time has come, finish a stop."""
        t = now() if t is None else t
        if job.status == "Stopping" and job.stop_at is not None and t >= job.stop_at:
            job.status, job.ended, job.modified = "Stopped", job.stop_at, job.stop_at
            self._container_log(job, ["Received SIGTERM: the transform job was stopped."])
        elif job.status == "InProgress" and t >= job.finish_at:
            self._run(job)

    def _schedule(self, job: TransformJob, at: float) -> None:
        """Settle ``job`` at ``at`` even if nobody asks, so its output appears in S3 on time."""
        with contextlib.suppress(RuntimeError):  # no running loop (direct calls in unit tests)
            loop = asyncio.get_running_loop()
            loop.call_later(max(0.0, at - now()), self.settle, job)

    def _find(self, ctx: RequestContext, name: str) -> TransformJob | None:
        job = self.store.get(ctx.account, ctx.region, TRANSFORM_JOB, name)
        if isinstance(job, TransformJob):
            self.settle(job)
            return job
        return None

    def _require(self, ctx: RequestContext, name: str) -> TransformJob:
        job = self._find(ctx, name)
        if job is None:
            raise AwsError("ResourceNotFound", f"Could not find requested job with name {name}")
        return job

    # ------------------------------------------------------------------------------------------ handlers
    def create(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """CreateTransformJob: the model must exist and the data source must name at least one object."""
        name = p["TransformJobName"]
        arn = self.sagemaker.arn(ctx, TRANSFORM_JOB, name)
        if self.store.get(ctx.account, ctx.region, TRANSFORM_JOB, name) is not None:
            raise AwsError(
                "ResourceInUse",
                f"Job name must be unique within an AWS account and region, and a job with this name already exists "
                f"({arn})",
            )
        model = self.store.get(ctx.account, ctx.region, MODEL, p["ModelName"])
        if not isinstance(model, Model):
            raise self.sagemaker.not_found(ctx, MODEL, p["ModelName"])
        processing = p.get("DataProcessing") or {}
        for key in ("InputFilter", "OutputFilter"):
            if processing.get(key):
                try:
                    batch_data.check_jsonpath(processing[key])
                except JsonPathError as exc:
                    raise validation_error(f"DataProcessing.{key}: {exc}") from None
        self._input_objects(ctx, p, model)  # refuses a data source without objects, as AWS does at create
        failure = ALGORITHM_ERROR if model_has_failure_marker(model) else None
        trigger = self.store.take_trigger(TRANSFORM_JOB, name, "create")
        if trigger is not None:
            failure = trigger.reason or "Injected failure of transform job by the emulator admin API."
        t = now()
        job = self.sagemaker._new(ctx, TransformJob, TRANSFORM_JOB, name)
        job.spec = {k: copy.deepcopy(v) for k, v in p.items() if k not in ("TransformJobName", "Tags")}
        job.finish_at = t + self.durations.transform
        job.failure = failure
        job.model_spec = copy.deepcopy(model.spec)
        job.instance_id = "i-" + hashlib.sha256(arn.encode()).hexdigest()[:17]
        self.sagemaker._apply_tags(job, p.get("Tags"))
        self.store.put(job)
        self._container_log(job, self._startup_lines(job))
        self.settle(job, t)
        if job.status == "InProgress":
            self._schedule(job, job.finish_at)
        return {"TransformJobArn": job.arn}

    def describe(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """DescribeTransformJob."""
        job = self._require(ctx, p["TransformJobName"])
        out: dict[str, Any] = {
            "TransformJobName": job.name,
            "TransformJobArn": job.arn,
            "TransformJobStatus": job.status,
            **job.spec,
            "CreationTime": job.created,
            "TransformStartTime": job.created,
            **_ending(job),
        }
        return out

    def list_jobs(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """ListTransformJobs with name/status/time filters, sorting and pagination."""
        jobs = [cast(TransformJob, j) for j in self.store.items(ctx.account, ctx.region, TRANSFORM_JOB)]
        for job in jobs:
            self.settle(job)
        page, token = list_page(list(jobs), p, lambda r: cast(TransformJob, r).status)
        summaries = []
        for resource in page:
            job = cast(TransformJob, resource)
            summary: dict[str, Any] = {
                "TransformJobName": job.name,
                "TransformJobArn": job.arn,
                "CreationTime": job.created,
                "LastModifiedTime": job.modified,
                "TransformJobStatus": job.status,
                **_ending(job),
            }
            summaries.append(summary)
        return {"TransformJobSummaries": summaries, **({"NextToken": token} if token else {})}

    def stop(self, ctx: RequestContext, p: dict[str, Any]) -> dict[str, Any]:
        """StopTransformJob: InProgress -> Stopping -> Stopped; a job that has ended is refused."""
        job = self._require(ctx, p["TransformJobName"])
        if job.status == "Stopping":
            return {}
        if job.status != "InProgress":
            raise validation_error(f"The request was rejected because the transform job is in status {job.status}.")
        t = now()
        job.status, job.stop_at, job.modified = "Stopping", t + self.durations.delete, t
        self.settle(job, t)
        if job.status == "Stopping":
            self._schedule(job, t + self.durations.delete)
        return {}

    # ------------------------------------------------------------------------------------------ data
    def _input_objects(
        self, ctx: RequestContext, spec: dict[str, Any], model: Model | None
    ) -> list[tuple[str, str, str]]:
        """(bucket, key, output-relative name) of every input object; refuses a source without any."""
        source = spec["TransformInput"]["DataSource"]["S3DataSource"]
        uri = source["S3Uri"]
        bucket, prefix = split_s3_uri(uri)
        role = (model.spec.get("ExecutionRoleArn") if model else None) or ""
        missing = validation_error(
            f'No S3 objects found under S3 URL "{uri}" given in input data source. Please ensure that the bucket '
            f"exists in the selected region ({ctx.region}), that objects exist under that S3 prefix, and that the "
            f'role "{role}" has "s3:ListBucket" permissions on bucket "{bucket}".'
        )
        try:
            if source["S3DataType"] == "ManifestFile":
                manifest = json.loads(self.moto.get_object(ctx.account, bucket, prefix))
                base = manifest[0]["prefix"]
                base_bucket, base_prefix = split_s3_uri(base)
                found = []
                for rel in manifest[1:]:
                    self.moto.get_object(ctx.account, base_bucket, base_prefix + rel)
                    found.append((base_bucket, base_prefix + rel, rel))
            else:
                directory = prefix[: prefix.rfind("/") + 1]
                found = [
                    (bucket, key, key[len(directory) :])
                    for key, _ in self.moto.list_objects(ctx.account, bucket, prefix)
                    if not key.endswith("/")
                ]
        except (S3Error, ValueError, KeyError, IndexError, TypeError):
            raise missing from None
        if not found:
            raise missing
        return found

    def _run(self, job: TransformJob) -> None:
        """Run the job now: read, split, batch, answer, filter, join, assemble, write; then end it."""
        t = job.finish_at
        spec = job.spec
        ctx = RequestContext(service="sagemaker", operation="TransformJob", region=job.region, account=job.account)
        data_log: list[str] = []
        stamp = _log_time(t)
        strategy = spec.get("BatchStrategy", "MultiRecord")
        payload_mb = int(spec.get("MaxPayloadInMB", 6))
        shown_strategy = "MULTI_RECORD" if strategy == "MultiRecord" else "SINGLE_RECORD"
        data_log.append(
            f"{stamp}:[sagemaker logs]: MaxConcurrentTransforms={spec.get('MaxConcurrentTransforms', 1)}, "
            f"MaxPayloadInMB={payload_mb}, BatchStrategy={shown_strategy}"
        )
        failure = job.failure
        if failure is not None:
            self._container_log(job, [f"Model server failed to start: {failure}"])
        else:
            try:
                objects = self._input_objects(ctx, spec, None)
            except AwsError as exc:  # the objects went away after the job was created
                objects = []
                failure = CLIENT_ERROR
                data_log.append(f"{stamp}:[sagemaker logs]: {exc.message}")
            invocations = 0
            for bucket, key, rel in objects:
                try:
                    body, count = self._transform_object(job, bucket, key, strategy, payload_mb)
                except (RecordError, S3Error) as exc:
                    failure = CLIENT_ERROR
                    data_log.append(f"{stamp}:[sagemaker logs]: {bucket}/{key}: ClientError: {exc}")
                    continue
                invocations += count
                out_bucket, out_prefix = split_s3_uri(spec["TransformOutput"]["S3OutputPath"])
                out_key = (out_prefix.rstrip("/") + "/" if out_prefix.strip("/") else "") + rel + ".out"
                self.moto.put_object(job.account, job.region, out_bucket, out_key, body)
                job.outputs.append(f"s3://{out_bucket}/{out_key}")
            self._container_log(job, [f"{invocations} invocations served, {len(job.outputs)} objects written"])
        job.ended, job.modified = t, t
        if failure is not None:
            job.status, job.failure_reason = "Failed", failure
            data_log.append(f"{stamp}:[sagemaker logs]: Transform job failed: {failure}")
        else:
            job.status = "Completed"
        self.moto.write_logs(job.account, job.region, LOG_GROUP, f"{job.name}/{job.instance_id}/data-log", data_log)

    def _transform_object(
        self, job: TransformJob, bucket: str, key: str, strategy: str, payload_mb: int
    ) -> tuple[bytes, int]:
        """(assembled output, requests made) of one input object."""
        spec = job.spec
        tin, tout = spec["TransformInput"], spec["TransformOutput"]
        data = self.moto.get_object(job.account, bucket, key)
        if tin.get("CompressionType") == "Gzip":
            try:
                data = gzip.decompress(data)
            except OSError as exc:
                raise RecordError(f"Cannot decompress the object as Gzip: {exc}") from None
        split = tin.get("SplitType", "None")
        content_type = tin.get("ContentType")
        accept = tout.get("Accept") or content_type
        processing = spec.get("DataProcessing") or {}
        records = batch_data.split_records(data, split)
        batches = batch_data.mini_batches(records, strategy, payload_mb)
        images = model_images(Model(kind=MODEL, name="", arn="", account="", region="", created=0, modified=0,
                                    spec=job.model_spec))
        outputs: list[bytes] = []
        for batch in batches:
            for record in batch:
                value: Any = None
                sent = record
                needs_value = bool(processing.get("InputFilter") or processing.get("JoinSource") == "Input")
                if needs_value:
                    value = batch_data.parse_record(record, content_type)
                if processing.get("InputFilter"):
                    sent = batch_data.render_value(batch_data.apply_jsonpath(processing["InputFilter"], value),
                                                   content_type)
                answer: Any = answer_document(
                    sent,
                    endpoint=None,
                    endpoint_config=None,
                    variant=None,
                    model=spec["ModelName"],
                    image=images[0] if images else None,
                    transform_job=job.name,
                )
                if processing.get("JoinSource") == "Input":
                    answer = batch_data.join_input(value, answer)
                if processing.get("OutputFilter"):
                    answer = batch_data.apply_jsonpath(processing["OutputFilter"], answer)
                outputs.append(batch_data.render_value(answer, accept))
        if tout.get("AssembleWith") == "Line":
            return b"".join(o + b"\n" for o in outputs), len(batches)
        return b"".join(outputs), len(batches)

    # ------------------------------------------------------------------------------------------ logs
    def _startup_lines(self, job: TransformJob) -> list[str]:
        images = model_images(Model(kind=MODEL, name="", arn="", account="", region="", created=0, modified=0,
                                    spec=job.model_spec))
        starting = f"Starting the model server for transform job {job.name} (image {images[0] if images else 'none'})"
        if job.failure is not None:  # a job that fails to start never answers a ping ("failed to start" follows)
            return [starting]
        return [starting, "Model server started: listening on port 8080", "GET /ping 200"]

    def _container_log(self, job: TransformJob, lines: list[str]) -> None:
        try:
            self.moto.write_logs(job.account, job.region, LOG_GROUP, f"{job.name}/{job.instance_id}", lines)
        except Exception:  # logs are a by-product: never fail the job because of them
            log.exception("could not write the logs of transform job %s", job.name)


def _ending(job: TransformJob) -> dict[str, Any]:
    """How a job ended, as Describe and List both report it: its end time and failure reason, once there are."""
    ending: dict[str, Any] = {}
    if job.ended is not None:
        ending["TransformEndTime"] = job.ended
    if job.failure_reason:
        ending["FailureReason"] = job.failure_reason
    return ending
