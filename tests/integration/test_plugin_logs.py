"""`kubectl sagemaker logs` against the API server and the emulator, which writes container logs to CloudWatch Logs
as SageMaker does: an endpoint's, an inference component's and a transform job's lines, --since, --prefix, and the
errors a user meets."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from kubernetes.client import ApiClient

from sagemaker_emulator.server import EmulatorThread
from sagemaker_operator.plugin import main
from sagemaker_operator.plugin.logs import since_millis
from tests.conftest import KubeTarget
from tests.operator_harness import Objects, aws_env, config_spec, model_spec, running_operator, runtime, s3

pytestmark = pytest.mark.cluster
MODEL, CONFIG, ENDPOINT, IC, JOB = ("SageMakerModel", "SageMakerEndpointConfig", "SageMakerEndpoint",
                                    "SageMakerInferenceComponent", "SageMakerTransformJob")


def logs(kube: KubeTarget, emulator: EmulatorThread, namespace: str, *args: str) -> Result:
    env = {**aws_env(emulator.url), "KUBECONFIG": str(kube.kubeconfig)}
    return CliRunner().invoke(main, ["-n", namespace, "logs", *args], env=env, catch_exceptions=False)


def test_logs_of_an_endpoint_a_component_and_a_transform_job(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects = Objects(admin_client, namespace)
    data = s3(emulator.url)
    data.create_bucket(Bucket="logs-data")
    data.put_object(Bucket="logs-data", Key="in/rows.csv", Body=b"1,2\n3,4\n")
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        # Before anything runs: a clear error, not a traceback.
        missing = logs(kube, emulator, namespace, "shop")
        assert missing.exit_code == 1 and "SageMakerEndpoint 'shop' not found" in missing.output

        objects.create(MODEL, "m", model_spec())
        objects.create(CONFIG, "shop", config_spec(("AllTraffic", "m", 1.0, 1)))
        objects.create(ENDPOINT, "shop", {"endpointConfigRef": {"name": "shop"}})
        objects.create(JOB, "batch", {
            "modelRef": {"name": "m"},
            "transformInput": {"dataSource": {"s3DataSource": {"s3DataType": "S3Prefix",
                                                                "s3Uri": "s3://logs-data/in/"}},
                               "contentType": "text/csv", "splitType": "Line"},
            "transformOutput": {"s3OutputPath": "s3://logs-data/out/"},
            "transformResources": {"instanceType": "ml.m5.xlarge", "instanceCount": 1}})
        objects.create(CONFIG, "host", {"executionRoleArn": "arn:aws:iam::123456789012:role/sagemaker-execution",
                                         "productionVariants": [{"variantName": "main",
                                                                 "instanceType": "ml.g5.2xlarge",
                                                                 "initialInstanceCount": 1}]})
        objects.create(ENDPOINT, "host", {"endpointConfigRef": {"name": "host"}})
        objects.create(IC, "ic", {"endpointRef": {"name": "host"}, "variantName": "main",
                                  "runtimeConfig": {"copyCount": 1},
                                  "specification": {"modelRef": {"name": "m"}, "computeResourceRequirements": {
                                      "numberOfCpuCoresRequired": 1, "minMemoryRequiredInMb": 1024}}})
        objects.wait_condition(ENDPOINT, "shop", "Ready")
        objects.wait_condition(JOB, "batch", "Complete")
        objects.wait_condition(IC, "ic", "Ready")
        runtime(emulator.url).invoke_endpoint(EndpointName="shop", Body=b"{}", ContentType="application/json")

        endpoint = logs(kube, emulator, namespace, "shop")
        assert endpoint.exit_code == 0, endpoint.output
        assert "Model server started" in endpoint.output and "POST /invocations 200" in endpoint.output
        prefixed = logs(kube, emulator, namespace, "smendpoint/shop", "--prefix")
        assert all(line.startswith("[AllTraffic/i-") for line in prefixed.output.splitlines()), prefixed.output

        job = logs(kube, emulator, namespace, "smtransform/batch", "--prefix")
        assert job.exit_code == 0, job.output
        name = objects.get(JOB, "batch")["status"]["jobName"]
        assert "objects written" in job.output and f"[{name}/i-" in job.output

        component = logs(kube, emulator, namespace, "smic/ic")
        assert component.exit_code == 0, component.output
        assert "Model server started" in component.output

        assert logs(kube, emulator, namespace, "shop", "--since", "1h").output == endpoint.output

        bad = logs(kube, emulator, namespace, "shop", "--since", "yesterday")
        assert bad.exit_code == 2 and "--since" in bad.output
        wrong = logs(kube, emulator, namespace, "deployment/shop")
        assert wrong.exit_code == 1 and "give ENDPOINT, smic/NAME or smtransform/NAME" in wrong.output


def test_since_is_a_duration() -> None:
    assert since_millis(None, 1_000.0) is None
    assert since_millis("30s", 1_000.0) == 970_000
    assert since_millis("2m", 1_000.0) == 880_000
