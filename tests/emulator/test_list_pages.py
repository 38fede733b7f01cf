"""The SageMaker List* calls a drift check pages through (ListEndpoints, ListModels, ListEndpointConfigs,
ListInferenceComponents): filters, sorting, pages that a create or delete between calls cannot make skip a
resource, botocore's paginators, and when LastModifiedTime changes."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_helpers import IMAGE, IMAGE2, ROLE, error_of, make_config, make_endpoint, make_model, wait_until

from sagemaker_emulator.admin import AdminClient

# (operation, result key, name key, how to create one resource named NAME)
KINDS: list[tuple[str, str, str, Callable[[Any, str], None]]] = [
    ("list_models", "Models", "ModelName", lambda sm, name: make_model(sm, name)),
    (
        "list_endpoint_configs",
        "EndpointConfigs",
        "EndpointConfigName",
        lambda sm, name: make_config(sm, name, ("v", "base", 1.0, 1)),
    ),
]


def fails(call: Callable[[], Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as exc:
        call()
    return error_of(exc)


def listed(sm: Any, operation: str, key: str, name_key: str, **params: Any) -> list[str]:
    """Names in order, walking every page with botocore's paginator."""
    pages = sm.get_paginator(operation).paginate(**params)
    return [item[name_key] for page in pages for item in page[key]]


def ic_host(sm: Any, name: str, *variants: str) -> None:
    sm.create_endpoint_config(
        EndpointConfigName=f"{name}-cfg",
        ExecutionRoleArn=ROLE,
        ProductionVariants=[
            {"VariantName": v, "InstanceType": "ml.g5.12xlarge", "InitialInstanceCount": 1} for v in variants
        ],
    )
    sm.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-cfg")
    wait_until(lambda: sm.describe_endpoint(EndpointName=name)["EndpointStatus"] == "InService")


def make_ic(sm: Any, name: str, host: str, variant: str, image: str = IMAGE) -> None:
    sm.create_inference_component(
        InferenceComponentName=name,
        EndpointName=host,
        VariantName=variant,
        Specification={"Container": {"Image": image}, "ComputeResourceRequirements": {"MinMemoryRequiredInMb": 1024}},
        RuntimeConfig={"CopyCount": 1},
    )


# ------------------------------------------------------------------------------------------------ pagination
@pytest.mark.parametrize(("operation", "key", "name_key", "create"), KINDS, ids=[k[0] for k in KINDS])
@pytest.mark.parametrize("order", [{}, {"SortBy": "Name", "SortOrder": "Ascending"}], ids=["newest-first", "name"])
def test_pages_of_a_hundred_skip_nothing_that_existed_throughout(
    sm: Any, operation: str, key: str, name_key: str, create: Callable[[Any, str], None], order: dict[str, str]
) -> None:
    make_model(sm, "base")
    created = [f"r{n:03d}" for n in range(130)]
    for name in created:
        create(sm, name)
    delete = getattr(sm, operation.replace("list_", "delete_")[:-1])
    first = getattr(sm, operation)(MaxResults=100, **order)
    seen = [item[name_key] for item in first[key]]
    assert len(seen) == 100 and first["NextToken"]
    # Between the pages: two resources already listed are deleted, and one is created (it sorts first in both
    # orders: newest, and "a..." by name). A page token that was an offset would now skip one resource.
    gone = {seen[5], seen[6]}
    for name in gone:
        delete(**{name_key: name})
    create(sm, "a-new")
    second = getattr(sm, operation)(MaxResults=100, NextToken=first["NextToken"], **order)
    assert "NextToken" not in second
    seen += [item[name_key] for item in second[key]]
    assert len(seen) == len(set(seen)), "a resource was listed twice"
    throughout = (set(created) | {"base"}) - gone if operation == "list_models" else set(created) - gone
    assert throughout <= set(seen), sorted(throughout - set(seen))


def test_list_endpoints_pages_survive_deletes_and_the_paginator_walks_to_the_end(sm: Any) -> None:
    make_model(sm, "m")
    make_config(sm, "c", ("v", "m", 1.0, 1))
    created = [f"ep-{n:02d}" for n in range(23)]
    for name in created:
        sm.create_endpoint(EndpointName=name, EndpointConfigName="c")
    pages = list(sm.get_paginator("list_endpoints").paginate(PaginationConfig={"PageSize": 10}))
    assert [len(p["Endpoints"]) for p in pages] == [10, 10, 3]
    assert "NextToken" not in pages[-1]
    # Newest first by default.
    assert [e["EndpointName"] for p in pages for e in p["Endpoints"]] == created[::-1]
    first = sm.list_endpoints(MaxResults=10, SortBy="Name", SortOrder="Ascending")
    for name in ("ep-00", "ep-03"):
        sm.delete_endpoint(EndpointName=name)
    sm.create_endpoint(EndpointName="a-new", EndpointConfigName="c")
    rest: list[str] = []
    token = first["NextToken"]
    while token:
        page = sm.list_endpoints(MaxResults=10, SortBy="Name", SortOrder="Ascending", NextToken=token)
        rest += [e["EndpointName"] for e in page["Endpoints"]]
        token = page.get("NextToken")
    assert rest == created[10:]


