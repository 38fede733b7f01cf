"""``kubectl sagemaker logs``: the container logs of an endpoint, an inference component or a transform job, read
from CloudWatch Logs where SageMaker writes them, the way ``kubectl logs`` shows a pod's."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import click

from sagemaker_operator.api import rules
from sagemaker_operator.aws.clients import ClientFactory
from sagemaker_operator.aws.errors import classify
from sagemaker_operator.plugin.common import PluginError, Session, main
from sagemaker_operator.reconcile.objects import ENDPOINT, INFERENCE_COMPONENT, TRANSFORM_JOB

COMPONENT_NAMES = frozenset({"smic", "sagemakerinferencecomponent", "sagemakerinferencecomponents"})
JOB_NAMES = frozenset({"smtransform", "sagemakertransformjob", "sagemakertransformjobs"})
ENDPOINT_NAMES = frozenset({"smendpoint", "sagemakerendpoint", "sagemakerendpoints"})
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class LogSource:
    """Where SageMaker writes one resource's container logs."""

    group: str
    stream_prefix: str | None  # None: every stream of the group
    what: str  # for messages


def log_source(reference: str, session: Session) -> tuple[LogSource, dict[str, Any]]:
    """The log group (and stream prefix) of ``ENDPOINT``, ``smic/NAME`` or ``smtransform/NAME``, and the object."""
    kind, slash, name = reference.partition("/")
    if not slash:
        kind, name = "smendpoint", reference
    kind = kind.lower()
    if kind in ENDPOINT_NAMES:
        body = session.require(ENDPOINT, name)
        aws = body.get("status", {}).get("endpointName") or rules.ENDPOINT_NAME.of(body.get("spec", {}), name)
        return LogSource(f"/aws/sagemaker/Endpoints/{aws}", None, f"endpoint {aws}"), body
    if kind in COMPONENT_NAMES:
        body = session.require(INFERENCE_COMPONENT, name)
        aws = body.get("status", {}).get("inferenceComponentName") or rules.INFERENCE_COMPONENT_NAME.of(
            body.get("spec", {}), name)
        return LogSource(f"/aws/sagemaker/InferenceComponents/{aws}", None, f"inference component {aws}"), body
    if kind in JOB_NAMES:
        body = session.require(TRANSFORM_JOB, name)
        job = body.get("status", {}).get("jobName")
        if not job:
            raise PluginError(f"transform job {name} has not started a run yet: no logs")
        return LogSource("/aws/sagemaker/TransformJobs", f"{job}/", f"transform job {job}"), body
    raise PluginError(f"{reference}: give ENDPOINT, smic/NAME or smtransform/NAME")


def since_millis(since: str | None, now: float) -> int | None:
    """``--since 10m`` as a CloudWatch Logs start time (milliseconds since the epoch); None: from the start."""
    if since is None:
        return None
    match = _DURATION.match(since.strip())
    if not match:
        raise click.BadParameter(f"{since!r}: a duration such as 30s, 10m, 2h or 1d", param_hint="--since")
    return int((now - int(match.group(1)) * _UNIT_SECONDS[match.group(2)]) * 1000)


def read_events(fetch: Callable[..., dict[str, Any]], source: LogSource, start: int | None,
                seen: set[str]) -> Iterator[dict[str, Any]]:
    """Every event of ``source`` from ``start`` on, in time order, each once (``seen``: event ids shown already)."""
    params: dict[str, Any] = {"logGroupName": source.group}
    if source.stream_prefix:
        params["logStreamNamePrefix"] = source.stream_prefix
    if start is not None:
        params["startTime"] = start
    token: str | None = None
    while True:
        page = fetch(**params, **({"nextToken": token} if token else {}))
        for event in page.get("events", []):
            if event.get("eventId") not in seen:
                seen.add(str(event.get("eventId")))
                yield event
        token = page.get("nextToken")
        if not token:
            return


@main.command()
@click.argument("target")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until interrupted.")
@click.option("--since", help="Only lines newer than this, e.g. 10m, 2h (default: all).")
@click.option("--prefix", is_flag=True, help="Start each line with the log stream (instance) it comes from.")
@click.option("--poll-seconds", type=click.FloatRange(min=0.1), default=2.0, show_default=True, hidden=True)
@click.pass_obj
def logs(session: Session, target: str, follow: bool, since: str | None, prefix: bool, poll_seconds: float) -> None:
    """Container logs of an endpoint (ENDPOINT), an inference component (smic/NAME) or a transform job
    (smtransform/NAME), from CloudWatch Logs."""
    source, body = log_source(target, session)
    client = ClientFactory().client("logs", session.target(body))
    start = since_millis(since, time.time())
    seen: set[str] = set()

    def fetch(**params: Any) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = client.filter_log_events(**params)
            return answer
        except Exception as error:
            failure = classify(error, "FilterLogEvents")
            if failure.code == "ResourceNotFoundException":
                raise PluginError(f"no logs for {source.what} yet (log group {source.group} does not exist)") \
                    from error
            raise PluginError(f"FilterLogEvents {source.group}: {failure.code}: {failure.message}") from error

    try:
        while True:
            for event in read_events(fetch, source, start, seen):
                line = str(event.get("message", "")).rstrip("\n")
                click.echo(f"[{event.get('logStreamName')}] {line}" if prefix else line)
                start = max(start or 0, int(event.get("timestamp", 0)))
            if not follow:
                return
            time.sleep(poll_seconds)
    except KeyboardInterrupt:
        return
