"""Running the real operator against the local API server and the emulator, and reading what it did."""

from __future__ import annotations

import contextlib
import subprocess
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import kubernetes
from botocore.config import Config
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from sagemaker_operator.dev.cluster import free_port
from sagemaker_operator.dev.examples import seed_objects
from sagemaker_operator.reconcile.objects import GROUP, PLURALS, VERSION
from tests.helpers import operator_process, wait_for

REGION = "us-east-1"
FAST_POLLING = ["--poll-initial-seconds", "0.2", "--poll-max-seconds", "1"]


def own_lease(namespace: str | None) -> list[str]:
    """Arguments that give one operator process a Lease of its own (in ``namespace``, deleted with it).

    Leader election is on by default; tests start operators with the same arguments, in parallel and one after
    another (a restart after a SIGKILL), and with a shared lease each would wait for the previous one's to expire.
    A fresh lease per process keeps them independent, with the election still in the path.
    """
    return [f"--leader-election-id=test-{uuid.uuid4().hex[:10]}",
            *([f"--leader-election-namespace={namespace}"] if namespace else [])]


def is_live(process: subprocess.Popen[bytes], liveness_port: int) -> bool:
    """The operator's /healthz answers 200; fails at once, naming the exit code, if the process has exited.

    The process is looked at first, whatever the port answers: another server on that port must not pass for an
    operator that could not start.
    """
    assert process.poll() is None, f"the operator exited with {process.returncode}"
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{liveness_port}/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def wait_live(process: subprocess.Popen[bytes], liveness_port: int) -> None:
    """Wait up to 60 s for :func:`is_live`."""
    wait_for(lambda: is_live(process, liveness_port), timeout=60, what="the operator's liveness endpoint")


def aws_env(emulator_url: str) -> dict[str, str]:
    """Environment that points every AWS client at the emulator."""
    return {"AWS_ENDPOINT_URL": emulator_url, "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
            "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true"}


@contextlib.contextmanager
def running_operator(kubeconfig: Path, emulator_url: str, namespace: str, log_path: Path,
                     extra_args: list[str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """``sagemaker-operator run`` as a subprocess watching one namespace, until the block ends."""
    liveness = free_port()
    args = ["sagemaker_operator", "run", "--namespace", namespace, "--liveness-port", str(liveness),
            "--metrics-port", str(free_port()), "--verbose", *FAST_POLLING, *own_lease(namespace), *(extra_args or [])]
    with operator_process(args, kubeconfig=kubeconfig, log_path=log_path, extra_env=aws_env(emulator_url)) as proc:
        wait_live(proc, liveness)
        yield proc
    # Whatever the test did, the operator must never have failed with an unhandled exception.
    log = log_path.read_text(errors="replace")
    assert "Traceback" not in log, f"the operator logged a traceback:\n{log[log.index('Traceback') - 2000:][:6000]}"


def sagemaker(emulator_url: str) -> Any:
    """A plain boto3 SageMaker client on the emulator, without retries (so faults are visible)."""
    return boto3.client("sagemaker", endpoint_url=emulator_url, region_name=REGION, aws_access_key_id="x",
                        aws_secret_access_key="x", config=Config(retries={"total_max_attempts": 1}))


class Objects:
    """Create, patch, read and delete the operator's custom resources in one namespace."""

    def __init__(self, admin: ApiClient, namespace: str) -> None:
        self.api = kubernetes.client.CustomObjectsApi(admin)
        self.core = kubernetes.client.CoreV1Api(admin)
        self.namespace = namespace

    def create(self, kind: str, name: str, spec: dict[str, Any], annotations: dict[str, str] | None = None
               ) -> dict[str, Any]:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind,
                "metadata": {"name": name, "annotations": annotations or {}}, "spec": spec}
        result: dict[str, Any] = self.api.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURALS[kind], body)
        return result

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = self.api.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURALS[kind], name)
            return result
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def patch(self, kind: str, name: str, patch: dict[str, Any]) -> None:
        self.api.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS[kind], name, patch)

    def delete(self, kind: str, name: str) -> None:
        with contextlib.suppress(ApiException):
            self.api.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS[kind], name)

    def condition(self, kind: str, name: str, condition: str) -> dict[str, Any] | None:
        obj = self.get(kind, name) or {}
        for entry in obj.get("status", {}).get("conditions", []):
            if entry.get("type") == condition:
                return dict(entry)
        return None

    def wait_condition(self, kind: str, name: str, condition: str, *, timeout: float = 60,
                       reason: str | None = None) -> dict[str, Any]:
        """Wait until ``condition`` is True for the object's current generation; return the object."""
        def check() -> dict[str, Any] | None:
            obj = self.get(kind, name)
            if obj is None:
                return None
            for entry in obj.get("status", {}).get("conditions", []):
                if (entry.get("type") == condition and entry.get("status") == "True"
                        and entry.get("observedGeneration") == obj["metadata"]["generation"]
                        and (reason is None or entry.get("reason") == reason)):
                    return obj
            return None

        return wait_for(check, timeout=timeout, what=f"{kind} {name} to be {condition}"
                        + (f" ({reason})" if reason else ""))

    def wait_gone(self, kind: str, name: str, *, timeout: float = 60) -> None:
        wait_for(lambda: self.get(kind, name) is None, timeout=timeout, what=f"{kind} {name} to be deleted")

    def events(self, name: str) -> list[Any]:
        """The events of the object called ``name`` (any kind), as the API server has them now."""
        return list(self.core.list_namespaced_event(self.namespace,
                                                    field_selector=f"involvedObject.name={name}").items)

    def wait_events(self, name: str, *reasons: str, warning: bool = False, timeout: float = 30) -> list[Any]:
        """The events of ``name`` once every reason in ``reasons`` is among them (Warning events only, if asked).

        The operator posts events after it writes status, so a condition seen in status does not mean its event is
        there yet: wait for it like for anything else.
        """
        def found() -> list[Any] | None:
            events = [e for e in self.events(name) if not warning or e.type == "Warning"]
            return events if set(reasons) <= {e.reason for e in events} else None

        events: list[Any] = wait_for(found, timeout=timeout, what=f"events {', '.join(reasons)} of {name}")
        return events