def test_a_token_is_opaque_and_belongs_to_its_order(sm: Any) -> None:
    for n in range(3):
        make_model(sm, f"m{n}")
    token = sm.list_models(MaxResults=1, SortBy="Name")["NextToken"]
    assert not token.isdigit()
    assert [m["ModelName"] for m in sm.list_models(MaxResults=5, SortBy="Name", NextToken=token)["Models"]] == [
        "m1",
        "m0",
    ]
    for params in ({"SortBy": "CreationTime"}, {"SortBy": "Name", "SortOrder": "Ascending"}, {}):
        code, message, status = fails(lambda params=params: sm.list_models(NextToken=token, **params))
        assert (code, status) == ("ValidationException", 400) and "pagination token" in message, params
    for garbage in ("1", "garbage", "e30="):
        assert fails(lambda garbage=garbage: sm.list_endpoints(NextToken=garbage))[0] == "ValidationException"


# ------------------------------------------------------------------------------------------------ filters
def test_list_endpoints_filters_and_sorting(sm: Any, admin: AdminClient) -> None:
    make_model(sm, "m")
    make_config(sm, "c", ("v", "m", 1.0, 1))
    make_model(sm, "broken", "123456789012.dkr.ecr.us-east-1.amazonaws.com/fail:1")
    make_config(sm, "bad-c", ("v", "broken", 1.0, 1))
    for name in ("e1", "e2", "e3"):
        sm.create_endpoint(EndpointName=name, EndpointConfigName="c")
        time.sleep(0.002)
    sm.create_endpoint(EndpointName="bad", EndpointConfigName="bad-c")
    created = {e["EndpointName"]: e["CreationTime"] for e in sm.list_endpoints()["Endpoints"]}

    def names(**params: Any) -> list[str]:
        return [e["EndpointName"] for e in sm.list_endpoints(**params)["Endpoints"]]

    # A time read back from a response and passed as a bound leaves that resource out on both sides.
    assert names(CreationTimeAfter=created["e1"], SortOrder="Ascending") == ["e2", "e3", "bad"]
    assert names(CreationTimeBefore=created["e3"], SortOrder="Ascending") == ["e1", "e2"]
    assert names(CreationTimeAfter=created["e1"], CreationTimeBefore=created["e3"]) == ["e2"]
    assert names(NameContains="e", SortBy="Name", SortOrder="Ascending") == ["e1", "e2", "e3"]
    assert names(SortBy="Name", SortOrder="Descending") == ["e3", "e2", "e1", "bad"]
    assert names(StatusEquals="Failed") == ["bad"]
    assert names(StatusEquals="InService", SortBy="Name", SortOrder="Ascending") == ["e1", "e2", "e3"]
    assert names(SortBy="Status", SortOrder="Ascending")[0] == "bad"  # Failed < InService
    # LastModifiedTime: only the endpoint changed since.
    before_update = {e["EndpointName"]: e["LastModifiedTime"] for e in sm.list_endpoints()["Endpoints"]}
    time.sleep(0.002)
    sm.update_endpoint_weights_and_capacities(
        EndpointName="e1", DesiredWeightsAndCapacities=[{"VariantName": "v", "DesiredWeight": 2.0}]
    )
    latest = max(before_update.values())
    assert names(LastModifiedTimeAfter=latest) == ["e1"]
    unchanged_before = sorted(n for n, t in before_update.items() if t < latest and n != "e1")
    assert unchanged_before and sorted(names(LastModifiedTimeBefore=latest)) == unchanged_before
    assert names(LastModifiedTimeAfter=latest + timedelta(hours=1)) == []


def test_list_models_and_configs_filters(sm: Any) -> None:
    for name in ("alpha", "beta", "alphabet"):
        make_model(sm, name)
        make_config(sm, f"{name}-cfg", ("v", name, 1.0, 1))
        time.sleep(0.002)
    models = {m["ModelName"]: m["CreationTime"] for m in sm.list_models()["Models"]}
    assert [m["ModelName"] for m in sm.list_models(NameContains="alpha", SortBy="Name", SortOrder="Ascending")[
        "Models"]] == ["alpha", "alphabet"]
    assert [m["ModelName"] for m in sm.list_models(CreationTimeAfter=models["alpha"])["Models"]] == [
        "alphabet",
        "beta",
    ]
    assert [m["ModelName"] for m in sm.list_models(CreationTimeBefore=models["alphabet"])["Models"]] == [
        "beta",
        "alpha",
    ]
    configs = sm.list_endpoint_configs(NameContains="bet", SortBy="Name", SortOrder="Descending")["EndpointConfigs"]
    assert [c["EndpointConfigName"] for c in configs] == ["beta-cfg", "alphabet-cfg"]


