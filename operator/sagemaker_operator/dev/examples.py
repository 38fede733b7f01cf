"""``sagemaker-operator dev --examples``: apply examples/ the way ``kubectl apply`` does, wait until every endpoint
and inference component is Ready, then invoke each once on the emulator."""

from __future__ import annotations

import contextlib
import copy
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sagemaker_operator.dev import EMULATOR_CREDENTIALS, DevError
from sagemaker_operator.dev.console import (
    COMPONENT_ROW,
    ENDPOINT_ROW,
    EndpointRow,
    Invocation,
    InvocationTarget,
    Output,
    display_path,
)

# examples/ at the root of a checkout: operator/sagemaker_operator/dev/examples.py -> the repository.
EXAMPLES_DIR = Path(__file__).resolve().parents[3] / "examples"
EXAMPLES_TIMEOUT = 120.0

# What `kubectl apply` (client-side, the default) records: the manifest as applied, and its field manager.
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
KUBECTL_FIELD_MANAGER = "kubectl-client-side-apply"


def as_kubectl_applies(document: dict[str, Any], namespace: str) -> dict[str, Any]:
    """``document`` as ``kubectl apply`` creates it: annotated with the configuration it applied.

    The examples are created the way users create them, so that a user's own ``kubectl apply -f examples/...``
    afterwards merges with them quietly (without the annotation kubectl warns that it is missing), and
    ``kubectl apply --server-side`` takes them over as it does any client-side applied object.
    """
    applied = copy.deepcopy(document)
    metadata = applied.setdefault("metadata", {})
    metadata.setdefault("namespace", namespace)
    annotations = metadata.setdefault("annotations", {})
    # kubectl records the object it sends (namespace filled in, annotations without this one, even if that leaves
    # an empty map) as compact JSON with sorted keys; recording the same makes its next apply a no-op.
    annotations[LAST_APPLIED] = json.dumps(applied, separators=(",", ":"), sort_keys=True) + "\n"
    return applied


