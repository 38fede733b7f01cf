"""``sagemaker-operator dev``: its plain output, the environment it gives the operator, and the examples."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sagemaker_operator.api.kinds import API_VERSION, KINDS_BY_NAME
from sagemaker_operator.cli import main
from sagemaker_operator.dev.console import (
    COMPONENT_ROW,
    EndpointRow,
    Invocation,
    InvocationTarget,
    PlainOutput,
    StackInfo,
    endpoint_line,
    invocation_line,
    ready_summary,
)
from sagemaker_operator.dev.examples import EXAMPLES_DIR, invocation_targets, load_manifests, seed_objects
from sagemaker_operator.dev.stack import emulator_env, emulator_url_from_log, operator_command, wait_for_exit


def _endpoint(generation: int = 1, observed: int = 1, ready: str = "False", reason: str = "Creating",
              message: str = "creating endpoint sentiment", endpoint_status: str = "Creating") -> dict[str, Any]:
    return {"metadata": {"namespace": "default", "name": "sentiment", "generation": generation},
            "status": {"endpointStatus": endpoint_status, "endpointName": "sentiment-aws",
                       "conditions": [{"type": "Ready", "status": ready, "reason": reason, "message": message,
                                       "observedGeneration": observed}]}}


def _info(emulator_url: str | None = "http://127.0.0.1:4566") -> StackInfo:
    return StackInfo(api_server="https://127.0.0.1:6443", kubeconfig=Path("/w/kubeconfig"), local_cluster=True,
                     namespace="default", emulator_url=emulator_url, region="us-east-1",
                     operator_log=Path("/w/operator.log"), emulator_log=Path("/w/emulator.log"),
                     examples_dir=EXAMPLES_DIR)


def test_endpoint_row_reads_the_ready_condition_of_the_current_generation() -> None:
    row = EndpointRow.from_object(_endpoint())
    assert (row.ready, row.reason, row.aws_name, row.is_ready) == ("False", "Creating", "sentiment-aws", False)
    assert EndpointRow.from_object(_endpoint(ready="True", endpoint_status="InService")).is_ready
    # Ready=True about the previous spec is no news about the current one.
    stale = EndpointRow.from_object(_endpoint(generation=2, observed=1, ready="True"))
    assert stale.ready == "Unknown" and not stale.is_ready
    fresh = EndpointRow.from_object({"metadata": {"namespace": "default", "name": "new", "generation": 1}})
    assert (fresh.ready, fresh.endpoint_status, fresh.aws_name) == ("Unknown", "", "new")


def test_endpoint_and_invocation_lines() -> None:
    assert endpoint_line(EndpointRow.from_object(_endpoint())) == \
        "endpoint default/sentiment: Creating, not ready (Creating: creating endpoint sentiment)"
    ready = EndpointRow.from_object(_endpoint(ready="True", reason="InService", endpoint_status="InService"))
    assert endpoint_line(ready) == "endpoint default/sentiment: InService, Ready"
    pending = EndpointRow("default", "x", "", "Unknown", "", "", "x")
    assert endpoint_line(pending) == "endpoint default/x: Pending, not ready"
    assert invocation_line(Invocation("ab", "candidate", "m-2")) == "invoked ab: variant candidate answered (model m-2)"
    assert invocation_line(Invocation("shared", "main", "llm-1", component="llm")) == \
        "invoked shared, component llm: variant main answered (model llm-1)"
    assert invocation_line(Invocation("t", "", "", output_location="s3://b/out/1.out")) == \
        "invoked t asynchronously: accepted, result at s3://b/out/1.out"


def _component(name: str, endpoint: str = "shared", ready: str = "True", **spec: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": "default", "name": name, "generation": 1},
            "spec": {"endpointRef": {"name": endpoint}, **spec},
            "status": {"inferenceComponentStatus": "InService", "inferenceComponentName": f"{name}-aws",
                       "conditions": [{"type": "Ready", "status": ready, "observedGeneration": 1}]}}


def test_component_rows_read_the_component_status() -> None:
    row = EndpointRow.from_object(_component("llm"), COMPONENT_ROW)
    assert (row.endpoint_status, row.aws_name, row.is_ready) == ("InService", "llm-aws", True)
    assert endpoint_line(row) == "inference component default/llm: InService, Ready"
    endpoint = EndpointRow.from_object(_endpoint())
    assert ready_summary([endpoint]) == "1 endpoint"
    assert ready_summary([endpoint, endpoint, row]) == "2 endpoints and 1 inference component"


def _named_endpoint(name: str, config: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"namespace": "default", "name": name, "generation": 1},
            "spec": {"endpointConfigRef": {"name": config}, **spec},
            "status": {"endpointName": name, "endpointStatus": "InService"}}


def test_invocation_targets_per_component_async_and_role() -> None:
    endpoints = [_named_endpoint("plain", "plain"), _named_endpoint("shared", "shared"),
                 _named_endpoint("queue", "queue"),
                 _named_endpoint("remote", "remote", assumeRoleArn="arn:aws:iam::444455556666:role/r",
                                 region="eu-west-1")]
    configs: list[dict[str, Any]] = [
        {"metadata": {"name": "queue"}, "spec": {"asyncInferenceConfig": {"outputConfig": {}}}},
        {"metadata": {"name": "plain"}, "spec": {}}]
    components = [_component("b"), _component("a"), _component("not-ready", ready="False"),
                  _component("elsewhere", endpoint="other"),
                  {**_component("literal"), "spec": {"endpointName": "shared"}}]
    assert invocation_targets(endpoints, configs, components) == [
        InvocationTarget("plain"),
        InvocationTarget("shared", component="a-aws"), InvocationTarget("shared", component="b-aws"),
        InvocationTarget("shared", component="literal-aws"),
        InvocationTarget("queue", asynchronous=True),
        InvocationTarget("remote", role_arn="arn:aws:iam::444455556666:role/r", region="eu-west-1"),
    ]
    assert InvocationTarget("shared", component="a").label == "shared, component a"


def test_plain_output_prints_an_endpoint_only_when_its_line_changes() -> None:
    stream = io.StringIO()
    out = PlainOutput(stream, io.StringIO())
    creating = EndpointRow.from_object(_endpoint())
    out.endpoints([creating])
    out.endpoints([creating])
    done = EndpointRow.from_object(_endpoint(ready="True", endpoint_status="InService"))
    out.endpoints_done([done], 2.04)
    assert stream.getvalue().splitlines() == [
        "endpoint default/sentiment: Creating, not ready (Creating: creating endpoint sentiment)",
        "endpoint default/sentiment: InService, Ready",
        "examples: 1 endpoint Ready in 2.0 s",
    ]


def test_plain_output_reports_endpoints_that_did_not_become_ready() -> None:
    stream = io.StringIO()
    PlainOutput(stream, io.StringIO()).endpoints_done([EndpointRow.from_object(_endpoint())], 120.2)
    assert stream.getvalue().splitlines()[-1] == \
        "WARNING: after 120 s, not Ready yet: sentiment (the stack keeps running)"


def test_banner_gives_the_lines_to_paste() -> None:
    stream = io.StringIO()
    PlainOutput(stream, io.StringIO()).banner(_info())
    lines = stream.getvalue().splitlines()
    assert "  export KUBECONFIG=/w/kubeconfig" in lines
    assert ("  export AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x "
            "AWS_REGION=us-east-1") in lines
    assert any(line.startswith("  operator log") and line.endswith("/w/operator.log") for line in lines)
    assert any(line.strip().startswith("kubectl apply -f") and line.endswith("single-model/") for line in lines)
    assert "  kubectl wait --for=condition=Ready smendpoint/sentiment --timeout=120s" in lines


def test_banner_on_real_aws_has_no_emulator_lines() -> None:
    stream = io.StringIO()
    PlainOutput(stream, io.StringIO()).banner(_info(emulator_url=None))
    text = stream.getvalue()
    assert "AWS_ENDPOINT_URL" not in text and "invoke-endpoint" not in text
    assert "REAL AWS" in text


def test_emulator_env_keeps_the_operator_off_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "real-token")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER", "https://api.sagemaker.eu-west-1.amazonaws.com")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREAL")
    env = emulator_env("http://127.0.0.1:1234", "eu-west-1")
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1234"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert env["AWS_ACCESS_KEY_ID"] != "AKIAREAL"
    for dropped in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_SAGEMAKER"):
        assert dropped not in env


def test_operator_command_polls_fast_only_on_the_emulator() -> None:
    emulated = operator_command(Path("/k"), liveness_port=1, metrics_port=2, region="us-east-1", emulator=True)
    assert emulated[1:4] == ["-m", "sagemaker_operator", "run"]
    assert "--poll-initial-seconds" in emulated and "--cluster-id" in emulated
    real = operator_command(Path("/k"), liveness_port=1, metrics_port=2, region=None, emulator=False)
    assert "--poll-initial-seconds" not in real and "--region" not in real


def test_emulator_url_is_read_from_its_first_line() -> None:
    assert emulator_url_from_log("") is None
    assert emulator_url_from_log("WARNING something\nsagemaker-emulator listening on http://127.0.0.1:40001\n") \
        == "http://127.0.0.1:40001"


def test_wait_for_exit_returns_when_a_process_exits() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    started = time.monotonic()
    wait_for_exit([process.pid], timeout=30)
    assert time.monotonic() - started < 20
    assert process.wait(timeout=5) == 0


def test_examples_keep_their_input_data_under_s3_bucket_key() -> None:
    seeds = seed_objects(EXAMPLES_DIR)
    assert [(bucket, key) for bucket, key, _ in seeds] == [("example-data", "batch-transform/input/customers.csv")]
    assert all(path.is_file() for _, _, path in seeds)


def test_every_example_is_a_kind_of_this_operator_with_a_readme() -> None:
    folders = sorted(path for path in EXAMPLES_DIR.iterdir() if path.is_dir())
    assert [folder.name for folder in folders] == [
        "ab-test", "async-inference", "autoscaled-variant", "batch-transform", "canary-rollback", "cross-account",
        "data-capture", "inference-components", "serverless", "single-model"]
    for folder in folders:
        assert (folder / "README.md").is_file()
        for manifest in folder.glob("*.yaml"):
            assert manifest.read_text().startswith("# "), f"{manifest}: explain it in a comment on top"
    documents = load_manifests(EXAMPLES_DIR)
    assert {doc["apiVersion"] for doc in documents} == {API_VERSION}
    assert all(doc["kind"] in KINDS_BY_NAME for doc in documents)
    # All folders go into one namespace with `dev --examples`: no two objects of a kind may share a name.
    names = [(doc["kind"], doc["metadata"]["name"]) for doc in documents]
    assert len(names) == len(set(names))
    endpoints = sorted(name for kind, name in names if kind == "SageMakerEndpoint")
    assert endpoints == ["assistants", "churn-predictor", "forecaster", "fraud-detector", "recommender",
                         "search-ranker", "sentiment", "summarizer", "transcriber"]
    weights = [v["initialVariantWeight"] for doc in documents if doc["metadata"]["name"] == "recommender"
               and doc["kind"] == "SageMakerEndpointConfig" for v in doc["spec"]["productionVariants"]]
    assert weights == [0.95, 0.05]


def test_examples_cannot_be_combined_with_real_aws() -> None:
    result = CliRunner().invoke(main, ["dev", "--aws", "--examples"])
    assert result.exit_code == 2
    assert "emulator only" in result.output


def test_dev_command_is_wired_up() -> None:
    result = CliRunner().invoke(main, ["dev", "--help"])
    assert result.exit_code == 0
    assert "--examples" in result.output and "--kubeconfig" in result.output
