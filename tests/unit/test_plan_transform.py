"""The transform job decision table (plan_transform, pure): runs as batch/v1 Jobs behave."""

from __future__ import annotations

import datetime
from typing import Any

from sagemaker_operator.reconcile.transform_job import (
    DEADLINE_EXCEEDED,
    TransformDesired,
    TransformMemory,
    job_name,
    name_to_observe,
    plan_transform,
)
from sagemaker_operator.status import State

NOW = datetime.datetime(2026, 12, 1, 12, 0, 0, tzinfo=datetime.UTC)
REQUEST = {"ModelName": "m-1a2b3c4d5e", "TransformInput": {"DataSource": {"S3DataSource": {
    "S3DataType": "S3Prefix", "S3Uri": "s3://in/batch/"}}}, "TransformOutput": {"S3OutputPath": "s3://out/batch/"},
    "TransformResources": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1}}


def desired(revision: str = "0a1b2c3d4e", backoff: int = 0, deadline: int | None = None) -> TransformDesired:
    return TransformDesired("nightly", revision, REQUEST, backoff_limit=backoff, deadline_seconds=deadline)


def job(name: str, status: str, *, reason: str | None = None, age: int = 10) -> dict[str, Any]:
    created = NOW - datetime.timedelta(seconds=age)
    body: dict[str, Any] = {"TransformJobName": name, "TransformJobStatus": status, "CreationTime": created,
                            "TransformStartTime": created,
                            "TransformJobArn": f"arn:aws:sagemaker:r:1:transform-job/{name}"}
    if status in ("Completed", "Failed", "Stopped"):
        body["TransformEndTime"] = NOW
    if reason:
        body["FailureReason"] = reason
    return body


def test_names_are_the_object_a_hash_and_the_attempt_within_63_characters() -> None:
    assert job_name("nightly", "0a1b2c3d4e", 0) == "nightly-0a1b2c3d4e"
    assert job_name("nightly", "0a1b2c3d4e", 2) == "nightly-0a1b2c3d4e-2"
    long = job_name("x" * 80 + ".scores", "0a1b2c3d4e", 12)
    assert len(long) == 63 and long.endswith("-0a1b2c3d4e-12")


def test_a_new_spec_starts_a_run_and_the_same_spec_finds_it() -> None:
    first = plan_transform(desired(), None, TransformMemory(), NOW, observed_name="nightly-0a1b2c3d4e")
    assert first.call is not None and first.call.api == "CreateTransformJob"
    assert first.call.request["TransformJobName"] == "nightly-0a1b2c3d4e"
    assert first.state is State.PROGRESSING and first.fields["attempts"] == [
        {"name": "nightly-0a1b2c3d4e", "jobStatus": "InProgress"}]
    memory = TransformMemory(revision="0a1b2c3d4e", job_name="nightly-0a1b2c3d4e",
                             attempts=({"name": "nightly-0a1b2c3d4e", "jobStatus": "InProgress"},))
    assert name_to_observe(desired(), memory) == "nightly-0a1b2c3d4e"
    running = plan_transform(desired(), job("nightly-0a1b2c3d4e", "InProgress"), memory, NOW,
                             observed_name="nightly-0a1b2c3d4e")
    assert running.call is None and running.poll


def test_a_completed_run_is_a_record_never_described_again() -> None:
    memory = TransformMemory(revision="0a1b2c3d4e", job_name="nightly-0a1b2c3d4e",
                             attempts=({"name": "nightly-0a1b2c3d4e", "jobStatus": "InProgress"},))
    done = plan_transform(desired(), job("nightly-0a1b2c3d4e", "Completed", age=42), memory, NOW,
                          observed_name="nightly-0a1b2c3d4e")
    assert (done.state, done.complete, done.fields["durationSeconds"], done.fields["finished"]) == (
        State.READY, True, 42, True)
    record = TransformMemory(revision="0a1b2c3d4e", job_name="nightly-0a1b2c3d4e", finished=True,
                             attempts=({"name": "nightly-0a1b2c3d4e", "jobStatus": "Completed"},))
    assert name_to_observe(desired(), record) is None
    again = plan_transform(desired(), None, record, NOW, observed_name=None)
    assert again.call is None and again.complete and not again.poll


