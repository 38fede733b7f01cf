"""`kubectl sagemaker` against the local stack: status, invoke, plan and rollback, with their error messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from kubernetes.client import ApiClient

from sagemaker_emulator.server import EmulatorThread
from sagemaker_operator.plugin import main
from tests.conftest import KubeTarget
from tests.helpers import wait_for
from tests.operator_harness import Objects, aws_env, config_spec, counters, model_spec, running_operator

pytestmark = pytest.mark.cluster
MODEL, CONFIG, ENDPOINT = "SageMakerModel", "SageMakerEndpointConfig", "SageMakerEndpoint"
IMAGE_2 = "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:2"


def kubectl_sagemaker(kube: KubeTarget, emulator: EmulatorThread, namespace: str, *args: str) -> Result:
    env = {**aws_env(emulator.url), "KUBECONFIG": str(kube.kubeconfig)}
    return CliRunner().invoke(main, ["-n", namespace, *args], env=env, catch_exceptions=False)


def _manifests(folder: Path, image: str | None = None, weights: tuple[float, float] = (0.5, 0.5)) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    documents = [
        {"apiVersion": "sagemaker.operator.dev/v1alpha1", "kind": MODEL, "metadata": {"name": "shop"},
         "spec": model_spec(image) if image else model_spec()},
        {"apiVersion": "sagemaker.operator.dev/v1alpha1", "kind": CONFIG, "metadata": {"name": "shop"},
         "spec": config_spec(("a", "shop", weights[0], 1), ("b", "shop", weights[1], 1))},
        {"apiVersion": "sagemaker.operator.dev/v1alpha1", "kind": ENDPOINT, "metadata": {"name": "shop"},
         "spec": {"endpointConfigRef": {"name": "shop"}}},
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "unrelated"}},
    ]
    path = folder / "shop.yaml"
    path.write_text(yaml.safe_dump_all(documents))
    return path


def _apply(objects: Objects, path: Path) -> None:
    for document in yaml.safe_load_all(path.read_text()):
        if document["kind"] in (MODEL, CONFIG, ENDPOINT):
            if objects.get(document["kind"], document["metadata"]["name"]):
                objects.patch(document["kind"], document["metadata"]["name"], {"spec": document["spec"]})
            else:
                objects.create(document["kind"], document["metadata"]["name"], document["spec"])


def _actions(result: Result) -> dict[tuple[str, str], str]:
    assert result.exit_code in (0, 2), result.output
    return {(c["kind"], c["name"]): c["action"] for c in json.loads(result.stdout)}


def test_plan_status_invoke_and_rollback(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects = Objects(admin_client, namespace)
    first = _manifests(tmp_path / "v1")

    planned = kubectl_sagemaker(kube, emulator, namespace, "plan", "-f", str(first), "-o", "json", "--exit-code")
    assert planned.exit_code == 2
    assert _actions(planned) == {(MODEL, "shop"): "create", (CONFIG, "shop"): "create", (ENDPOINT, "shop"): "create"}

    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        _apply(objects, first)
        objects.wait_condition(ENDPOINT, "shop", "Ready")
        calls_before = counters(emulator)

        unchanged = kubectl_sagemaker(kube, emulator, namespace, "plan", "-f", str(first), "-o", "json",
                                      "--exit-code")
        assert unchanged.exit_code == 0, unchanged.output
        assert set(_actions(unchanged).values()) == {"none"}

        weights = kubectl_sagemaker(kube, emulator, namespace, "plan", "-f",
                                    str(_manifests(tmp_path / "w", weights=(0.9, 0.1))), "-o", "json")
        assert _actions(weights) == {(MODEL, "shop"): "none", (CONFIG, "shop"): "none",
                                     (ENDPOINT, "shop"): "update-weights"}

        second = _manifests(tmp_path / "v2", image=IMAGE_2)
        rollout = kubectl_sagemaker(kube, emulator, namespace, "plan", "-f", str(second))
        assert rollout.exit_code == 0
        lines = {line.split()[0] + "/" + line.split()[2] for line in rollout.stdout.splitlines()[1:]}
        assert lines == {"SageMakerModel/create", "SageMakerEndpointConfig/create", "SageMakerEndpoint/update"}
        assert "UpdateEndpoint shop" in rollout.stdout
        # plan changes nothing and makes only read calls.
        calls_after = counters(emulator)
        reads = ("Describe", "List", "GetCallerIdentity")
        assert {op: n for op, n in calls_after.items() if not op.startswith(reads)} == \
            {op: n for op, n in calls_before.items() if not op.startswith(reads)}

        _apply(objects, second)
        wait_for(lambda: (objects.get(ENDPOINT, "shop") or {}).get("status", {}).get("lastDeployment", {})
                 .get("fromEndpointConfigName") and (objects.condition(ENDPOINT, "shop", "Ready") or {})
                 .get("status") == "True", timeout=60, what="the update to finish")

        status = kubectl_sagemaker(kube, emulator, namespace, "status", "shop", "-o", "json")
        assert status.exit_code == 0, status.output
        view: dict[str, Any] = json.loads(status.stdout)
        assert view["endpointStatus"] == "InService"
        assert [r["revision"] for r in view["config"]["revisions"]] == [0, 1]
        assert view["models"][0]["awsName"].startswith("shop-")
        table = kubectl_sagemaker(kube, emulator, namespace, "status")
        assert table.stdout.splitlines()[0].split()[:3] == ["ENDPOINT", "AWS", "NAME"]
        assert "shop" in table.stdout

        answer = kubectl_sagemaker(kube, emulator, namespace, "invoke", "shop", "--body", '{"x": 1}',
                                   "--variant", "b", "-o", "json")
        assert answer.exit_code == 0, answer.output
        served = json.loads(answer.stdout)
        assert served["variant"] == "b"
        assert served["body"]["image"] == IMAGE_2

        previous = view["config"]["revisions"][1]["awsName"]
        back = kubectl_sagemaker(kube, emulator, namespace, "rollback", "shop")
        assert back.exit_code == 0, back.output
        wait_for(lambda: (objects.get(ENDPOINT, "shop") or {}).get("status", {}).get("currentEndpointConfigName")
                 == previous and (objects.condition(ENDPOINT, "shop", "Ready") or {}).get("status") == "True",
                 timeout=60, what="the endpoint to run the previous revision")

        too_far = kubectl_sagemaker(kube, emulator, namespace, "rollback", "shop", "--to-revision", "5")
        assert too_far.exit_code == 1
        assert "literal endpointConfigName" in too_far.stderr


def test_invoke_errors_name_the_problem(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    missing = kubectl_sagemaker(kube, emulator, namespace, "invoke", "nope", "--body", "{}")
    assert missing.exit_code == 1
    assert f"SageMakerEndpoint 'nope' not found in namespace '{namespace}'" in missing.stderr

    usage = kubectl_sagemaker(kube, emulator, namespace, "invoke", "nope")
    assert usage.exit_code == 2

    objects = Objects(admin_client, namespace)
    emulator.admin.set_durations(create=60)
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log"):
        objects.create(MODEL, "slow", model_spec())
        objects.create(CONFIG, "slow", config_spec(("primary", "slow", 1.0, 1)))
        objects.create(ENDPOINT, "slow", {"endpointConfigRef": {"name": "slow"}})
        wait_for(lambda: (objects.get(ENDPOINT, "slow") or {}).get("status", {}).get("endpointStatus")
                 == "Creating", timeout=30, what="the endpoint to be Creating")
        creating = kubectl_sagemaker(kube, emulator, namespace, "invoke", "slow", "--body", "{}")
        assert creating.exit_code == 1
        assert "endpoint slow is Creating, not InService" in creating.stderr
        assert "kubectl wait --for=condition=Ready smendpoint/slow" in creating.stderr


def _shop(name: str, image: str | None = None) -> list[dict[str, Any]]:
    """A model, a config and an endpoint named ``name``, as manifests."""
    return [
        {"apiVersion": "sagemaker.operator.dev/v1alpha1", "kind": MODEL, "metadata": {"name": name},
         "spec": model_spec(image) if image else model_spec()},
        {"apiVersion": "sagemaker.operator.dev/v1alpha1", "kind": CONFIG, "metadata": {"name": name},
         "spec": config_spec(("a", name, 1.0, 1))},
        {"apiVersion": "sagemaker.operator.dev/v1alpha1", "kind": ENDPOINT, "metadata": {"name": name},
         "spec": {"endpointConfigRef": {"name": name}}},
    ]


def test_plan_finds_the_cluster_id_plans_only_what_the_files_touch_and_reads_files_as_kubectl_does(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    """What a new user hit on `dev --examples`: an operator with its own cluster id and several endpoints in the
    namespace. One image changed in one file plans that model, its config and its endpoint, with the AWS names
    the operator then creates, and nothing else."""
    objects = Objects(admin_client, namespace)
    shops = {name: _shop(name) for name in ("red", "green", "blue")}
    folder = tmp_path / "manifests"
    (folder / "nested").mkdir(parents=True)
    for name, documents in shops.items():
        (folder / ("nested" if name == "blue" else "") / f"{name}.yaml").write_text(yaml.safe_dump_all(documents))
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log",
                          ["--cluster-id", "dev-someone-somewhere"]):
        for documents in shops.values():
            for document in documents:
                objects.create(document["kind"], document["metadata"]["name"], document["spec"])
        for name in shops:
            objects.wait_condition(ENDPOINT, name, "Ready")
        assert objects.get(MODEL, "red")["status"]["clusterId"] == "dev-someone-somewhere"

        # Nothing changed: every object of the files, nothing to do. A folder is read like kubectl reads it: its
        # subfolders only with -R.
        flat = _actions(kubectl_sagemaker(kube, emulator, namespace, "plan", "-f", str(folder), "-o", "json"))
        assert flat == {(kind, name): "none" for name in ("red", "green") for kind in (MODEL, CONFIG, ENDPOINT)}
        deep = _actions(kubectl_sagemaker(kube, emulator, namespace, "plan", "-f", str(folder), "-R", "-o", "json"))
        assert deep == {(kind, name): "none" for name in shops for kind in (MODEL, CONFIG, ENDPOINT)}

        # One image changed, given as a kind: List (what kubectl get -o yaml writes) on standard input: that chain
        # only, and the names planned are the names the operator creates.
        changed = {"apiVersion": "v1", "kind": "List", "items": [_shop("green", IMAGE_2)[0]]}
        env = {**aws_env(emulator.url), "KUBECONFIG": str(kube.kubeconfig)}
        planned = CliRunner().invoke(main, ["-n", namespace, "plan", "-f", "-", "-o", "json"], env=env,
                                     input=yaml.safe_dump(changed), catch_exceptions=False)
        assert _actions(planned) == {(MODEL, "green"): "create", (CONFIG, "green"): "create",
                                     (ENDPOINT, "green"): "update"}
        details = {c["kind"]: c["details"] for c in json.loads(planned.stdout)}
        serving = objects.get(ENDPOINT, "green")["status"]["currentEndpointConfigName"]
        before = counters(emulator)
        objects.patch(MODEL, "green", {"spec": changed["items"][0]["spec"]})
        wait_for(lambda: (objects.get(ENDPOINT, "green") or {}).get("status", {}).get("currentEndpointConfigName")
                 != serving and (objects.condition(ENDPOINT, "green", "Ready") or {})
                 .get("status") == "True", timeout=60, what="the endpoint to run the new revision")
        # The AWS writes the operator made are the plan's three actions, no more.
        writes = {op: n - before.get(op, 0) for op, n in counters(emulator).items()
                  if not op.startswith(("Describe", "List", "Get")) and n != before.get(op, 0)}
        assert writes == {"CreateModel": 1, "CreateEndpointConfig": 1, "UpdateEndpoint": 1}, writes
        model_name = objects.get(MODEL, "green")["status"]["modelName"]
        config_name = objects.get(CONFIG, "green")["status"]["endpointConfigName"]
        assert model_name in details[MODEL], details
        assert config_name in details[CONFIG], details
        assert config_name in details[ENDPOINT], details

        # An explicit --cluster-id still wins: with another one, every name differs.
        other = _actions(kubectl_sagemaker(kube, emulator, namespace, "--cluster-id", "elsewhere", "plan", "-f",
                                           str(folder / "red.yaml"), "-o", "json"))
        assert other[(MODEL, "red")] == "create"
