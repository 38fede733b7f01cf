"""Drift checks by the page (reconcile/drift.py, pure): which objects a sweep's listing shows different from their
status, and the AWS timestamps status records."""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from sagemaker_operator.aws.clients import AwsTarget
from sagemaker_operator.reconcile.drift import (
    Listing,
    Seen,
    Suspect,
    aws_time,
    by_place,
    kinds_present,
    plan_sweep,
    recorded,
)
from sagemaker_operator.reconcile.objects import (
    ENDPOINT,
    ENDPOINT_CONFIG,
    INFERENCE_COMPONENT,
    MODEL,
    KubeObject,
    ObjectRef,
)

READY = [{"type": "Ready", "status": "True"}]
MODIFIED = "2026-12-01T10:00:00.250000+00:00"
TAGS = {"sagemaker.operator.dev/cluster": "c", "team": "ml"}


def obj(kind: str, name: str, status: Mapping[str, Any], *, generation: int = 1, deleting: bool = False
        ) -> KubeObject:
    return KubeObject(kind=kind, namespace="ml", name=name, uid=f"u-{name}", generation=generation,
                      resource_version="1", spec={}, status={"observedGeneration": 1, "conditions": READY, **status},
                      annotations={}, finalizers=(), deleting=deleting)


def endpoint(name: str, **status: Any) -> KubeObject:
    return obj(ENDPOINT, name, {"endpointName": name, "endpointArn": f"arn:aws:sagemaker:r:1:endpoint/{name}",
                                "endpointStatus": "InService", "lastModifiedTime": MODIFIED, **status})


def component(name: str, **status: Any) -> KubeObject:
    return obj(INFERENCE_COMPONENT, name, {
        "inferenceComponentName": name, "inferenceComponentArn": f"arn:aws:sagemaker:r:1:inference-component/{name}",
        "inferenceComponentStatus": "InService", "lastModifiedTime": MODIFIED, **status})


def listing(**overrides: Any) -> Listing:
    names = ("same", "modified", "updating", "gone", "retagged", "untagged")
    seen = {n: Seen("InService", MODIFIED) for n in names if n != "gone"}
    seen["modified"] = Seen("InService", "2026-12-01T11:00:00+00:00")
    seen["updating"] = Seen("Updating", MODIFIED)
    tags = {f"arn:aws:sagemaker:r:1:endpoint/{n}": dict(TAGS) for n in names if n != "untagged"}
    tags["arn:aws:sagemaker:r:1:endpoint/retagged"] = {**TAGS, "team": "changed outside"}
    return Listing(**{"endpoints": seen, "tags": tags, **overrides})


def found(suspects: list[Suspect]) -> dict[str, tuple[str, bool]]:
    return {s.ref.name: (s.why, s.compare_tags) for s in suspects}


def test_only_what_differs_from_status_is_suspect() -> None:
    names = ("same", "modified", "updating", "gone", "retagged", "untagged")
    suspects = plan_sweep([(endpoint(n), TAGS) for n in names], listing())
    assert found(suspects) == {"modified": ("modified", False), "updating": ("state", False),
                               "gone": ("missing", False), "retagged": ("tags", True),
                               "untagged": ("tags", True)}
    assert all(s.ref.kind == ENDPOINT for s in suspects)


def test_tags_are_compared_only_when_listed_and_aws_own_tags_are_ignored() -> None:
    retagged = [(endpoint("retagged"), TAGS)]
    assert plan_sweep(retagged, listing(tags=None)) == []
    system = listing(tags={"arn:aws:sagemaker:r:1:endpoint/same": {**TAGS, "aws:cloudformation:stack-name": "s"}})
    assert plan_sweep([(endpoint("same"), TAGS)], system) == []
    # A difference in state and in tags: one suspect, which compares tags too.
    both = listing(tags={})
    assert found(plan_sweep([(endpoint("modified"), TAGS)], both)) == {"modified": ("modified", True)}


def test_objects_that_are_not_ready_on_their_spec_are_left_to_their_own_passes() -> None:
    working = obj(ENDPOINT, "gone", {"endpointName": "gone", "endpointArn": "a", "conditions": [
        {"type": "Ready", "status": "False"}]})
    changed = endpoint("gone", observedGeneration=1)
    changed = KubeObject(**{**changed.__dict__, "generation": 2})
    deleting = KubeObject(**{**endpoint("gone").__dict__, "deleting": True})
    never_created = endpoint("gone", endpointArn=None)
    for candidate in (working, changed, deleting, never_created):
        assert recorded(candidate) is None
        assert plan_sweep([(candidate, TAGS)], listing()) == []
    assert kinds_present([working, changed]) == frozenset()


def test_models_and_configs_are_suspect_only_when_their_current_revision_is_missing() -> None:
    model = obj(MODEL, "m", {"modelName": "m-1", "modelArn": "arn:m-1"})
    config = obj(ENDPOINT_CONFIG, "c", {"endpointConfigName": "c-1", "endpointConfigArn": "arn:c-1"})
    everything = Listing(models=frozenset({"m-1"}), configs=frozenset({"c-1"}), tags={})
    assert plan_sweep([(model, {}), (config, {})], everything) == []
    gone = Listing(models=frozenset({"m-0"}), configs=frozenset())
    assert found(plan_sweep([(model, {}), (config, {})], gone)) == {"m": ("missing", False), "c": ("missing", False)}
    # Not listed (None): nothing is concluded.
    assert plan_sweep([(model, {}), (config, {})], Listing()) == []


def test_components_are_compared_like_endpoints() -> None:
    components = Listing(components={"ic": Seen("InService", MODIFIED)},
                         tags={"arn:aws:sagemaker:r:1:inference-component/ic": TAGS})
    assert plan_sweep([(component("ic"), TAGS)], components) == []
    failed = Listing(components={"ic": Seen("Failed", MODIFIED)})
    assert found(plan_sweep([(component("ic"), TAGS)], failed)) == {"ic": ("state", False)}
    assert found(plan_sweep([(component("ic"), TAGS)], Listing(components={}))) == {"ic": ("missing", False)}


def test_objects_are_grouped_by_place_and_kinds_to_list() -> None:
    east, west = AwsTarget("us-east-1"), AwsTarget("eu-west-1", "arn:aws:iam::1:role/r")
    model = obj(MODEL, "m", {"modelName": "m-1", "modelArn": "arn:m-1"})
    places = by_place([(endpoint("a"), east), (model, west), (endpoint("b"), None), (component("ic"), east)])
    assert {t: [o.name for o in objs] for t, objs in places.items()} == {east: ["a", "ic"], west: ["m"]}
    assert kinds_present(places[east]) == frozenset({ENDPOINT, INFERENCE_COMPONENT})
    assert ObjectRef(ENDPOINT, "ml", "a") == places[east][0].ref


def test_aws_time_is_one_spelling_for_the_list_and_the_describe() -> None:
    aware = datetime.datetime(2026, 12, 1, 10, 0, 0, 250000, tzinfo=datetime.UTC)
    assert aws_time(aware) == MODIFIED
    assert aws_time(aware.replace(tzinfo=None)) == MODIFIED
    assert aws_time(aware.astimezone(datetime.timezone(datetime.timedelta(hours=2)))) == MODIFIED
    assert aws_time(aware.timestamp()) == MODIFIED
    assert aws_time(None) is None