def test_list_inference_components_filters_and_pages(sm: Any) -> None:
    ic_host(sm, "host-a", "main", "alt")
    ic_host(sm, "host-b", "main")
    make_ic(sm, "a-main", "host-a", "main")
    make_ic(sm, "a-alt", "host-a", "alt")
    make_ic(sm, "b-main", "host-b", "main")
    make_ic(sm, "b-bad", "host-b", "main", image="123456789012.dkr.ecr.us-east-1.amazonaws.com/fail:1")

    def names(**params: Any) -> set[str]:
        return set(listed(sm, "list_inference_components", "InferenceComponents", "InferenceComponentName", **params))

    assert names() == {"a-main", "a-alt", "b-main", "b-bad"}
    assert names(EndpointNameEquals="host-a") == {"a-main", "a-alt"}
    assert names(VariantNameEquals="main") == {"a-main", "b-main", "b-bad"}
    assert names(EndpointNameEquals="host-a", VariantNameEquals="alt") == {"a-alt"}
    assert names(EndpointNameEquals="host-b", StatusEquals="Failed") == {"b-bad"}
    assert names(NameContains="main") == {"a-main", "b-main"}
    assert names(EndpointNameEquals="nowhere") == set()
    assert listed(
        sm, "list_inference_components", "InferenceComponents", "InferenceComponentName",
        SortBy="Name", SortOrder="Ascending", PaginationConfig={"PageSize": 1},
    ) == ["a-alt", "a-main", "b-bad", "b-main"]
    summary = sm.list_inference_components(NameContains="a-alt")["InferenceComponents"][0]
    assert (summary["EndpointName"], summary["VariantName"], summary["InferenceComponentStatus"]) == (
        "host-a",
        "alt",
        "InService",
    )


# ------------------------------------------------------------------------------------------------ LastModifiedTime
def test_endpoint_last_modified_time_moves_with_updates_only(sm: Any, admin: AdminClient) -> None:
    make_endpoint(sm, "ep")
    make_model(sm, "m2", IMAGE2)
    make_config(sm, "c2", ("AllTraffic", "m2", 1.0, 1))
    admin.set_durations(update=0.3)

    def modified() -> Any:
        described = sm.describe_endpoint(EndpointName="ep")["LastModifiedTime"]
        assert sm.list_endpoints()["Endpoints"][0]["LastModifiedTime"] == described
        return described

    def in_service() -> Any:
        wait_until(lambda: sm.describe_endpoint(EndpointName="ep")["EndpointStatus"] == "InService")
        return modified()

    created = modified()
    arn = sm.describe_endpoint(EndpointName="ep")["EndpointArn"]
    time.sleep(0.01)
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "k", "Value": "v"}])
    sm.delete_tags(ResourceArn=arn, TagKeys=["k"])
    assert modified() == modified() == created  # tags and Describes leave it alone

    sm.update_endpoint_weights_and_capacities(
        EndpointName="ep", DesiredWeightsAndCapacities=[{"VariantName": "AllTraffic", "DesiredInstanceCount": 3}]
    )
    accepted = modified()
    assert accepted > created
    finished = in_service()
    assert finished >= accepted + timedelta(seconds=0.25)
    time.sleep(0.01)
    assert modified() == finished

    sm.update_endpoint(EndpointName="ep", EndpointConfigName="c2")
    accepted = modified()
    assert accepted > finished
    finished = in_service()
    assert finished >= accepted + timedelta(seconds=0.25)
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "k", "Value": "v"}])
    assert modified() == finished


def test_component_last_modified_time_moves_with_updates_only(sm: Any, admin: AdminClient) -> None:
    ic_host(sm, "host", "main")
    make_ic(sm, "ic", "host", "main")

    def modified() -> Any:
        described = sm.describe_inference_component(InferenceComponentName="ic")["LastModifiedTime"]
        assert sm.list_inference_components()["InferenceComponents"][0]["LastModifiedTime"] == described
        return described

    def in_service() -> Any:
        wait_until(
            lambda: sm.describe_inference_component(InferenceComponentName="ic")["InferenceComponentStatus"]
            == "InService"
        )
        return modified()

    created = in_service()
    arn = sm.describe_inference_component(InferenceComponentName="ic")["InferenceComponentArn"]
    admin.set_durations(update=0.3)
    time.sleep(0.01)
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "k", "Value": "v"}])
    sm.delete_tags(ResourceArn=arn, TagKeys=["k"])
    assert modified() == modified() == created

    sm.update_inference_component_runtime_config(InferenceComponentName="ic", DesiredRuntimeConfig={"CopyCount": 2})
    accepted = modified()
    assert accepted > created
    finished = in_service()
    assert finished >= accepted + timedelta(seconds=0.25)

    sm.update_inference_component(
        InferenceComponentName="ic",
        Specification={"Container": {"Image": IMAGE2}, "ComputeResourceRequirements": {"MinMemoryRequiredInMb": 1024}},
    )
    accepted = modified()
    assert accepted > finished
    finished = in_service()
    assert finished >= accepted + timedelta(seconds=0.25)
    time.sleep(0.01)
    assert modified() == finished