def load_manifests(folder: Path) -> list[dict[str, Any]]:
    """Every YAML document of ``folder`` and its subfolders, files in name order."""
    documents = []
    for path in sorted(folder.rglob("*.yaml")):
        documents += [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    return documents


def seed_objects(folder: Path) -> list[tuple[str, str, Path]]:
    """(bucket, key, file) of every file an example keeps under ``s3/<bucket>/<key>``: its input data, uploaded to
    the emulator's S3 before the manifests are applied."""
    seeds = []
    for root in sorted(folder.rglob("s3")):
        if not root.is_dir():
            continue
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            bucket, *key = path.relative_to(root).parts
            if key:
                seeds.append((bucket, "/".join(key), path))
    return seeds


def invocation_targets(endpoints: Sequence[Mapping[str, Any]], configs: Sequence[Mapping[str, Any]],
                       components: Sequence[Mapping[str, Any]]) -> list[InvocationTarget]:
    """What to invoke, given the SageMakerEndpoints to invoke and the namespace's configs and components.

    An endpoint hosting inference components (found by their ``endpointRef``, or a literal ``endpointName`` equal
    to the endpoint's AWS name) is invoked once per component that is Ready; an endpoint whose config (by
    ``endpointConfigRef``) has an ``asyncInferenceConfig`` asynchronously; any other once.
    """
    configs_by_name = {c.get("metadata", {}).get("name"): c for c in configs}
    targets = []
    for endpoint in endpoints:
        spec, row = endpoint.get("spec") or {}, EndpointRow.from_object(endpoint)
        config = configs_by_name.get((spec.get("endpointConfigRef") or {}).get("name"))
        role_arn = spec.get("assumeRoleArn") or None
        region = spec.get("region") or (endpoint.get("status") or {}).get("region") or None
        hosted = [EndpointRow.from_object(c, COMPONENT_ROW) for c in components
                  if (c.get("spec") or {}).get("endpointRef", {}).get("name") == row.name
                  or (c.get("spec") or {}).get("endpointName") == row.aws_name]
        if hosted:
            targets += [InvocationTarget(row.aws_name, component=c.aws_name, role_arn=role_arn, region=region)
                        for c in sorted(hosted, key=lambda c: c.name) if c.is_ready]
        else:
            asynchronous = bool(((config or {}).get("spec") or {}).get("asyncInferenceConfig"))
            targets.append(InvocationTarget(row.aws_name, asynchronous=asynchronous, role_arn=role_arn, region=region))
    return targets


# ---------------------------------------------------------------------------------------------------------------
# Output


@dataclass
class ExampleRun:
    """One run of the examples against a cluster (``api``) and, for the invocations, the emulator."""

    api: Any  # kubernetes.client.ApiClient
    namespace: str
    out: Output
    emulator_url: str | None
    region: str
    tick: Callable[[], None]  # called between polls: the stack checks its children there

    def run(self, folder: Path) -> None:
        """Apply the example manifests, show progress until every endpoint and inference component is Ready, then
        invoke each endpoint once (each component once, asynchronous endpoints with InvokeEndpointAsync)."""
        import kubernetes
        from kubernetes.client.exceptions import ApiException

        from sagemaker_operator.api.kinds import API_VERSION, ENDPOINT_CONFIG, GROUP, KINDS_BY_NAME, VERSION

        if not folder.is_dir():
            raise DevError(f"--examples: no folder {folder} (run dev from a checkout of the repository)")
        if self.emulator_url:
            self._seed(folder)
        self.out.step(f"applying the manifests of {display_path(folder)}/")
        api = kubernetes.client.CustomObjectsApi(self.api)
        endpoints: list[str] = []
        components: list[str] = []
        jobs: list[str] = []
        for document in load_manifests(folder):
            kind = KINDS_BY_NAME.get(document.get("kind", ""))
            if kind is None or document.get("apiVersion") != API_VERSION:
                raise DevError(f"--examples: {document.get('apiVersion')}/{document.get('kind')} is not a kind of "
                               f"this operator")
            name = document["metadata"]["name"]
            applied = as_kubectl_applies(document, self.namespace)
            try:
                api.create_namespaced_custom_object(GROUP, VERSION, self.namespace, kind.plural, applied,
                                                    field_manager=KUBECTL_FIELD_MANAGER)
            except ApiException as error:
                if error.status != 409:
                    raise DevError(f"{kind.kind} {name} was refused: {error.body}") from error
                api.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, kind.plural, name,
                                                   {"metadata": {"annotations": applied["metadata"]["annotations"]},
                                                    "spec": document.get("spec", {})},
                                                   field_manager=KUBECTL_FIELD_MANAGER)
            if kind.kind == "SageMakerEndpoint":
                endpoints.append(name)
            elif kind.kind == "SageMakerInferenceComponent":
                components.append(name)
            elif kind.kind == "SageMakerTransformJob":
                jobs.append(name)
        rows, found = self._wait_examples_ready(api, endpoints, components)
        self._report_jobs(api, jobs)
        if not self.emulator_url:
            return
        ready = [found[(ENDPOINT_ROW, row.name)] for row in rows if row.kind == ENDPOINT_ROW and row.is_ready]
        listed: Any = api.list_namespaced_custom_object(GROUP, VERSION, self.namespace, ENDPOINT_CONFIG.plural)
        configs: list[dict[str, Any]] = listed["items"]
        hosted = [obj for (kind, _), obj in found.items() if kind == COMPONENT_ROW]
        for target in invocation_targets(ready, configs, hosted):
            try:
                self.out.invoked(self._invoke(target))
            except Exception as error:  # one failed sample invocation is worth a line, not stopping the stack
                self.out.warn(f"invoking {target.label} failed: {type(error).__name__}: {error}")

    def _session(self) -> Any:
        import boto3

        return boto3.session.Session(aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                                     aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                                     region_name=self.region)

    def _seed(self, folder: Path) -> None:
        """Upload the examples' input data to the emulator's S3."""
        seeds = seed_objects(folder)
        if not seeds:
            return
        s3 = self._session().client("s3", endpoint_url=self.emulator_url)
        for bucket in sorted({bucket for bucket, _, _ in seeds}):
            with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
                s3.create_bucket(Bucket=bucket)
        for bucket, key, path in seeds:
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        self.out.step(f"uploaded {len(seeds)} input object(s) to the emulator's S3 "
                      f"({', '.join(f's3://{b}/{k}' for b, k, _ in seeds)})")

    def _report_jobs(self, api: Any, jobs: Sequence[str]) -> None:
        """Wait until each transform job has ended, then say how, with the first lines of its output."""
        from sagemaker_operator.api.kinds import GROUP, TRANSFORM_JOB, VERSION

        pending, deadline = list(jobs), time.monotonic() + EXAMPLES_TIMEOUT
        while pending:
            for name in list(pending):
                body = api.get_namespaced_custom_object(GROUP, VERSION, self.namespace, TRANSFORM_JOB.plural, name)
                status = body.get("status") or {}
                ended = {c.get("type") for c in status.get("conditions") or []
                         if c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
                         and c.get("observedGeneration") == body["metadata"]["generation"]}
                if ended:
                    pending.remove(name)
                    self._show_job(name, status)
            if pending and time.monotonic() > deadline:
                self.out.warn(f"transform job(s) {', '.join(pending)} did not end within {EXAMPLES_TIMEOUT:.0f} s")
                return
            if pending:
                self.tick()
                time.sleep(0.5)

    def _show_job(self, name: str, status: Mapping[str, Any]) -> None:
        output = str(status.get("outputPath") or "")
        self.out.step(f"transform job {name}: {status.get('jobStatus')} in {status.get('durationSeconds')} s, "
                      f"{status.get('outputObjects')} object(s) under {output}"
                      + (f" ({status.get('failureReason')})" if status.get("failureReason") else ""))
        if not self.emulator_url or not output.startswith("s3://") or status.get("jobStatus") != "Completed":
            return
        bucket, _, prefix = output.removeprefix("s3://").partition("/")
        s3 = self._session().client("s3", endpoint_url=self.emulator_url)
        for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])[:1]:
            lines = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode(errors="replace").splitlines()
            self.out.step(f"  s3://{bucket}/{item['Key']}: " + " | ".join(lines[:3])
                          + (" | ..." if len(lines) > 3 else ""))

    def _wait_examples_ready(self, api: Any, endpoints: Sequence[str], components: Sequence[str]
                             ) -> tuple[list[EndpointRow], dict[tuple[str, str], dict[str, Any]]]:
        """Rows of the endpoints, then the components, once all are Ready or at the deadline; and the objects read
        last, by (row kind, name)."""
        from sagemaker_operator.api.kinds import ENDPOINT, GROUP, INFERENCE_COMPONENT, VERSION

        wanted = [(ENDPOINT_ROW, name) for name in endpoints] + [(COMPONENT_ROW, name) for name in components]
        plurals = [(ENDPOINT_ROW, ENDPOINT.plural)] + ([(COMPONENT_ROW, INFERENCE_COMPONENT.plural)]
                                                       if components else [])
        start = time.monotonic()
        while True:
            found: dict[tuple[str, str], dict[str, Any]] = {}
            for row_kind, plural in plurals:
                listed = api.list_namespaced_custom_object(GROUP, VERSION, self.namespace, plural)
                found.update({(row_kind, item["metadata"]["name"]): item for item in listed["items"]})
            rows = [EndpointRow.from_object(found[key], key[0]) if key in found
                    else EndpointRow(self.namespace, key[1], "", "Unknown", "", "", key[1], kind=key[0])
                    for key in wanted]
            elapsed = time.monotonic() - start
            if all(row.is_ready for row in rows) or elapsed > EXAMPLES_TIMEOUT:
                self.out.endpoints_done(rows, elapsed)
                return rows, found
            self.out.endpoints(rows)
            self.tick()

    def _invoke(self, target: InvocationTarget) -> Invocation:
        """One sample invocation through boto3's sagemaker-runtime client, on the emulator.

        A cross-account endpoint is invoked as its role (STS AssumeRole on the emulator): it lives in that account.
        """
        import boto3

        region = target.region or self.region
        session = boto3.session.Session(
            aws_access_key_id=EMULATOR_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=EMULATOR_CREDENTIALS["AWS_SECRET_ACCESS_KEY"], region_name=region)
        if target.role_arn:
            credentials = session.client("sts", endpoint_url=self.emulator_url).assume_role(
                RoleArn=target.role_arn, RoleSessionName="sagemaker-operator-dev")["Credentials"]
            session = boto3.session.Session(
                aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
                aws_session_token=credentials["SessionToken"], region_name=region)
        runtime = session.client("sagemaker-runtime", endpoint_url=self.emulator_url)
        if target.asynchronous:
            # As on AWS: the input is uploaded to S3 first, and the result is written to S3.
            s3 = session.client("s3", endpoint_url=self.emulator_url)
            with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
                s3.create_bucket(Bucket="sagemaker-operator-dev")
            s3.put_object(Bucket="sagemaker-operator-dev", Key=f"async-inputs/{target.endpoint}.json", Body=b"{}")
            accepted = runtime.invoke_endpoint_async(
                EndpointName=target.endpoint, ContentType="application/json",
                InputLocation=f"s3://sagemaker-operator-dev/async-inputs/{target.endpoint}.json")
            return Invocation(endpoint=target.endpoint, variant="", model="",
                              output_location=str(accepted.get("OutputLocation", "?")))
        extra = {"InferenceComponentName": target.component} if target.component else {}
        response = runtime.invoke_endpoint(EndpointName=target.endpoint, ContentType="application/json",
                                           Body=json.dumps({"inputs": "hello from sagemaker-operator dev"}), **extra)
        body = json.loads(response["Body"].read() or b"{}")
        return Invocation(endpoint=target.endpoint, variant=str(response.get("InvokedProductionVariant", "?")),
                          model=str(body.get("model", "?")), component=target.component)
