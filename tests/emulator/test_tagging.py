"""The Resource Groups Tagging API's GetResources over the emulator's SageMaker resources, with plain boto3:
the wire protocol botocore uses, tag and type filters, the ARN list, the refusals, "ever tagged" resources and
pagination that nothing created or deleted between pages can make skip a resource."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from emulator_helpers import (
    ACCOUNT,
    IMAGE,
    REGION,
    ROLE,
    client,
    create_ic,
    error_of,
    ic_host,
    make_config,
)

import sagemaker_emulator.tagging
from sagemaker_emulator.admin import AdminClient
from sagemaker_emulator.server import EmulatorThread

ARN = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}"
INVALID = "InvalidParameterException"


@pytest.fixture
def tg(emulator: EmulatorThread) -> Any:
    return client(emulator, "resourcegroupstaggingapi")


@pytest.fixture
def tg_raw(emulator: EmulatorThread) -> Any:
    """No client-side parameter validation, so the server's validation is what answers."""
    return client(emulator, "resourcegroupstaggingapi", raw=True)


def aws_tags(**tags: str) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def tagged_model(sm: Any, name: str, **tags: str) -> str:
    """A model with ``tags`` (none: never tagged); returns its ARN."""
    extra = {"Tags": aws_tags(**tags)} if tags else {}
    return str(
        sm.create_model(ModelName=name, PrimaryContainer={"Image": IMAGE}, ExecutionRoleArn=ROLE, **extra)["ModelArn"]
    )


def listed(tg: Any, **params: Any) -> dict[str, dict[str, str]]:
    """ARN -> tags of every resource GetResources lists, walking all pages with botocore's paginator."""
    out: dict[str, dict[str, str]] = {}
    for page in tg.get_paginator("get_resources").paginate(**params):
        for mapping in page["ResourceTagMappingList"]:
            assert mapping["ResourceARN"] not in out, "a resource was listed twice"
            out[mapping["ResourceARN"]] = {t["Key"]: t["Value"] for t in mapping["Tags"]}
    return out


def names(tg: Any, **params: Any) -> set[str]:
    """Resource names (after the ``type/``) that GetResources lists."""
    return {arn.rsplit("/", 1)[1] for arn in listed(tg, **params)}


def assumed(emulator: EmulatorThread, role: str) -> dict[str, str]:
    """Client credentials of a session of ``role`` (its account is the role's)."""
    creds = client(emulator, "sts").assume_role(RoleArn=role, RoleSessionName="op")["Credentials"]
    return {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }


