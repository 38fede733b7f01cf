"""Drift checks by the page against the real API server and the emulator: an idle fleet costs list pages only, what
changed outside the operator is found by them and corrected (endpoints, models, configs, tags), and a place whose
lists fail is checked one Describe per resource instead."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes.client import ApiClient

from sagemaker_emulator.server import EmulatorThread
from tests.conftest import KubeTarget
from tests.helpers import wait_for
from tests.operator_harness import Objects, config_spec, counters, model_spec, running_operator, sagemaker

pytestmark = pytest.mark.cluster

MODEL, CONFIG, ENDPOINT = "SageMakerModel", "SageMakerEndpointConfig", "SageMakerEndpoint"
# A sweep every second (and up to 20% more): each wait below spans several.
FAST_SWEEPS = ["--resync-seconds", "1"]
PAGES = ("ListEndpoints", "ListModels", "ListEndpointConfigs", "GetResources")


def _chains(objects: Objects, names: tuple[str, ...]) -> None:
    for name in names:
        objects.create(MODEL, name, model_spec())
        objects.create(CONFIG, name, config_spec(("primary", name, 1.0, 1)))
        objects.create(ENDPOINT, name, {"endpointConfigRef": {"name": name}, "tags": {"team": "ml"}})
    for name in names:
        objects.wait_condition(ENDPOINT, name, "Ready")


def _sweeps_seen(emulator: EmulatorThread, at_least: int) -> dict[str, int]:
    """The emulator's counters once every page of a sweep was read ``at_least`` times since they were reset."""
    return wait_for(lambda: (lambda seen: seen if all(seen.get(p, 0) >= at_least for p in PAGES) else None)(
        counters(emulator)), timeout=30, what=f"{at_least} drift checks by the page")


def test_an_idle_fleet_costs_list_pages_only(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects = Objects(admin_client, namespace)
    names = ("idle-a", "idle-b", "idle-c")
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log", FAST_SWEEPS):
        _chains(objects, names)
        versions = {name: objects.get(ENDPOINT, name)["metadata"]["resourceVersion"] for name in names}
        _sweeps_seen(emulator, 1)  # the sweeps that follow see every endpoint Ready with its LastModifiedTime
        emulator.admin.reset_counters()
        seen = _sweeps_seen(emulator, 3)
        # One page each (3 of a kind fit in one), and nothing described, listed per resource, or written.
        assert set(seen) <= set(PAGES), seen
        assert max(seen.values()) - min(seen.values()) <= 1, seen
        assert {name: objects.get(ENDPOINT, name)["metadata"]["resourceVersion"] for name in names} == versions


def test_changes_outside_are_found_by_the_page_and_corrected(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects = Objects(admin_client, namespace)
    client = sagemaker(emulator.url)
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log", FAST_SWEEPS):
        _chains(objects, ("outside", "bystander"))
        status = objects.get(ENDPOINT, "outside")["status"]
        model_name = objects.get(MODEL, "outside")["status"]["modelName"]
        config_name = objects.get(CONFIG, "outside")["status"]["endpointConfigName"]
        emulator.admin.reset_counters()

        # A tag changed, and one removed: restored, with a ListTags of this endpoint only.
        arn = status["endpointArn"]
        client.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "hijacked"}])
        client.delete_tags(ResourceArn=arn, TagKeys=["sagemaker.operator.dev/namespace"])

        def tags_restored() -> bool:
            tags = {t["Key"]: t["Value"] for t in client.list_tags(ResourceArn=arn)["Tags"]}
            return tags.get("team") == "ml" and tags.get("sagemaker.operator.dev/namespace") == namespace

        wait_for(tags_restored, timeout=30, what="the tags to be restored")

        # The current model and config revisions deleted outside: created again under the same names. The endpoint
        # runs on (SageMaker copied what it needs), and is not updated.
        client.delete_model(ModelName=model_name)
        client.delete_endpoint_config(EndpointConfigName=config_name)
        def exists_again() -> bool:
            models = {m["ModelName"] for m in client.list_models(MaxResults=100)["Models"]}
            configs = {c["EndpointConfigName"] for c in client.list_endpoint_configs(MaxResults=100)["EndpointConfigs"]}
            return model_name in models and config_name in configs

        wait_for(exists_again, timeout=30, what="the model and config to be created again")
        objects.wait_events("outside", "DriftCorrected", warning=True)
        assert objects.condition(MODEL, "outside", "Ready")["status"] == "True"

        # The endpoint switched to another config outside: switched back.
        client.create_endpoint_config(EndpointConfigName="switched", ProductionVariants=[{
            "VariantName": "primary", "ModelName": model_name, "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large"}])
        client.update_endpoint(EndpointName="outside", EndpointConfigName="switched")
        wait_for(lambda: (lambda d: d["EndpointConfigName"] == config_name and d["EndpointStatus"] == "InService")(
            client.describe_endpoint(EndpointName="outside")), timeout=30, what="the endpoint to be switched back")

        # Deleted outside: created again.
        client.delete_endpoint(EndpointName="outside")
        wait_for(lambda: any(e["EndpointName"] == "outside" and e["EndpointStatus"] == "InService"
                             for e in client.list_endpoints()["Endpoints"])
                 and objects.condition(ENDPOINT, "outside", "Ready")["status"] == "True",
                 timeout=30, what="the endpoint deleted outside to be created again")

        # Each correction made once (the test's own calls included: one UpdateEndpoint and one config were its own).
        # A config recreated before its model is refused by AWS and made again at the next check: refusals are not
        # counted.
        raw = emulator.admin.counters()
        refused = {op: sum(codes.values()) for op, codes in (raw.get("operation_errors") or {}).items()}
        seen = {op: n - refused.get(op, 0) for op, n in counters(emulator).items()}
        assert (seen.get("UpdateEndpoint"), seen.get("CreateEndpoint"), seen.get("CreateModel"),
                seen.get("CreateEndpointConfig")) == (2, 1, 1, 2), (seen, refused)
        assert objects.get(ENDPOINT, "bystander")["status"]["endpointStatus"] == "InService"


def test_a_place_whose_lists_fail_is_checked_one_by_one(
        kube: KubeTarget, admin_client: ApiClient, crds: list[str], namespace: str, emulator: EmulatorThread,
        tmp_path: Path) -> None:
    objects = Objects(admin_client, namespace)
    client = sagemaker(emulator.url)
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log", FAST_SWEEPS):
        _chains(objects, ("fallback",))
        emulator.admin.set_fault("ListEndpoints", error_rate=1.0, error_status=503)
        try:
            emulator.admin.reset_counters()
            wait_for(lambda: counters(emulator).get("DescribeEndpoint", 0) >= 2, timeout=30,
                     what="the endpoint to be described on its own while the lists fail")
            client.delete_endpoint(EndpointName="fallback")

            def in_service_again() -> bool:
                try:
                    return bool(client.describe_endpoint(EndpointName="fallback")["EndpointStatus"] == "InService")
                except client.exceptions.ClientError:
                    return False  # deleted, not yet created again

            wait_for(in_service_again, timeout=30,
                     what="the endpoint deleted outside to be created again without the lists")
        finally:
            emulator.admin.clear_faults("ListEndpoints")
        objects.wait_condition(ENDPOINT, "fallback", "Ready")
        # The lists work again: after one more check, the per-resource describes stop.
        _sweeps_seen(emulator, counters(emulator).get("GetResources", 0) + 1)
        emulator.admin.reset_counters()
        seen = _sweeps_seen(emulator, 2)
        assert "DescribeEndpoint" not in seen, seen
