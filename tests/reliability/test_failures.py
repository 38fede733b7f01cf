"""Failures across objects: each handled as docs/operator.md says, none affecting the others; and one bad object
never delays the good ones beyond a bound."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
from kubernetes.client import ApiClient

from sagemaker_emulator.server import EmulatorThread
from tests.helpers import wait_for
from tests.operator_harness import Objects, config_spec, model_spec, sagemaker
from tests.reliability.harness import CONFIG, ENDPOINT, IMAGE, MODEL, OperatorProcess, create_chain, is_true
from tests.reliability.invariants import Scope, assert_invariants

pytestmark = pytest.mark.cluster
GOOD_READY_BOUND = 30.0


def test_failed_update_failed_rollback_deleted_and_switched_endpoints_are_each_handled(
        admin_client: ApiClient, crds: list[str], namespaces: Callable[[], str], emulator: EmulatorThread,
        operator_factory: Callable[..., OperatorProcess]) -> None:
    namespace = namespaces()
    objects = Objects(admin_client, namespace)
    alarm = f"rb-{uuid.uuid4().hex[:8]}"
    client = sagemaker(emulator.url)
    rollback = {"deploymentConfig": {
        "blueGreenUpdatePolicy": {"trafficRoutingConfiguration": {
            "type": "CANARY", "canarySize": {"type": "CAPACITY_PERCENT", "value": 50}, "waitIntervalInSeconds": 30}},
        "autoRollbackConfiguration": {"alarms": [{"alarmName": alarm}]}}}
    with operator_factory([namespace], ["--resync-seconds", "1"], name="failures") as operator:
        for name in ("upd", "gone", "switched", "good"):
            create_chain(objects, name)
        create_chain(objects, "rb", endpoint_extra=rollback)
        for name in ("upd", "rb", "gone", "switched", "good"):
            objects.wait_condition(ENDPOINT, name, "Ready", timeout=60)
        switched_config = (objects.get(ENDPOINT, "switched") or {})["status"]["currentEndpointConfigName"]

        # All at once.
        emulator.admin.fail_next("endpoint", "rb", reason="rollback could not restore capacity", rollback=True)
        emulator.admin.set_alarm(alarm, "ALARM")
        objects.patch(MODEL, "rb", {"spec": {"primaryContainer": {"image": f"{IMAGE}-rb:2"}}})
        objects.patch(MODEL, "upd", {"spec": {"primaryContainer": {"image": f"{IMAGE}-upd:fail"}}})
        client.delete_endpoint(EndpointName="gone")
        client.create_endpoint_config(EndpointConfigName="outside", ProductionVariants=[{
            "VariantName": "primary", "ModelName": (objects.get(MODEL, "switched") or {})["status"]["modelName"],
            "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
        client.update_endpoint(EndpointName="switched", EndpointConfigName="outside")
        started = time.monotonic()
        objects.patch(MODEL, "good", {"spec": {"primaryContainer": {"image": f"{IMAGE}-good:2"}}})

        def good_rolled_out() -> bool:
            endpoint = objects.get(ENDPOINT, "good") or {}
            config = objects.get(CONFIG, "good") or {}
            return bool(is_true(endpoint, "Ready") and endpoint["status"].get("currentEndpointConfigName")
                        == config.get("status", {}).get("endpointConfigName")
                        and any(e.reason == "UpdateSucceeded" for e in objects.events("good")))

        wait_for(good_rolled_out, timeout=GOOD_READY_BOUND, what="the good endpoint to roll out its new model")
        good_seconds = time.monotonic() - started

        degraded = objects.wait_condition(ENDPOINT, "upd", "Degraded", reason="UpdateFailed", timeout=60)
        assert "health check" in (objects.condition(ENDPOINT, "upd", "Degraded") or {})["message"]
        assert degraded["status"]["endpointStatus"] == "InService"
        objects.wait_condition(ENDPOINT, "rb", "Degraded", reason="UpdateRollbackFailed", timeout=60)
        assert "rollback could not restore capacity" in (objects.condition(ENDPOINT, "rb", "Degraded") or {})[
            "message"]
        wait_for(lambda: client.describe_endpoint(EndpointName="gone")["EndpointStatus"] == "InService"
                 if "gone" in {e["EndpointName"] for e in client.list_endpoints()["Endpoints"]} else False,
                 timeout=60, what="the endpoint deleted outside the operator to be recreated")
        wait_for(lambda: client.describe_endpoint(EndpointName="switched")["EndpointConfigName"] == switched_config
                 and client.describe_endpoint(EndpointName="switched")["EndpointStatus"] == "InService",
                 timeout=60, what="the switched endpoint to be switched back")
        for name in ("upd", "rb"):
            wait_for(lambda name=name: any(e.type == "Warning" for e in objects.events(name)), timeout=30,
                     what=f"a Warning event on {name}")
        for name in ("gone", "switched"):
            wait_for(lambda name=name: "DriftCorrected" in {e.reason for e in objects.events(name)}, timeout=30,
                     what=f"a DriftCorrected event on {name}")
        print(f"\ngood endpoint rolled out in {good_seconds:.1f} s while the four others failed or drifted")
        emulator.admin.set_alarm(alarm, "OK")
        scope = Scope([namespace], degraded={(ENDPOINT, namespace, "upd"): "UpdateFailed",
                                             (ENDPOINT, namespace, "rb"): "UpdateRollbackFailed"})
        assert_invariants(admin_client, emulator, scope, operator.log_text())


def test_bad_objects_never_delay_the_good_ones(
        admin_client: ApiClient, crds: list[str], namespaces: Callable[[], str], emulator: EmulatorThread,
        operator_factory: Callable[..., OperatorProcess]) -> None:
    namespace = namespaces()
    objects = Objects(admin_client, namespace)
    good = [f"good{i}" for i in range(5)]
    with operator_factory([namespace], name="isolation") as operator:
        # An execution role AWS cannot assume (the pattern passes the API server; STS refuses it), a reference to
        # nothing, and a quota error (no model may be created in us-west-2: ResourceLimitExceeded).
        emulator.admin.set_quota("model", 0, region="us-west-2")
        objects.create(MODEL, "bad-role", model_spec(assumeRoleArn="arn:aws:iam::123456789012:rolex"))
        objects.create(CONFIG, "bad-ref", config_spec(("primary", "ghost", 1.0, 1)))
        objects.create(MODEL, "bad-quota", model_spec(region="us-west-2"))
        objects.create(ENDPOINT, "bad-ref", {"endpointConfigRef": {"name": "bad-ref"}})
        started = time.monotonic()
        for name in good:
            create_chain(objects, name)
        times = {}
        for name in good:
            objects.wait_condition(ENDPOINT, name, "Ready", timeout=GOOD_READY_BOUND)
            times[name] = round(time.monotonic() - started, 1)
        print(f"\ntime to Ready of good endpoints created next to bad objects: {times}")
        role = objects.wait_condition(MODEL, "bad-role", "Degraded", timeout=60)
        assert role["status"].get("modelName") is None
        objects.wait_condition(CONFIG, "bad-ref", "Degraded", reason="InvalidSpec", timeout=30)
        assert "spec.productionVariants[0].modelRef.name" in (objects.condition(CONFIG, "bad-ref", "Degraded")
                                                               or {})["message"]
        objects.wait_condition(MODEL, "bad-quota", "Degraded", reason="QuotaExceeded", timeout=30)
        scope = Scope([namespace], degraded={(MODEL, namespace, "bad-role"): None,
                                             (CONFIG, namespace, "bad-ref"): "InvalidSpec",
                                             (ENDPOINT, namespace, "bad-ref"): None,
                                             (MODEL, namespace, "bad-quota"): "QuotaExceeded"})
        assert_invariants(admin_client, emulator, scope, operator.log_text())
        message = (objects.condition(MODEL, "bad-role", "Degraded") or {})["message"]
        assert "assumeRoleArn" in message or "AssumeRole" in message, \
            f"the message should say the role could not be assumed: {message}"
