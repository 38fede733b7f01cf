"""The endpoint decision table (plan_endpoint, pure), its helpers, and endpoint resolution against an ObjectStore."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

import pytest

from sagemaker_operator.aws.gateway import SageMakerGateway
from sagemaker_operator.reconcile.context import OperatorSettings, ReconcileContext, SpecProblem
from sagemaker_operator.reconcile.endpoint import (
    ActionKind,
    EndpointDesired,
    EndpointMemory,
    EndpointPlan,
    WaitingForConfig,
    _weights_drift,
    converged,
    memory_of,
    plan_endpoint,
    reconcile_endpoint,
    resolve_endpoint,
)
from sagemaker_operator.reconcile.endpoint_config import VariantTarget, render_config
from sagemaker_operator.reconcile.objects import (
    ENDPOINT,
    ENDPOINT_CONFIG,
    MODEL,
    RETRY_ANNOTATION,
    KubeObject,
    ObjectStore,
)
from sagemaker_operator.status import State, build_status

NOW = "2026-11-21T10:00:00Z"
ARN = "arn:aws:sagemaker:eu-west-1:123456789012:endpoint/recommender"
OLD = "recommender-0a1b2c3d4e"
NEW = "recommender-5f6a7b8c9d"
NEWER = "recommender-feedbeef00"
VARIANTS = (VariantTarget("current", 0.95, 2), VariantTarget("candidate", 0.05, 1))


def desired(config: str = NEW, variants: tuple[VariantTarget, ...] | None = VARIANTS,
            update_options: Mapping[str, Any] | None = None) -> EndpointDesired:
    options = dict(update_options or {})
    create = {"DeploymentConfig": options["DeploymentConfig"]} if "DeploymentConfig" in options else {}
    return EndpointDesired(endpoint_name="recommender", config_name=config, variants=variants,
                           update_options=options, create_options=create)


def variant(name: str, weight: float, count: int) -> dict[str, Any]:
    return {"VariantName": name, "CurrentWeight": weight, "DesiredWeight": weight,
            "CurrentInstanceCount": count, "DesiredInstanceCount": count}


def observed(status: str, config: str, *, reason: str | None = None,
             variants: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "EndpointName": "recommender", "EndpointArn": ARN, "EndpointStatus": status, "EndpointConfigName": config,
        "ProductionVariants": variants if variants is not None else [variant("current", 0.95, 2),
                                                                    variant("candidate", 0.05, 1)],
    }
    if reason:
        body["FailureReason"] = reason
    return body


def in_progress(target: str = NEW, source: str = OLD) -> dict[str, Any]:
    return {"endpointConfigName": target, "fromEndpointConfigName": source, "startedAt": "2026-11-21T09:00:00Z",
            "outcome": "InProgress"}


def reasons(plan: EndpointPlan) -> list[str]:
    return [event.reason for event in plan.events]


# --- missing endpoint ------------------------------------------------------------------------------------------


def test_missing_endpoint_is_created_with_the_desired_config() -> None:
    blue_green = {"DeploymentConfig": {"BlueGreenUpdatePolicy": {"TrafficRoutingConfiguration": {
        "Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0}}}}
    plan = plan_endpoint(desired(update_options=blue_green), None, EndpointMemory(), NOW)
    assert plan.state is State.PROGRESSING
    assert plan.reason == "Creating"
    assert plan.poll is True
    assert plan.action is not None
    assert plan.action.kind is ActionKind.CREATE
    assert dict(plan.action.request) == {"EndpointName": "recommender", "EndpointConfigName": NEW,
                                         **blue_green}
    assert plan.events == ()


def test_missing_endpoint_that_was_known_is_recreated_as_drift() -> None:
    plan = plan_endpoint(desired(), None, EndpointMemory(known_arn=ARN), NOW)
    assert plan.state is State.PROGRESSING
    assert plan.reason == "Recreating"
    assert plan.action is not None
    assert plan.action.kind is ActionKind.CREATE
    assert plan.action.request["EndpointConfigName"] == NEW
    assert reasons(plan) == ["DriftCorrected"]
    assert plan.events[0].warning is True


# --- busy states -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["Creating", "Updating", "SystemUpdating", "RollingBack", "Deleting"])
def test_busy_endpoint_is_waited_for_and_keeps_its_memory(status: str) -> None:
    memory = EndpointMemory(known_arn=ARN, failed_config=NEWER, deployment=in_progress())
    plan = plan_endpoint(desired(), observed(status, OLD), memory, NOW)
    assert plan.state is State.PROGRESSING
    assert plan.reason == status
    assert plan.action is None
    assert plan.poll is True
    assert plan.failed_config == NEWER
    assert plan.deployment == in_progress()
    assert plan.events == ()


# --- InService on the desired config ---------------------------------------------------------------------------


def test_in_service_on_desired_config_is_ready() -> None:
    plan = plan_endpoint(desired(), observed("InService", NEW), EndpointMemory(known_arn=ARN), NOW)
    assert plan.state is State.READY
    assert plan.reason == "InService"
    assert plan.action is None
    assert plan.poll is False
    assert plan.failed_config is None
    assert plan.events == ()


def test_in_service_with_a_literal_config_name_ignores_variants() -> None:
    seen = observed("InService", NEW, variants=[variant("anything", 0.3, 7)])
    plan = plan_endpoint(desired(variants=None), seen, EndpointMemory(known_arn=ARN), NOW)
    assert plan.state is State.READY
    assert plan.action is None


def test_finished_update_is_recorded_as_succeeded() -> None:
    plan = plan_endpoint(desired(), observed("InService", NEW), EndpointMemory(known_arn=ARN,
                                                                              deployment=in_progress()), NOW)
    assert plan.state is State.READY
    assert plan.deployment == {**in_progress(), "outcome": "Succeeded", "finishedAt": NOW}
    assert reasons(plan) == ["UpdateSucceeded"]
    assert plan.events[0].warning is False


def test_weight_and_count_changes_are_applied_in_place() -> None:
    seen = observed("InService", NEW, variants=[variant("current", 0.5, 2), variant("candidate", 0.5, 3)])
    plan = plan_endpoint(desired(), seen, EndpointMemory(known_arn=ARN), NOW)
    assert plan.state is State.PROGRESSING
    assert plan.reason == "UpdatingWeights"
    assert plan.poll is True
    assert plan.action is not None
    assert plan.action.kind is ActionKind.UPDATE_WEIGHTS
    assert dict(plan.action.request) == {"EndpointName": "recommender", "DesiredWeightsAndCapacities": [
        {"VariantName": "current", "DesiredWeight": 0.95},
        {"VariantName": "candidate", "DesiredWeight": 0.05, "DesiredInstanceCount": 1},
    ]}


def test_weights_within_tolerance_are_not_a_change() -> None:
    seen = observed("InService", NEW, variants=[variant("current", 0.95 + 1e-9, 2), variant("candidate", 0.05, 1)])
    assert plan_endpoint(desired(), seen, EndpointMemory(known_arn=ARN), NOW).action is None


def test_weights_drift_compares_desired_values_first_and_skips_unknown_variants() -> None:
    seen = [{"VariantName": "current", "CurrentWeight": 0.5, "DesiredWeight": 0.95,
             "CurrentInstanceCount": 1, "DesiredInstanceCount": 2},
            {"VariantName": "other", "CurrentWeight": 1.0}]
    assert _weights_drift(VARIANTS, seen) == []
    # Serverless variants have no instance count: a count in the spec is not a change there.
    assert _weights_drift((VariantTarget("sls", 1.0, 3),), [{"VariantName": "sls", "CurrentWeight": 1.0}]) == []


# --- InService on another config -------------------------------------------------------------------------------


def test_other_config_is_updated_and_the_deployment_recorded() -> None:
    rolling = {"DeploymentConfig": {"RollingUpdatePolicy": {
        "MaximumBatchSize": {"Type": "CAPACITY_PERCENT", "Value": 50}, "WaitIntervalInSeconds": 60}},
        "RetainAllVariantProperties": True}
    plan = plan_endpoint(desired(update_options=rolling), observed("InService", OLD), EndpointMemory(known_arn=ARN),
                         NOW)
    assert plan.state is State.PROGRESSING
    assert plan.reason == "Updating"
    assert plan.poll is True
    assert plan.action is not None
    assert plan.action.kind is ActionKind.UPDATE
    assert dict(plan.action.request) == {"EndpointName": "recommender", "EndpointConfigName": NEW, **rolling}
    assert plan.deployment == {"endpointConfigName": NEW, "fromEndpointConfigName": OLD, "startedAt": NOW,
                               "outcome": "InProgress"}
    assert reasons(plan) == ["UpdateStarted"]
    assert plan.failed_config is None


def test_update_that_ended_on_the_old_config_failed() -> None:
    memory = EndpointMemory(known_arn=ARN, deployment=in_progress())
    seen = observed("InService", OLD, reason="Model container failed the ping health check")
    plan = plan_endpoint(desired(), seen, memory, NOW)
    assert plan.state is State.DEGRADED
    assert plan.reason == "UpdateFailed"
    assert plan.action is None
    assert plan.poll is False
    assert plan.failed_config == NEW
    assert plan.deployment == {**in_progress(), "outcome": "Failed", "finishedAt": NOW}
    assert reasons(plan) == ["UpdateFailed"]
    assert "ping health check" in plan.events[0].message
    assert RETRY_ANNOTATION in plan.message


def test_same_failed_config_is_not_retried() -> None:
    failed = {**in_progress(), "outcome": "Failed", "finishedAt": NOW}
    memory = EndpointMemory(known_arn=ARN, failed_config=NEW, deployment=failed)
    plan = plan_endpoint(desired(), observed("InService", OLD), memory, NOW)
    assert plan.state is State.DEGRADED
    assert plan.reason == "UpdateFailed"
    assert plan.action is None
    assert plan.failed_config == NEW
    assert plan.deployment == failed
    assert plan.events == ()


def test_retry_annotation_retries_the_failed_config() -> None:
    failed = {**in_progress(), "outcome": "Failed", "finishedAt": NOW}
    memory = EndpointMemory(known_arn=ARN, failed_config=NEW, deployment=failed, retry_requested=True)
    plan = plan_endpoint(desired(), observed("InService", OLD), memory, "2026-11-21T11:00:00Z")
    assert plan.action is not None
    assert plan.action.kind is ActionKind.UPDATE
    assert plan.action.request["EndpointConfigName"] == NEW
    assert plan.deployment == {"endpointConfigName": NEW, "fromEndpointConfigName": OLD,
                               "startedAt": "2026-11-21T11:00:00Z", "outcome": "InProgress"}
    assert plan.failed_config is None


def test_new_spec_config_after_a_failure_is_updated_to() -> None:
    failed = {**in_progress(), "outcome": "Failed", "finishedAt": NOW}
    memory = EndpointMemory(known_arn=ARN, failed_config=NEW, deployment=failed)
    plan = plan_endpoint(desired(NEWER), observed("InService", OLD), memory, NOW)
    assert plan.state is State.PROGRESSING
    assert plan.action is not None
    assert plan.action.kind is ActionKind.UPDATE
    assert plan.action.request["EndpointConfigName"] == NEWER
    assert plan.failed_config is None
    assert reasons(plan) == ["UpdateStarted"]


def test_switched_outside_after_a_successful_deployment_is_drift() -> None:
    done = {**in_progress(), "outcome": "Succeeded", "finishedAt": NOW}
    plan = plan_endpoint(desired(), observed("InService", OLD), EndpointMemory(known_arn=ARN, deployment=done), NOW)
    assert plan.action is not None
    assert plan.action.kind is ActionKind.UPDATE
    assert plan.action.request["EndpointConfigName"] == NEW
    assert reasons(plan) == ["DriftCorrected"]
    assert plan.events[0].warning is True


def test_spec_change_during_an_update_updates_to_the_newest_config() -> None:
    # The update to NEW is still recorded as in progress, but the spec now asks for NEWER.
    plan = plan_endpoint(desired(NEWER), observed("InService", NEW),
                         EndpointMemory(known_arn=ARN, deployment=in_progress()), NOW)
    assert plan.action is not None
    assert plan.action.kind is ActionKind.UPDATE
    assert plan.action.request["EndpointConfigName"] == NEWER
    assert plan.deployment is not None
    assert plan.deployment["fromEndpointConfigName"] == NEW


# --- Failed (create failed) ------------------------------------------------------------------------------------


def test_failed_create_is_degraded_with_aws_reason() -> None:
    seen = observed("Failed", NEW, reason="Image 123.dkr.ecr/x:1 does not exist", variants=[])
    plan = plan_endpoint(desired(), seen, EndpointMemory(known_arn=ARN), NOW)
    assert plan.state is State.DEGRADED
    assert plan.reason == "CreateFailed"
    assert plan.action is None
    assert plan.poll is False
    assert plan.failed_config == NEW
    assert "does not exist" in plan.message
    assert reasons(plan) == ["CreateFailed"]


def test_failed_create_is_reported_once() -> None:
    plan = plan_endpoint(desired(), observed("Failed", NEW, reason="x"), EndpointMemory(known_arn=ARN,
                                                                                       failed_config=NEW), NOW)
    assert plan.state is State.DEGRADED
    assert plan.action is None
    assert plan.failed_config == NEW
    assert plan.events == ()


def test_failed_endpoint_is_deleted_for_a_new_config() -> None:
    plan = plan_endpoint(desired(NEWER), observed("Failed", NEW, reason="x"),
                         EndpointMemory(known_arn=ARN, failed_config=NEW), NOW)
    assert plan.state is State.PROGRESSING
    assert plan.reason == "Recreating"
    assert plan.poll is True
    assert plan.action is not None
    assert plan.action.kind is ActionKind.DELETE
    assert dict(plan.action.request) == {"EndpointName": "recommender"}
    assert plan.failed_config is None


def test_failed_endpoint_is_deleted_on_retry() -> None:
    plan = plan_endpoint(desired(), observed("Failed", NEW, reason="x"),
                         EndpointMemory(known_arn=ARN, failed_config=NEW, retry_requested=True), NOW)
    assert plan.action is not None
    assert plan.action.kind is ActionKind.DELETE


def test_failed_endpoint_on_an_outdated_config_is_deleted_at_once() -> None:
    """The spec moved to NEWER while the create with NEW was running; the create then failed.

    Nothing requeues a Degraded endpoint (status writes do not wake the object itself), so reporting CreateFailed
    for NEW and waiting for "a new config" would wait forever: the new config is already there.
    """
    plan = plan_endpoint(desired(NEWER), observed("Failed", NEW, reason="x"), EndpointMemory(known_arn=ARN), NOW)
    assert plan.action is not None
    assert plan.action.kind is ActionKind.DELETE


# --- UpdateRollbackFailed, OutOfService ------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["UpdateRollbackFailed", "OutOfService"])
def test_broken_endpoint_is_degraded_with_aws_reason(status: str) -> None:
    memory = EndpointMemory(known_arn=ARN, deployment=in_progress())
    plan = plan_endpoint(desired(), observed(status, OLD, reason="capacity error in ml.m5.xlarge"), memory, NOW)
    assert plan.state is State.DEGRADED
    assert plan.reason == status
    assert plan.action is None
    assert plan.poll is False
    assert plan.failed_config == NEW
    assert plan.deployment == {**in_progress(), "outcome": "Failed", "finishedAt": NOW}
    assert "capacity error" in plan.message
    assert reasons(plan) == [status]
    again = plan_endpoint(desired(), observed(status, OLD, reason="capacity error"),
                          EndpointMemory(known_arn=ARN, failed_config=NEW, deployment=plan.deployment), NOW)
    assert again.state is State.DEGRADED
    assert again.action is None
    assert again.events == ()


def test_rollback_failed_on_the_desired_config_is_not_ready_on_retry() -> None:
    """A retry of an endpoint stuck in UpdateRollbackFailed must not be reported as Ready/InService."""
    plan = plan_endpoint(desired(), observed("UpdateRollbackFailed", NEW, reason="rollback failed"),
                         EndpointMemory(known_arn=ARN, failed_config=NEW, retry_requested=True), NOW)
    assert plan.state is not State.READY
    assert plan.action is not None
    assert plan.action.kind is ActionKind.UPDATE


# --- memory_of, converged --------------------------------------------------------------------------------------


def endpoint(*, spec: Mapping[str, Any] | None = None, status: Mapping[str, Any] | None = None,
             annotations: Mapping[str, str] | None = None, name: str = "recommender", namespace: str = "ml",
             generation: int = 1, created: str = "2026-11-20T10:00:00Z", deleting: bool = False) -> KubeObject:
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "uid": f"uid-{namespace}-{name}",
                                "generation": generation, "resourceVersion": "1", "creationTimestamp": created,
                                "annotations": dict(annotations or {})}
    if deleting:
        metadata["deletionTimestamp"] = "2026-11-21T00:00:00Z"
    return KubeObject.from_body({"kind": ENDPOINT, "metadata": metadata,
                                 "spec": dict(spec if spec is not None else {"endpointConfigName": NEW}),
                                 "status": dict(status or {})})


def ready_conditions(generation: int = 1) -> dict[str, Any]:
    return {"observedGeneration": generation,
            "conditions": [{"type": "Ready", "status": "True", "reason": "x", "message": "x"}]}


def test_memory_of_reads_status_and_retry_annotation() -> None:
    status = {"endpointArn": ARN, "failedEndpointConfigName": NEW, "lastDeployment": in_progress(),
              "observedRetry": "1"}
    memory = memory_of(endpoint(status=status, annotations={RETRY_ANNOTATION: "2"}))
    assert memory == EndpointMemory(known_arn=ARN, failed_config=NEW, deployment=in_progress(), retry_requested=True)
    assert memory_of(endpoint(status=status, annotations={RETRY_ANNOTATION: "1"})).retry_requested is False
    assert memory_of(endpoint(status={"endpointArn": ""})) == EndpointMemory()


def test_converged_needs_ready_current_generation_and_matching_variants() -> None:
    status = {**ready_conditions(), "endpointName": "recommender", "currentEndpointConfigName": NEW,
              "productionVariants": [
                  {"variantName": "current", "currentWeight": 0.95, "desiredWeight": 0.95,
                   "currentInstanceCount": 2, "desiredInstanceCount": 2},
                  {"variantName": "candidate", "currentWeight": 0.05, "desiredWeight": 0.05,
                   "currentInstanceCount": 1, "desiredInstanceCount": 1}]}
    obj = endpoint(status=status)
    assert converged(obj, desired(), memory_of(obj)) is True
    assert converged(obj, desired(NEWER), memory_of(obj)) is False
    assert converged(endpoint(status=status, generation=2), desired(), EndpointMemory()) is False
    assert converged(obj, desired(), EndpointMemory(retry_requested=True)) is False
    moved = [VariantTarget("current", 0.5, 2), VariantTarget("candidate", 0.5, 1)]
    assert converged(obj, desired(variants=tuple(moved)), memory_of(obj)) is False


def test_converged_with_only_current_values_in_status() -> None:
    """Status rows carry only the members AWS answered (None values are dropped): a row with currentWeight and
    currentInstanceCount but no desired* members is compared on the current values, not as "weight unknown"."""
    status = {**ready_conditions(), "endpointName": "recommender", "currentEndpointConfigName": NEW,
              "productionVariants": [{"variantName": "current", "currentWeight": 0.95, "currentInstanceCount": 2},
                                     {"variantName": "candidate", "currentWeight": 0.05, "currentInstanceCount": 1}]}
    obj = endpoint(status=status)
    assert converged(obj, desired(), memory_of(obj)) is True
    scaled = (VariantTarget("current", 0.95, 4), VariantTarget("candidate", 0.05, 1))
    assert converged(obj, desired(variants=scaled), memory_of(obj)) is False


# --- resolve_endpoint ------------------------------------------------------------------------------------------


def context(*objects: KubeObject) -> ReconcileContext:
    store = ObjectStore()
    for obj in objects:
        store.put(obj)
    return ReconcileContext(gateway=cast(SageMakerGateway, object()), store=store,
                            settings=OperatorSettings(cluster_id="test", default_region="eu-west-1"))


def kube(kind: str, name: str, spec: Mapping[str, Any], status: Mapping[str, Any] | None = None,
         namespace: str = "ml") -> KubeObject:
    return KubeObject.from_body({"kind": kind, "metadata": {"name": name, "namespace": namespace, "uid": name,
                                                            "generation": 1}, "spec": dict(spec),
                                 "status": dict(status or {})})


CONFIG_SPEC: dict[str, Any] = {"productionVariants": [
    {"variantName": "current", "modelRef": {"name": "recommender-v1"}, "instanceType": "ml.m5.xlarge",
     "initialInstanceCount": 2, "initialVariantWeight": 0.95},
    {"variantName": "candidate", "modelName": "literal-model", "instanceType": "ml.m5.xlarge",
     "initialInstanceCount": 1, "initialVariantWeight": 0.05}]}


def test_resolve_with_a_literal_config_name_and_deployment_options() -> None:
    spec = {"endpointConfigName": "hand-made-config", "retainAllVariantProperties": True,
            "deploymentConfig": {"autoRollbackConfiguration": {"alarms": [{"alarmName": "errors"}]}}}
    got = resolve_endpoint(context(), endpoint(spec=spec))
    assert got.endpoint_name == "recommender"
    assert got.config_name == "hand-made-config"
    assert got.variants is None
    deployment = {"AutoRollbackConfiguration": {"Alarms": [{"AlarmName": "errors"}]}}
    assert dict(got.update_options) == {"RetainAllVariantProperties": True, "DeploymentConfig": deployment}
    assert dict(got.create_options) == {"DeploymentConfig": deployment}


def test_resolve_with_a_config_reference_takes_name_and_variants_from_the_ready_config() -> None:
    model = kube(MODEL, "recommender-v1", {}, {**ready_conditions(), "modelName": "recommender-v1-aaaaaaaaaa"})
    draft = kube(ENDPOINT_CONFIG, "recommender", CONFIG_SPEC)
    rendered = render_config(draft, "test", {"recommender-v1": "recommender-v1-aaaaaaaaaa"})
    config = kube(ENDPOINT_CONFIG, "recommender", CONFIG_SPEC, {**ready_conditions(),
                                                               "endpointConfigName": rendered.name})
    got = resolve_endpoint(context(model, config), endpoint(spec={"endpointConfigRef": {"name": "recommender"}}))
    assert got.config_name == rendered.name
    assert got.variants == (VariantTarget("current", 0.95, 2), VariantTarget("candidate", 0.05, 1))


def test_resolve_waits_for_a_config_that_is_not_ready() -> None:
    config = kube(ENDPOINT_CONFIG, "recommender", CONFIG_SPEC)
    with pytest.raises(WaitingForConfig):
        resolve_endpoint(context(config), endpoint(spec={"endpointConfigRef": {"name": "recommender"}}))


@pytest.mark.parametrize(("spec", "words"), [
    ({"endpointConfigRef": {"name": "nope"}}, "does not exist"),
    ({}, "exactly one"),
    ({"endpointConfigRef": {"name": "recommender"}, "endpointConfigName": "x"}, "exactly one"),
    ({"endpointName": "bad.name", "endpointConfigName": "x"}, "spec.endpointName"),
    ({"endpointName": "a" * 64, "endpointConfigName": "x"}, "not a valid"),
])
def test_resolve_rejects_bad_specs(spec: dict[str, Any], words: str) -> None:
    with pytest.raises(SpecProblem, match=re.escape(words)):
        resolve_endpoint(context(), endpoint(spec=spec))


def test_resolve_rejects_a_dotted_object_name_without_endpoint_name() -> None:
    with pytest.raises(SpecProblem, match=r"metadata\.name"):
        resolve_endpoint(context(), endpoint(name="my.endpoint"))


def test_endpoint_name_is_immutable() -> None:
    obj = endpoint(spec={"endpointName": "other", "endpointConfigName": NEW}, status={"endpointName": "recommender"})
    with pytest.raises(SpecProblem, match="immutable"):
        resolve_endpoint(context(obj), obj)


def test_first_created_claimant_of_an_endpoint_name_wins() -> None:
    first = endpoint(namespace="team-a", created="2026-11-01T00:00:00Z")
    second = endpoint(namespace="team-b", created="2026-11-02T00:00:00Z")
    other_region = endpoint(namespace="team-c", created="2026-10-01T00:00:00Z",
                            spec={"endpointConfigName": NEW, "region": "us-east-1"})
    ctx = context(first, second, other_region)
    assert resolve_endpoint(ctx, first).endpoint_name == "recommender"
    with pytest.raises(SpecProblem, match="team-a/recommender"):
        resolve_endpoint(ctx, second)
    # A claimant being deleted no longer counts.
    ctx.store.put(endpoint(namespace="team-a", created="2026-11-01T00:00:00Z", deleting=True))
    assert resolve_endpoint(ctx, second).endpoint_name == "recommender"


# --- one endpoint through several reconciles (fake gateway) ----------------------------------------------------


class FakeGateway:
    """Answers DescribeEndpoint from ``self.endpoint``; records the other calls."""

    def __init__(self, tags: dict[str, str]) -> None:
        self.endpoint: dict[str, Any] | None = None
        self.tags = tags
        self.calls: list[str] = []

    async def describe(self, target: Any, operation: str, **params: Any) -> dict[str, Any] | None:
        return dict(self.endpoint) if self.endpoint is not None else None

    async def list_tags(self, target: Any, arn: str) -> dict[str, str]:
        return dict(self.tags)

    async def call(self, target: Any, operation: str, **params: Any) -> dict[str, Any]:
        self.calls.append(operation)
        return {"EndpointArn": ARN}

    async def delete(self, target: Any, operation: str, **params: Any) -> bool:
        self.calls.append(operation)
        return True

    async def caller_account(self, target: Any) -> str:
        return ARN.split(":")[4]  # the operator's own account: where the endpoint is

    def service_url(self, target: Any, service: str) -> str:
        return "https://runtime.sagemaker.eu-west-1.amazonaws.com"


async def test_recreating_a_failed_endpoint_is_not_reported_as_drift() -> None:
    """Failed on NEW, spec moved to NEWER: the operator deletes the endpoint itself, waits while it is Deleting,
    then creates it again. Its own delete is not "deleted outside the operator"."""
    obj = endpoint(spec={"endpointConfigName": NEWER}, generation=2,
                   status={"endpointArn": ARN, "endpointName": "recommender", "failedEndpointConfigName": NEW,
                           "observedGeneration": 1})
    ctx = context(obj)
    fake = FakeGateway(ctx.tags(obj))
    ctx.gateway = cast(SageMakerGateway, fake)
    seen: list[str] = []
    for answer in (observed("Failed", NEW, reason="x"), observed("Deleting", NEW), None):
        fake.endpoint = answer
        outcome = await reconcile_endpoint(ctx, obj)
        seen.extend(event.reason for event in outcome.events)
        obj = endpoint(spec=obj.spec, generation=2, status=build_status(obj.status, outcome, 2, NOW))
    assert fake.calls == ["delete_endpoint", "create_endpoint"]
    assert outcome.state is State.PROGRESSING
    assert "DriftCorrected" not in seen