def model_spec(image: str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:1", **extra: Any) -> dict[str, Any]:
    """A minimal SageMakerModel spec."""
    return {"executionRoleArn": "arn:aws:iam::123456789012:role/sagemaker-execution",
            "primaryContainer": {"image": image, "modelDataUrl": "s3://models/model.tar.gz",
                                 "environment": {"SAGEMAKER_PROGRAM": "inference.py"}},
            **extra}


def config_spec(*variants: tuple[str, str, float, int], **extra: Any) -> dict[str, Any]:
    """A SageMakerEndpointConfig spec with (variant, model CR, weight, instance count) variants."""
    return {"productionVariants": [
        {"variantName": variant, "modelRef": {"name": model}, "initialVariantWeight": weight,
         "initialInstanceCount": count, "instanceType": "ml.m5.large"}
        for variant, model, weight, count in variants], **extra}


def autoscaling(emulator_url: str) -> Any:
    """A plain boto3 Application Auto Scaling client on the emulator."""
    return boto3.client("application-autoscaling", endpoint_url=emulator_url, region_name=REGION,
                        aws_access_key_id="x", aws_secret_access_key="x",
                        config=Config(retries={"total_max_attempts": 1}))


def s3(emulator_url: str) -> Any:
    """A plain boto3 S3 client on the emulator (its S3 is moto's, on the same endpoint URL)."""
    return boto3.client("s3", endpoint_url=emulator_url, region_name=REGION, aws_access_key_id="x",
                        aws_secret_access_key="x")


def seed_example_data(emulator_url: str, folder: Path) -> None:
    """An example's input data (``<folder>/s3/<bucket>/<key>``) in the emulator's S3, as `dev --examples` uploads it."""
    client = s3(emulator_url)
    for bucket, key, path in seed_objects(folder):
        with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
            client.create_bucket(Bucket=bucket)
        client.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())


def runtime(emulator_url: str) -> Any:
    """A plain boto3 SageMaker Runtime client on the emulator."""
    return boto3.client("sagemaker-runtime", endpoint_url=emulator_url, region_name=REGION, aws_access_key_id="x",
                        aws_secret_access_key="x", config=Config(retries={"total_max_attempts": 1}))


def counters(emulator: Any) -> dict[str, int]:
    """Calls per operation seen by the emulator."""
    data: dict[str, Any] = emulator.admin.counters()
    return {str(k): int(v) for k, v in data.get("operations", data.get("by_operation", {})).items()}