def test_a_failed_run_is_retried_under_a_new_name_within_the_backoff_limit() -> None:
    memory = TransformMemory(revision="0a1b2c3d4e", job_name="nightly-0a1b2c3d4e",
                             attempts=({"name": "nightly-0a1b2c3d4e", "jobStatus": "InProgress"},))
    failed = job("nightly-0a1b2c3d4e", "Failed", reason="ClientError: model failed")
    retry = plan_transform(desired(backoff=1), failed, memory, NOW, observed_name="nightly-0a1b2c3d4e")
    assert retry.call is not None and retry.call.request["TransformJobName"] == "nightly-0a1b2c3d4e-1"
    assert [a["jobStatus"] for a in retry.fields["attempts"]] == ["Failed", "InProgress"]
    second = TransformMemory(revision="0a1b2c3d4e", attempt=1, job_name="nightly-0a1b2c3d4e-1",
                             attempts=tuple(retry.fields["attempts"]))
    final = plan_transform(desired(backoff=1), job("nightly-0a1b2c3d4e-1", "Failed", reason="ClientError: again"),
                           second, NOW, observed_name="nightly-0a1b2c3d4e-1")
    assert (final.state, final.failed, final.call) == (State.DEGRADED, True, None)
    assert "ClientError: again" in final.message
    # No backoff: the first failure is final.
    once = plan_transform(desired(), failed, memory, NOW, observed_name="nightly-0a1b2c3d4e")
    assert once.failed and once.call is None


def test_a_run_past_its_deadline_is_stopped_and_then_failed() -> None:
    memory = TransformMemory(revision="0a1b2c3d4e", job_name="nightly-0a1b2c3d4e")
    late = plan_transform(desired(deadline=60), job("nightly-0a1b2c3d4e", "InProgress", age=61), memory, NOW,
                          observed_name="nightly-0a1b2c3d4e")
    assert late.call is not None and late.call.api == "StopTransformJob" and late.fields["stoppedForDeadline"]
    on_time = plan_transform(desired(deadline=60), job("nightly-0a1b2c3d4e", "InProgress", age=59), memory, NOW,
                             observed_name="nightly-0a1b2c3d4e")
    assert on_time.call is None
    stopped = TransformMemory(revision="0a1b2c3d4e", job_name="nightly-0a1b2c3d4e", stopped_for_deadline=True)
    final = plan_transform(desired(deadline=60), job("nightly-0a1b2c3d4e", "Stopped"), stopped, NOW,
                           observed_name="nightly-0a1b2c3d4e")
    assert (final.reason, final.failed) == (DEADLINE_EXCEEDED, True)


def test_a_spec_change_stops_the_run_in_progress_then_starts_the_new_one() -> None:
    memory = TransformMemory(revision="0a1b2c3d4e", job_name="nightly-0a1b2c3d4e")
    changed = desired(revision="5f6a7b8c9d")
    assert name_to_observe(changed, memory) == "nightly-0a1b2c3d4e"
    stop = plan_transform(changed, job("nightly-0a1b2c3d4e", "InProgress"), memory, NOW,
                          observed_name="nightly-0a1b2c3d4e")
    assert stop.call is not None and (stop.call.api, stop.call.request) == (
        "StopTransformJob", {"TransformJobName": "nightly-0a1b2c3d4e"})
    wait = plan_transform(changed, job("nightly-0a1b2c3d4e", "Stopping"), memory, NOW,
                          observed_name="nightly-0a1b2c3d4e")
    assert wait.call is None and wait.poll
    start = plan_transform(changed, job("nightly-0a1b2c3d4e", "Stopped"), memory, NOW,
                           observed_name="nightly-0a1b2c3d4e")
    assert start.call is not None and start.call.request["TransformJobName"] == "nightly-5f6a7b8c9d"


def test_stopped_outside_the_operator_is_a_failure_with_that_reason() -> None:
    memory = TransformMemory(revision="0a1b2c3d4e", job_name="nightly-0a1b2c3d4e")
    plan = plan_transform(desired(backoff=3), job("nightly-0a1b2c3d4e", "Stopped"), memory, NOW,
                          observed_name="nightly-0a1b2c3d4e")
    assert (plan.state, plan.reason, plan.call) == (State.DEGRADED, "Stopped", None)
    assert "stopped outside the operator" in plan.message


def test_a_failed_record_keeps_its_reason_when_passed_over_again() -> None:
    timed_out = TransformMemory(revision="0a1b2c3d4e", job_name="nightly-0a1b2c3d4e", finished=True,
                                stopped_for_deadline=True, failure_reason="ran past activeDeadlineSeconds (60)",
                                attempts=({"name": "nightly-0a1b2c3d4e", "jobStatus": "Stopped"},))
    again = plan_transform(desired(deadline=60), None, timed_out, NOW)
    assert (again.reason, again.failed, again.call) == (DEADLINE_EXCEEDED, True, None)
    assert "ran past activeDeadlineSeconds" in again.message
    failed = TransformMemory(revision="0a1b2c3d4e", job_name="nightly-0a1b2c3d4e", finished=True,
                             failure_reason="AlgorithmError: See job logs for more information",
                             attempts=({"name": "nightly-0a1b2c3d4e", "jobStatus": "Failed"},))
    record = plan_transform(desired(), None, failed, NOW)
    assert record.reason == "Failed" and "AlgorithmError" in record.message