def fails(call: Callable[[], Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as exc:
        call()
    return error_of(exc)


# ------------------------------------------------------------------------------------------------ wire protocol
def test_botocore_sends_json_1_1_with_the_tagging_target(tg: Any) -> None:
    """The model lists smithy-rpc-v2-cbor first; botocore 1.44 still sends JSON 1.1. A botocore that switches to
    CBOR fails here rather than in a confusing routing error."""
    sent: list[dict[str, str]] = []

    def record(request: Any, **_: Any) -> None:
        sent.append({k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()})

    tg.meta.events.register("before-send.resource-groups-tagging-api.GetResources", record)
    answer = tg.get_resources()
    assert answer["ResourceTagMappingList"] == [] and answer["PaginationToken"] == ""
    assert len(sent) == 1
    assert sent[0]["Content-Type"] == "application/x-amz-json-1.1"
    assert sent[0]["X-Amz-Target"] == "ResourceGroupsTaggingAPI_20170126.GetResources"
    assert f"/{REGION}/tagging/aws4_request" in sent[0]["Authorization"]


def test_unimplemented_tagging_operations_answer_501(tg: Any) -> None:
    code, message, status = fails(lambda: tg.get_tag_keys())
    assert (code, status) == ("NotImplemented", 501) and "ResourceGroupsTaggingAPI_20170126.GetTagKeys" in message


# ------------------------------------------------------------------------------------------------ filters
def test_tag_filters_and_across_filters_or_across_values(sm: Any, tg: Any) -> None:
    tagged_model(sm, "a", owner="op", env="prod")
    tagged_model(sm, "b", owner="op", env="dev")
    tagged_model(sm, "c", owner="other", env="prod")
    tagged_model(sm, "d", team="x")
    tagged_model(sm, "e", owner="op", env="")
    tagged_model(sm, "never")

    def select(*filters: dict[str, Any]) -> set[str]:
        return names(tg, TagFilters=list(filters))

    assert select({"Key": "owner", "Values": ["op"]}) == {"a", "b", "e"}
    assert select({"Key": "owner", "Values": ["op", "other"]}) == {"a", "b", "c", "e"}
    assert select({"Key": "owner", "Values": ["op"]}, {"Key": "env", "Values": ["prod"]}) == {"a"}
    assert select({"Key": "owner", "Values": ["op"]}, {"Key": "env", "Values": ["prod", "dev"]}) == {"a", "b"}
    # Without values: the key with any value, the empty one included.
    assert select({"Key": "env"}) == {"a", "b", "c", "e"}
    assert select({"Key": "env", "Values": []}) == {"a", "b", "c", "e"}
    assert select({"Key": "owner", "Values": ["op"]}, {"Key": "env"}, {"Key": "team"}) == set()
    assert select({"Key": "env", "Values": [""]}) == {"e"}
    # Keys and values are case-sensitive.
    assert select({"Key": "owner", "Values": ["OP"]}) == set()
    assert select({"Key": "Owner"}) == set()
    assert select({"Key": "missing"}) == set()
    # Every tag of a matching resource comes back, not only the filtered ones.
    assert listed(tg, TagFilters=[{"Key": "owner", "Values": ["other"]}]) == {
        f"{ARN}:model/c": {"owner": "other", "env": "prod"}
    }


def test_filter_limits_are_the_models(sm: Any, tg_raw: Any) -> None:
    tagged_model(sm, "a", k="v")
    fifty = [{"Key": "k", "Values": ["v"]}] * 50
    assert [m["ResourceARN"] for m in tg_raw.get_resources(TagFilters=fifty)["ResourceTagMappingList"]] == [
        f"{ARN}:model/a"
    ]
    code, message, status = fails(lambda: tg_raw.get_resources(TagFilters=[*fifty, {"Key": "k"}]))
    assert (code, status) == (INVALID, 400)
    assert message.startswith("1 validation error detected: ") and "'tagFilters'" in message
    twenty = [str(n) for n in range(20)]
    assert tg_raw.get_resources(TagFilters=[{"Key": "k", "Values": twenty}])["ResourceTagMappingList"] == []
    code, message, _ = fails(lambda: tg_raw.get_resources(TagFilters=[{"Key": "k", "Values": [*twenty, "v"]}]))
    assert code == INVALID and "tagFilters.1.member.values" in message


def test_resource_type_filters_follow_the_arn(emulator: EmulatorThread, sm: Any, tg: Any) -> None:
    tags = aws_tags(owner="op")
    sm.create_model(ModelName="m", PrimaryContainer={"Image": IMAGE}, ExecutionRoleArn=ROLE, Tags=tags)
    make_config(sm, "cfg", ("v", "m", 1.0, 1), Tags=tags)
    sm.create_endpoint(EndpointName="ep", EndpointConfigName="cfg", Tags=tags)
    ic_host(sm, wait=True)
    create_ic(sm, Tags=tags)
    s3 = client(emulator, "s3")
    s3.create_bucket(Bucket="in-bucket")
    s3.put_object(Bucket="in-bucket", Key="data/a.json", Body=b"{}")
    sm.create_transform_job(
        TransformJobName="job",
        ModelName="m",
        TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://in-bucket/data/"}}},
        TransformOutput={"S3OutputPath": "s3://out-bucket/results"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        Tags=tags,
    )
    every = {
        f"{ARN}:model/m",
        f"{ARN}:endpoint-config/cfg",
        f"{ARN}:endpoint/ep",
        f"{ARN}:inference-component/ic",
        f"{ARN}:transform-job/job",
    }
    assert set(listed(tg)) == every  # the untagged host and its config are not listed
    assert set(listed(tg, ResourceTypeFilters=["sagemaker"])) == every

    def of_types(*types: str, **params: Any) -> set[str]:
        return set(listed(tg, ResourceTypeFilters=list(types), **params))

    assert of_types("sagemaker:endpoint") == {f"{ARN}:endpoint/ep"}
    assert of_types("sagemaker:endpoint-config") == {f"{ARN}:endpoint-config/cfg"}
    assert of_types("sagemaker:inference-component") == {f"{ARN}:inference-component/ic"}
    assert of_types("sagemaker:model", "sagemaker:transform-job") == {f"{ARN}:model/m", f"{ARN}:transform-job/job"}
    assert of_types("sagemaker:endpoint", TagFilters=[{"Key": "owner", "Values": ["other"]}]) == set()
    for other in ("ec2", "ec2:instance", "sagemaker:notebook-instance", "SageMaker", "sagemaker:Endpoint"):
        assert of_types(other) == set(), other
    assert of_types(*["ec2"] * 99, "sagemaker:model") == {f"{ARN}:model/m"}
    code, _, _ = fails(lambda: tg.get_resources(ResourceTypeFilters=["sagemaker"] * 101))
    assert code == INVALID


def test_only_the_callers_account_and_region(emulator: EmulatorThread, sm: Any, tg: Any) -> None:
    tagged_model(sm, "here", k="v")
    west = client(emulator, "sagemaker", region="us-west-2")
    tagged_model(west, "west", k="v")
    keys = assumed(emulator, "arn:aws:iam::111122223333:role/op")
    other = client(emulator, "sagemaker", **keys)
    tagged_model(other, "other", k="v")
    assert set(listed(tg)) == {f"{ARN}:model/here"}
    assert set(listed(client(emulator, "resourcegroupstaggingapi", region="us-west-2"))) == {
        f"arn:aws:sagemaker:us-west-2:{ACCOUNT}:model/west"
    }
    assert set(listed(client(emulator, "resourcegroupstaggingapi", **keys))) == {
        f"arn:aws:sagemaker:{REGION}:111122223333:model/other"
    }


# ------------------------------------------------------------------------------------------------ what is listed
def test_ever_tagged_resources_are_listed_with_empty_tags(sm: Any, tg: Any) -> None:
    cleared = tagged_model(sm, "cleared", a="1", b="2")
    never = tagged_model(sm, "never")
    later = tagged_model(sm, "later")
    sm.add_tags(ResourceArn=later, Tags=aws_tags(c="3"))
    assert listed(tg) == {cleared: {"a": "1", "b": "2"}, later: {"c": "3"}}
    sm.delete_tags(ResourceArn=cleared, TagKeys=["a", "b"])
    answer = tg.get_resources()
    assert {m["ResourceARN"]: m["Tags"] for m in answer["ResourceTagMappingList"]} == {
        cleared: [],
        later: [{"Key": "c", "Value": "3"}],
    }
    assert never not in listed(tg)
    # A tag filter needs the tag: a resource without tags never matches one.
    assert set(listed(tg, TagFilters=[{"Key": "a"}])) == set()
    # Deleted resources are gone, and a new resource of the same name has no tagging history.
    sm.delete_model(ModelName="cleared")
    assert set(listed(tg)) == {later}
    tagged_model(sm, "cleared")
    assert set(listed(tg)) == {later}


def test_deleted_endpoints_and_components_leave_once_deletion_finishes(sm: Any, tg: Any, admin: AdminClient) -> None:
    tags = aws_tags(owner="op")
    ic_host(sm, wait=True, Tags=tags)
    for name in ("ic1", "ic2"):
        create_ic(sm, name, Tags=tags)
    assert names(tg) == {"host", "ic1", "ic2"}
    admin.set_durations(delete=0.3)
    sm.delete_inference_component(InferenceComponentName="ic1")
    assert names(tg) == {"host", "ic1", "ic2"}  # Deleting: it still exists
    time.sleep(0.4)
    assert names(tg) == {"host", "ic2"}  # nothing but GetResources looked: it settles the component itself
    sm.delete_endpoint(EndpointName="host")
    assert names(tg) == {"host", "ic2"}
    time.sleep(0.4)
    assert names(tg) == set()  # the endpoint's components go with it


# ------------------------------------------------------------------------------------------------ ARN list
def test_resource_arn_list_answers_the_known_ones(sm: Any, tg: Any, tg_raw: Any) -> None:
    a = tagged_model(sm, "a", k="1")
    b = tagged_model(sm, "b", k="2")
    never = tagged_model(sm, "never")
    elsewhere = f"arn:aws:sagemaker:us-west-2:{ACCOUNT}:model/a"
    answer = tg.get_resources(ResourceARNList=[b, f"{ARN}:model/unknown", elsewhere, never, a, b])
    assert [m["ResourceARN"] for m in answer["ResourceTagMappingList"]] == [b, a]
    assert answer["PaginationToken"] == ""
    assert tg.get_resources(ResourceARNList=[a], IncludeComplianceDetails=True)["ResourceTagMappingList"][0][
        "ComplianceDetails"
    ]["ComplianceStatus"] is True
    # An empty PaginationToken is the documented "first page" value, not a pagination parameter.
    assert len(tg.get_resources(ResourceARNList=[a], PaginationToken="")["ResourceTagMappingList"]) == 1
    token = tg.get_resources(ResourcesPerPage=1)["PaginationToken"]
    assert token
    for extra in (
        {"TagFilters": [{"Key": "k"}]},
        {"ResourceTypeFilters": ["sagemaker:model"]},
        {"ResourcesPerPage": 10},
        {"TagsPerPage": 100},
        {"PaginationToken": token},
    ):
        code, message, status = fails(lambda extra=extra: tg.get_resources(ResourceARNList=[a], **extra))
        assert (code, status) == (INVALID, 400), extra
        assert "ResourceARNList" in message and next(iter(extra)) in message
    code, message, _ = fails(lambda: tg_raw.get_resources(ResourceARNList=[a] * 101))
    assert code == INVALID and "'resourceARNList'" in message
    code, _, _ = fails(lambda: tg_raw.get_resources(ResourceARNList=[]))
    assert code == INVALID


# ------------------------------------------------------------------------------------------------ refusals
@pytest.mark.parametrize(
    ("params", "accepted"),
    [
        ({"ResourcesPerPage": 0}, False),
        ({"ResourcesPerPage": 101}, False),
        ({"ResourcesPerPage": 1}, True),
        ({"ResourcesPerPage": 100}, True),
        ({"TagsPerPage": 99}, False),
        ({"TagsPerPage": 501}, False),
        ({"TagsPerPage": 100}, True),
        ({"TagsPerPage": 500}, True),
        ({"ExcludeCompliantResources": True}, False),
        ({"ExcludeCompliantResources": True, "IncludeComplianceDetails": False}, False),
        ({"ExcludeCompliantResources": True, "IncludeComplianceDetails": True}, True),
        ({"ExcludeCompliantResources": False}, True),
    ],
)
def test_page_sizes_and_compliance_flags(tg: Any, params: dict[str, Any], accepted: bool) -> None:
    if accepted:
        assert tg.get_resources(**params)["PaginationToken"] == ""
    else:
        code, message, status = fails(lambda: tg.get_resources(**params))
        assert (code, status) == (INVALID, 400)
        assert next(iter(params)) in message


def test_compliance_details_say_compliant(sm: Any, tg: Any) -> None:
    arn = tagged_model(sm, "a", k="v")
    mapping = tg.get_resources(IncludeComplianceDetails=True)["ResourceTagMappingList"]
    assert mapping == [
        {
            "ResourceARN": arn,
            "Tags": [{"Key": "k", "Value": "v"}],
            "ComplianceDetails": {"NoncompliantKeys": [], "KeysWithNoncompliantValues": [], "ComplianceStatus": True},
        }
    ]
    assert "ComplianceDetails" not in tg.get_resources()["ResourceTagMappingList"][0]
    # No tag policy: every resource is compliant, so excluding compliant ones leaves nothing.
    answer = tg.get_resources(IncludeComplianceDetails=True, ExcludeCompliantResources=True)
    assert answer["ResourceTagMappingList"] == [] and answer["PaginationToken"] == ""


# ------------------------------------------------------------------------------------------------ pagination
def test_pages_skip_nothing_that_existed_throughout(sm: Any, tg: Any) -> None:
    arns = [tagged_model(sm, f"m{n:03d}", owner="op") for n in range(130)]
    selection = {"TagFilters": [{"Key": "owner", "Values": ["op"]}], "ResourcesPerPage": 100}
    first = tg.get_resources(**selection)
    seen = [m["ResourceARN"] for m in first["ResourceTagMappingList"]]
    assert len(seen) == 100 and first["PaginationToken"]
    # Between the pages: two resources already listed and one not yet listed are deleted; one resource is
    # created before the position reached and one after it. A page token that was an offset would skip m100.
    for name in ("m005", "m006", "m120"):
        sm.delete_model(ModelName=name)
    tagged_model(sm, "a-new", owner="op")
    tagged_model(sm, "z-new", owner="op")
    second = tg.get_resources(**selection, PaginationToken=first["PaginationToken"])
    seen += [m["ResourceARN"] for m in second["ResourceTagMappingList"]]
    assert second["PaginationToken"] == ""
    assert len(seen) == len(set(seen)), "a resource was listed twice"
    throughout = set(arns) - {f"{ARN}:model/m005", f"{ARN}:model/m006", f"{ARN}:model/m120"}
    assert throughout <= set(seen), sorted(throughout - set(seen))
    assert f"{ARN}:model/m120" not in seen  # deleted before its page came
    assert f"{ARN}:model/z-new" in seen  # created after the position reached


def test_the_paginator_walks_to_the_empty_token(sm: Any, tg: Any) -> None:
    arns = {tagged_model(sm, f"m{n:02d}", k="v") for n in range(22)}
    pages = list(tg.get_paginator("get_resources").paginate(PaginationConfig={"PageSize": 7}))
    assert [len(p["ResourceTagMappingList"]) for p in pages] == [7, 7, 7, 1]
    assert [p["PaginationToken"] for p in pages][-1] == ""
    assert all(p["PaginationToken"] for p in pages[:-1])
    assert {m["ResourceARN"] for p in pages for m in p["ResourceTagMappingList"]} == arns
    # An exact multiple of the page size ends on a full page, not on an extra empty one.
    pages = list(tg.get_paginator("get_resources").paginate(ResourcesPerPage=11))
    assert [(len(p["ResourceTagMappingList"]), bool(p["PaginationToken"])) for p in pages] == [(11, True), (11, False)]


def test_tags_per_page_never_splits_a_resource(sm: Any, tg: Any) -> None:
    # AWS's own example: 22 resources with 10 tags each and TagsPerPage 100 give pages of 10, 10 and 2.
    ten = {f"k{n}": str(n) for n in range(10)}
    for n in range(22):
        tagged_model(sm, f"m{n:02d}", **ten)
    pages = list(tg.get_paginator("get_resources").paginate(TagsPerPage=100))
    assert [len(p["ResourceTagMappingList"]) for p in pages] == [10, 10, 2]
    assert all(len(m["Tags"]) == 10 for p in pages for m in p["ResourceTagMappingList"])
    # Both limits apply.
    for per_page, sizes in ((12, [10, 10, 2]), (4, [4, 4, 4, 4, 4, 2])):
        pages = list(tg.get_paginator("get_resources").paginate(TagsPerPage=100, ResourcesPerPage=per_page))
        assert [len(p["ResourceTagMappingList"]) for p in pages] == sizes


def test_a_resource_without_tags_counts_as_one_tag(sm: Any, tg: Any) -> None:
    cleared = tagged_model(sm, "a0", k="v")
    sm.delete_tags(ResourceArn=cleared, TagKeys=["k"])
    fifty = {f"k{n}": "v" for n in range(50)}
    tagged_model(sm, "a1", **fifty)
    tagged_model(sm, "a2", **fifty)
    # 1 + 50 fits in 100 tags, 1 + 50 + 50 does not: the third resource starts the next page.
    pages = list(tg.get_paginator("get_resources").paginate(TagsPerPage=100))
    assert [[m["ResourceARN"].rsplit("/", 1)[1] for m in p["ResourceTagMappingList"]] for p in pages] == [
        ["a0", "a1"],
        ["a2"],
    ]


def test_invalid_and_expired_tokens(sm: Any, tg: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    for n in range(3):
        tagged_model(sm, f"m{n}", k="v")
    for token in ("garbage", "eyJ9", "e30="):
        code, message, status = fails(lambda token=token: tg.get_resources(PaginationToken=token))
        assert (code, status) == (INVALID, 400) and "PaginationToken" in message
    token = tg.get_resources(ResourcesPerPage=1)["PaginationToken"]
    assert len(tg.get_resources(ResourcesPerPage=1, PaginationToken=token)["ResourceTagMappingList"]) == 1
    monkeypatch.setattr(sagemaker_emulator.tagging, "TOKEN_LIFETIME", -1.0)
    code, _, status = fails(lambda: tg.get_resources(ResourcesPerPage=1, PaginationToken=token))
    assert (code, status) == ("PaginationTokenExpiredException", 400)


# ------------------------------------------------------------------------------------------------ admin path
def test_counters_and_faults_see_get_resources(tg: Any, admin: AdminClient) -> None:
    admin.reset_counters()
    tg.get_resources()
    admin.set_fault("GetResources", throttle_rate=1.0, count=1)
    code, _, status = fails(lambda: tg.get_resources())
    assert (code, status) == ("ThrottledException", 400)  # the Tagging API's name for throttling
    admin.set_fault("GetResources", error_rate=1.0, count=1)
    code, _, status = fails(lambda: tg.get_resources())
    assert (code, status) == ("InternalServiceException", 500)
    tg.get_resources()
    counters = admin.counters()
    assert counters["operations"]["GetResources"] == 4
    assert sum(counters["operation_errors"]["GetResources"].values()) == 2


def test_a_revoked_session_is_denied_the_tag_action(emulator: EmulatorThread, admin: AdminClient) -> None:
    role = "arn:aws:iam::111122223333:role/op"
    tagging = client(emulator, "resourcegroupstaggingapi", **assumed(emulator, role))
    tagging.get_resources()
    admin.revoke_sessions(role)
    code, message, status = fails(lambda: tagging.get_resources())
    assert (code, status) == ("AccessDeniedException", 400)
    assert "not authorized to perform: tag:GetResources with an explicit deny" in message
