"""AWS names, ownership tags, revision history, object snapshots and the per-object scheduling in the context."""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Mapping
from typing import Any, cast

import pytest

from sagemaker_operator.aws.clients import AwsTarget
from sagemaker_operator.aws.errors import AwsFailure, FailureKind
from sagemaker_operator.aws.gateway import SageMakerGateway
from sagemaker_operator.reconcile.context import (
    QUIET_MISSING_SECONDS,
    QUIET_WAIT_SECONDS,
    MissingReference,
    OperatorSettings,
    ReconcileContext,
    SpecProblem,
    Waiting,
    recorded_location,
    settling,
)
from sagemaker_operator.reconcile.failures import RetryLater
from sagemaker_operator.reconcile.naming import (
    AWS_NAME_MAX,
    HASH_LENGTH,
    content_hash,
    revision_name,
    revision_of,
    sanitize,
    valid_aws_name,
)
from sagemaker_operator.reconcile.objects import (
    ENDPOINT,
    ENDPOINT_CONFIG,
    INFERENCE_COMPONENT,
    INTERNED_LENGTH,
    MODEL,
    TRANSFORM_JOB,
    KubeObject,
    ObjectRef,
    ObjectStore,
    compact_copy,
    config_ref,
    model_refs,
    references,
)
from sagemaker_operator.reconcile.ownership import (
    CLUSTER_TAG,
    KIND_TAG,
    NAME_TAG,
    NAMESPACE_TAG,
    TAG_PREFIX,
    UID_TAG,
    Owner,
    as_aws_tags,
    desired_tags,
)
from sagemaker_operator.reconcile.revisions import collectable, record_revision

DIGEST = "0123456789"

# --- naming ----------------------------------------------------------------------------------------------------


def test_content_hash_is_stable_and_ignores_key_order() -> None:
    a = content_hash({"b": [1, 2], "a": {"y": 1, "x": b"blob"}})
    b = content_hash({"a": {"x": b"blob", "y": 1}, "b": [1, 2]})
    assert a == b
    assert len(a) == HASH_LENGTH
    assert all(c in "0123456789abcdef" for c in a)
    assert content_hash({"b": [2, 1], "a": {"y": 1, "x": b"blob"}}) != a


@pytest.mark.parametrize(("name", "expected"), [
    ("recommender", "recommender"),
    ("recommender.v1", "recommender-v1"),
    ("a..b", "a-b"),
    (".leading.and.trailing.", "leading-and-trailing"),
    ("...", "x"),
    ("a_b c", "a-b-c"),
])
def test_sanitize(name: str, expected: str) -> None:
    assert sanitize(name) == expected


@pytest.mark.parametrize("name", [
    "m",
    "recommender",
    "a" * 52,
    "a" * 53,
    "a" * 253,
    "recommender.v1.production.eu-west-1.very-long-team-name.example.com",
    "a" * 51 + "-b" * 20,
    "a" * 51 + ".b",
    "0-" * 60,
])
def test_revision_names_fit_aws(name: str) -> None:
    aws = revision_name(name, DIGEST)
    assert len(aws) <= AWS_NAME_MAX
    assert valid_aws_name(aws), aws
    assert aws.endswith(f"-{DIGEST}")
    assert revision_of(aws, name) == DIGEST


def test_short_revision_name_keeps_the_whole_object_name() -> None:
    assert revision_name("recommender-v1", DIGEST) == f"recommender-v1-{DIGEST}"
    assert revision_name("a" * 53, DIGEST) == "a" * 52 + f"-{DIGEST}"


def test_revision_of_rejects_other_objects_and_foreign_names() -> None:
    assert revision_of(f"recommender-v1-{DIGEST}", "recommender") is None
    assert revision_of(f"recommender-{DIGEST}", "recommender-v1") is None
    assert revision_of("recommender-abc", "recommender") is None
    assert revision_of("recommender", "recommender") is None
    assert revision_of(f"recommender-{DIGEST}", "recommender") == DIGEST


@pytest.mark.parametrize(("name", "valid"), [
    ("a", True),
    ("a" * 63, True),
    ("a" * 64, False),
    ("a-b--c", True),
    ("-a", False),
    ("a-", False),
    ("a.b", False),
    ("a_b", False),
    ("", False),
    ("9Z", True),
])
def test_valid_aws_name(name: str, valid: bool) -> None:
    assert valid_aws_name(name) is valid


# --- ownership -------------------------------------------------------------------------------------------------


OWNER = Owner(cluster="prod-eu", kind=MODEL, namespace="ml", name="recommender-v1", uid="uid-1")


def test_owner_tags_and_owns() -> None:
    tags = OWNER.tags()
    assert tags == {CLUSTER_TAG: "prod-eu", KIND_TAG: MODEL, NAMESPACE_TAG: "ml", NAME_TAG: "recommender-v1",
                    UID_TAG: "uid-1"}
    assert OWNER.owns(tags)
    # Recreated under the same name (deletionPolicy: Retain): same owner despite a new uid.
    assert OWNER.owns({**tags, UID_TAG: "uid-2", "team": "ml"})
    for key, value in ((CLUSTER_TAG, "prod-us"), (KIND_TAG, ENDPOINT), (NAMESPACE_TAG, "other"),
                       (NAME_TAG, "recommender-v2")):
        assert not OWNER.owns({**tags, key: value})
    assert not OWNER.owns({})


def test_describe_foreign() -> None:
    assert OWNER.describe_foreign({"team": "ml"}) == "it was not created by sagemaker-operator"
    other = Owner("prod-us", MODEL, "search", "ranker", "u").tags()
    assert OWNER.describe_foreign(other) == "it belongs to SageMakerModel search/ranker in cluster prod-us"


def test_desired_tags_cannot_disown_a_resource() -> None:
    user = {"team": "ml", NAME_TAG: "someone-else", f"{TAG_PREFIX}custom": "x"}
    tags = desired_tags(user, OWNER)
    assert tags == {"team": "ml", **OWNER.tags()}


def test_as_aws_tags_is_sorted_pairs() -> None:
    assert as_aws_tags({"b": "2", "a": "1"}) == [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]


# --- revisions -------------------------------------------------------------------------------------------------


def test_record_revision_puts_the_entry_first_and_moves_an_older_copy() -> None:
    history = [{"name": "m-2", "revision": "2"}, {"name": "m-1", "revision": "1"}]
    assert record_revision(history, {"name": "m-3", "revision": "3"}) == [
        {"name": "m-3", "revision": "3"}, {"name": "m-2", "revision": "2"}, {"name": "m-1", "revision": "1"}]
    # A reverted spec: its old revision becomes current again, without a duplicate.
    assert record_revision(history, {"name": "m-1", "revision": "1"}) == [
        {"name": "m-1", "revision": "1"}, {"name": "m-2", "revision": "2"}]
    assert record_revision([], {"name": "m-1"}) == [{"name": "m-1"}]
    assert history == [{"name": "m-2", "revision": "2"}, {"name": "m-1", "revision": "1"}]


@pytest.mark.parametrize(("limit", "in_use", "expected"), [
    (2, set(), ["m-2", "m-1"]),
    (0, set(), ["m-4", "m-3", "m-2", "m-1"]),
    (4, set(), []),
    (10, set(), []),
    (0, {"m-3", "m-1"}, ["m-4", "m-2"]),
    (0, {"m-5"}, ["m-4", "m-3", "m-2", "m-1"]),
])
def test_collectable(limit: int, in_use: set[str], expected: list[str]) -> None:
    history = [{"name": f"m-{i}"} for i in range(5, 0, -1)]
    assert collectable(history, limit, in_use) == expected


# --- objects ---------------------------------------------------------------------------------------------------


def body(kind: str, name: str, spec: Mapping[str, Any] | None = None, status: Mapping[str, Any] | None = None,
         namespace: str = "ml", **metadata: Any) -> dict[str, Any]:
    return {"apiVersion": "sagemaker.operator.dev/v1alpha1", "kind": kind,
            "metadata": {"name": name, "namespace": namespace, "uid": f"{namespace}-{name}", **metadata},
            "spec": dict(spec or {}), "status": dict(status or {})}


def test_from_body_reads_metadata_and_copies_deeply() -> None:
    raw = body(MODEL, "m", {"primaryContainer": {"environment": {"A": "1"}}}, {"modelName": "m-1"},
               generation=3, resourceVersion="42", annotations={"x": "y"}, finalizers=["f"],
               deletionTimestamp="2026-11-21T00:00:00Z", creationTimestamp="2026-11-01T00:00:00Z")
    obj = KubeObject.from_body(raw)
    assert (obj.kind, obj.namespace, obj.name, obj.uid) == (MODEL, "ml", "m", "ml-m")
    assert (obj.generation, obj.resource_version, obj.created) == (3, "42", "2026-11-01T00:00:00Z")
    assert obj.annotations == {"x": "y"}
    assert obj.finalizers == ("f",)
    assert obj.deleting is True
    assert obj.status == {"modelName": "m-1"}
    assert obj.ref == ObjectRef(MODEL, "ml", "m")
    raw["spec"]["primaryContainer"]["environment"]["A"] = "changed"
    assert obj.spec == {"primaryContainer": {"environment": {"A": "1"}}}


def test_stored_copies_share_keys_and_short_strings_but_nothing_mutable() -> None:
    long = "x" * (INTERNED_LENGTH + 1)
    decoded = [json.loads(json.dumps({"conditions": [{"type": "Ready", "message": long}], "n": 1, "f": 0.5,
                                      "none": None, "ok": True})) for _ in range(2)]
    first, second = (compact_copy(d) for d in decoded)
    assert first == decoded[0] and second == decoded[1]
    key_a, key_b = next(iter(first["conditions"][0])), next(iter(second["conditions"][0]))
    assert key_a == key_b == "type" and key_a is key_b  # one string object for every copy of the key
    assert first["conditions"][0]["type"] is second["conditions"][0]["type"]
    assert first["conditions"][0]["message"] is not second["conditions"][0]["message"]  # long texts are not interned
    decoded[0]["conditions"][0]["type"] = "changed"
    decoded[0]["conditions"].append({})
    assert first["conditions"] == [{"type": "Ready", "message": long}]


def test_from_body_tolerates_missing_and_null_fields() -> None:
    obj = KubeObject.from_body({"kind": MODEL, "metadata": {"name": "m", "namespace": "ml", "generation": None,
                                                            "annotations": None, "finalizers": None},
                                "spec": None})
    assert obj.generation == 0
    assert obj.spec == {}
    assert obj.status == {}
    assert obj.annotations == {}
    assert obj.finalizers == ()
    assert obj.deleting is False


def test_reference_helpers() -> None:
    spec = {"productionVariants": [{"modelRef": {"name": "a"}}, {"modelName": "literal"}, None],
            "shadowProductionVariants": [{"modelRef": {"name": "b"}}]}
    assert list(model_refs(spec)) == ["a", "b"]
    assert config_ref({"endpointConfigRef": {"name": "c"}}) == "c"
    assert config_ref({"endpointConfigName": "c"}) is None


def store_with(*bodies: dict[str, Any]) -> ObjectStore:
    store = ObjectStore()
    for raw in bodies:
        store.put(KubeObject.from_body(raw))
    return store


def test_store_reverse_look_ups_stay_in_the_namespace() -> None:
    store = store_with(
        body(ENDPOINT_CONFIG, "cfg", {"productionVariants": [{"modelRef": {"name": "m"}}]}),
        body(ENDPOINT_CONFIG, "cfg-shadow", {"shadowProductionVariants": [{"modelRef": {"name": "m"}}]}),
        body(ENDPOINT_CONFIG, "cfg", {"productionVariants": [{"modelRef": {"name": "m"}}]}, namespace="other"),
        body(ENDPOINT, "ep", {"endpointConfigRef": {"name": "cfg"}}),
        body(ENDPOINT, "ep-literal", {"endpointConfigName": "cfg"}),
    )
    assert sorted(c.name for c in store.configs_referencing_model("ml", "m")) == ["cfg", "cfg-shadow"]
    assert [e.name for e in store.endpoints_referencing_config("ml", "cfg")] == ["ep"]
    assert store.endpoints_referencing_config("other", "cfg") == []
    assert len(store.of_kind(ENDPOINT_CONFIG)) == 3
    assert len(store.of_kind(ENDPOINT_CONFIG, "other")) == 1


def test_references_are_what_the_store_finds_users_by() -> None:
    """The controller wakes providers by :func:`references`, the store finds users by its indices: one source."""
    objects = [KubeObject.from_body(raw) for raw in (
        body(ENDPOINT_CONFIG, "cfg", {"productionVariants": [{"modelRef": {"name": "m"}}, {"modelName": "literal"}],
                                      "shadowProductionVariants": [{"modelRef": {"name": "shadow"}}]}),
        body(ENDPOINT, "ep", {"endpointConfigRef": {"name": "cfg"}}),
        body(ENDPOINT, "ep-literal", {"endpointConfigName": "aws-config"}),
        body(INFERENCE_COMPONENT, "ic", {"endpointRef": {"name": "ep"},
                                         "specification": {"modelRef": {"name": "m"}}}),
        body(TRANSFORM_JOB, "job", {"modelRef": {"name": "m"}}),
        body(MODEL, "m"),
    )]
    assert {obj.name: sorted(str(ref) for ref in references(obj)) for obj in objects} == {
        "cfg": [f"{MODEL} ml/m", f"{MODEL} ml/shadow"], "ep": [f"{ENDPOINT_CONFIG} ml/cfg"], "ep-literal": [],
        "ic": [f"{ENDPOINT} ml/ep", f"{MODEL} ml/m"], "job": [f"{MODEL} ml/m"], "m": []}
    store = ObjectStore()
    for obj in objects:
        store.put(obj)
    users = {
        MODEL: lambda ref: (store.configs_referencing_model(ref.namespace, ref.name)
                            + store.components_using_model(ref.namespace, ref.name)
                            + store.transform_jobs_using_model(ref.namespace, ref.name)),
        ENDPOINT_CONFIG: lambda ref: store.endpoints_referencing_config(ref.namespace, ref.name),
        ENDPOINT: lambda ref: store.components_on_endpoint(ref.namespace, ref.name),
    }
    for obj in objects:
        for ref in references(obj):
            assert obj in users[ref.kind](ref), f"{obj.ref} references {ref} but is not among its users"
    assert sorted(u.name for u in users[MODEL](ObjectRef(MODEL, "ml", "m"))) == ["cfg", "ic", "job"]


def test_store_put_and_remove_return_the_previous_snapshot() -> None:
    store = ObjectStore()
    first = KubeObject.from_body(body(MODEL, "m", generation=1))
    second = KubeObject.from_body(body(MODEL, "m", generation=2))
    assert store.put(first) is None
    assert store.put(second) is first
    assert store.get(first.ref) is second
    assert store.remove(first.ref) is second
    assert store.remove(first.ref) is None
    assert store.get(first.ref) is None


def test_endpoints_claiming_uses_the_default_region() -> None:
    store = store_with(
        body(ENDPOINT, "ep"),
        body(ENDPOINT, "other", {"endpointName": "ep"}, namespace="b"),
        body(ENDPOINT, "ep", {"region": "us-east-1"}, namespace="c"),
        body(ENDPOINT, "ep", {"region": "eu-west-1"}, namespace="d"),
    )
    names = sorted((e.namespace, e.name) for e in store.endpoints_claiming("eu-west-1", "ep", "eu-west-1"))
    assert names == [("b", "other"), ("d", "ep"), ("ml", "ep")]
    assert [e.namespace for e in store.endpoints_claiming("us-east-1", "ep", "eu-west-1")] == ["c"]


def test_aws_names_in_use() -> None:
    store = store_with(
        body(ENDPOINT_CONFIG, "cfg", {"productionVariants": [{"modelName": "literal-model"}]},
             {"revisions": [{"name": "cfg-1", "modelNames": ["m-1", "m-2"]},
                            {"name": "cfg-0", "modelNames": ["m-0"]}]}),
        body(ENDPOINT, "ep", {"endpointConfigRef": {"name": "cfg"}},
             {"currentEndpointConfigName": "cfg-0", "desiredEndpointConfigName": "cfg-1"}),
        body(ENDPOINT, "ep2", {"endpointConfigName": "hand-made"}, namespace="other"),
    )
    assert store.aws_models_in_use() == {"m-0", "m-1", "m-2", "literal-model"}
    assert store.aws_configs_in_use() == {"cfg-0", "cfg-1", "hand-made"}


# --- context ---------------------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FixedRandom(random.Random):
    """uniform(a, b) answers a + fraction * (b - a)."""

    def __init__(self, fraction: float) -> None:
        super().__init__(0)
        self.fraction = fraction

    def uniform(self, a: float, b: float) -> float:
        return a + self.fraction * (b - a)


REF = ObjectRef(ENDPOINT, "ml", "ep")


def make_context(fraction: float = 0.5, **settings: Any) -> tuple[ReconcileContext, FakeClock]:
    clock = FakeClock()
    ctx = ReconcileContext(gateway=cast(SageMakerGateway, object()), store=ObjectStore(),
                           settings=OperatorSettings(**settings), rng=FixedRandom(fraction), clock=clock)
    return ctx, clock


def test_poll_delays_double_up_to_the_maximum_and_restart_after_stop() -> None:
    ctx, _ = make_context(poll_initial_seconds=5, poll_max_seconds=60)
    assert [ctx.next_poll(REF) for _ in range(6)] == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]
    other = ObjectRef(ENDPOINT, "ml", "other")
    assert ctx.next_poll(other) == 5.0
    ctx.stop_polling(REF)
    assert ctx.next_poll(REF) == 5.0
    assert ctx.next_poll(other) == 10.0


PLACE = AwsTarget("us-east-1")


def falling_back(ctx: ReconcileContext) -> ReconcileContext:
    """The sweep of PLACE failed: its resources are checked one by one."""
    ctx.swept(PLACE, ok=False)
    return ctx


def test_first_own_drift_check_is_spread_over_one_resync_window() -> None:
    ctx, clock = make_context(0.25, resync_seconds=300)
    falling_back(ctx)
    assert ctx.drift_check_due(REF, PLACE) is False
    assert ctx.seconds_until_drift_check(REF, PLACE) == pytest.approx(75.0)
    clock.now += 74.9
    assert ctx.drift_check_due(REF, PLACE) is False
    clock.now += 0.1
    assert ctx.drift_check_due(REF, PLACE) is True
    assert ctx.seconds_until_drift_check(REF, PLACE) == 0.0


def test_own_check_schedules_the_next_one_with_jitter_and_compares_tags_every_nth() -> None:
    ctx, clock = make_context(0.5, resync_seconds=300, resync_jitter=0.2, tag_check_every=3)
    falling_back(ctx)
    results = [ctx.checked(REF, PLACE) for _ in range(6)]
    assert results == [False, False, True, False, False, True]
    assert ctx.seconds_until_drift_check(REF, PLACE) == pytest.approx(330.0)
    assert ctx.drift_check_due(REF, PLACE) is False
    clock.now += 330.0
    assert ctx.drift_check_due(REF, PLACE) is True


def test_swept_places_have_no_own_checks_only_what_a_sweep_found() -> None:
    ctx, clock = make_context(0.0, resync_seconds=300)
    # Before and after a sweep that worked, a Ready object is looked at only when a sweep suspects it.
    assert ctx.drift_check_due(REF, PLACE) is False
    assert ctx.seconds_until_drift_check(REF, PLACE) is None
    ctx.swept(PLACE, ok=True)
    clock.now += 10_000
    assert ctx.drift_check_due(REF, PLACE) is False
    ctx.suspect(REF, compare_tags=False)
    ctx.suspect(REF, compare_tags=True)  # a later finding adds the tags, never takes them away
    ctx.suspect(REF, compare_tags=False)
    assert ctx.drift_check_due(REF, PLACE) is True
    assert ctx.seconds_until_drift_check(REF, PLACE) == 0.0
    assert ctx.checked(REF, PLACE) is True  # the finding is consumed...
    assert ctx.drift_check_due(REF, PLACE) is False  # ...and the next look waits for the next finding
    assert ctx.checked(REF, PLACE) is False


def test_a_failed_sweep_falls_back_and_a_working_one_takes_over_again() -> None:
    ctx, _ = make_context(0.0, resync_seconds=300)
    ctx.swept(PLACE, ok=False)
    assert ctx.falls_back(PLACE)
    assert ctx.drift_check_due(REF, PLACE) is True  # its own check, at fraction 0 of the window: now
    ctx.swept(PLACE, ok=True)
    assert not ctx.falls_back(PLACE)
    assert ctx.drift_check_due(REF, PLACE) is False
    assert not ctx.falls_back(AwsTarget("us-east-1", "arn:aws:iam::123456789012:role/other"))


def test_tags_are_compared_on_every_nth_sweep_of_a_place_the_first_included() -> None:
    ctx, _ = make_context(tag_check_every=3)
    other = AwsTarget("eu-west-1")
    assert [ctx.tags_due(PLACE) for _ in range(4)] == [True, False, False, True]
    assert ctx.tags_due(other) is True


def test_suspected_is_consumed_once() -> None:
    ctx, _ = make_context()
    assert ctx.suspected(REF) is False
    ctx.suspect(REF, compare_tags=False)
    assert ctx.suspected(REF) is True
    assert ctx.suspected(REF) is False


def test_forget_drops_all_memory_of_an_object() -> None:
    ctx, _ = make_context(0.5, tag_check_every=2)
    falling_back(ctx)
    ctx.checked(REF, PLACE)
    ctx.next_poll(REF)
    ctx.next_poll(REF)
    ctx.suspect(REF, compare_tags=True)
    ctx.forget(REF)
    assert ctx.next_poll(REF) == ctx.settings.poll_initial_seconds
    assert ctx.checked(REF, PLACE) is False  # the count started again, and the finding is gone
    assert ctx.seconds_until_drift_check(ObjectRef(ENDPOINT, "ml", "never-seen"), PLACE) == 0.0


def test_target_owner_tags_and_history_limit() -> None:
    ctx, _ = make_context(cluster_id="prod-eu", default_region="eu-west-1", default_revision_history_limit=2)
    obj = KubeObject.from_body(body(MODEL, "m", {"tags": {"team": "ml", UID_TAG: "forged"},
                                                 "assumeRoleArn": "arn:aws:iam::1:role/r", "revisionHistoryLimit": 0}))
    assert asyncio.run(ctx.target(obj)) == AwsTarget(region="eu-west-1", role_arn="arn:aws:iam::1:role/r")
    assert ctx.tags(obj) == {"team": "ml", CLUSTER_TAG: "prod-eu", KIND_TAG: MODEL, NAMESPACE_TAG: "ml",
                             NAME_TAG: "m", UID_TAG: "ml-m"}
    assert ctx.history_limit(obj) == 0
    plain = KubeObject.from_body(body(MODEL, "m", {"region": "us-east-1"}))
    assert asyncio.run(ctx.target(plain)) == AwsTarget(region="us-east-1", role_arn=None)
    assert ctx.history_limit(plain) == 2
    no_region, _ = make_context()
    with pytest.raises(SpecProblem, match="region"):
        asyncio.run(no_region.target(KubeObject.from_body(body(MODEL, "m"))))


def _located(spec: dict[str, Any], status: dict[str, Any] | None = None) -> KubeObject:
    """An endpoint whose spec is ``spec`` plus the config it needs to pass the kind's rules."""
    return KubeObject.from_body({"kind": ENDPOINT, "metadata": {"name": "ep", "namespace": "ml", "uid": "u"},
                                 "spec": {"endpointConfigName": "cfg", **spec}, "status": status or {}})


PINNED = {"endpointArn": "arn:aws:sagemaker:eu-west-1:111122223333:endpoint/ep"}


class AccountGateway:
    """Answers GetCallerIdentity for the operator's own credentials, and counts the calls."""

    def __init__(self, account: str | None, failure: FailureKind = FailureKind.CREDENTIALS) -> None:
        self.account = account
        self.failure = failure
        self.calls = 0
        self.asked = asyncio.Event()

    async def caller_account(self, target: AwsTarget) -> str:
        self.calls += 1
        self.asked.set()
        await asyncio.sleep(0.01)  # an answer takes a while: others ask meanwhile
        if self.account is None:
            raise AwsFailure(self.failure, "NoCredentialsError", "Unable to locate credentials", "GetCallerIdentity")
        return self.account


def located_context(own_account: str | None = "111122223333", failure: FailureKind = FailureKind.CREDENTIALS,
                    **settings: Any) -> tuple[ReconcileContext, AccountGateway]:
    gateway = AccountGateway(own_account, failure)
    ctx = ReconcileContext(gateway=cast(SageMakerGateway, gateway), store=ObjectStore(),
                           settings=OperatorSettings(**settings))
    return ctx, gateway


def test_aws_resources_stay_where_they_were_created() -> None:
    ctx, _ = located_context(default_region="us-east-1")
    assert recorded_location(PINNED) == ("eu-west-1", "111122223333")
    assert recorded_location({"endpointArn": None}) is None
    assert asyncio.run(ctx.target(_located({}))) == AwsTarget("us-east-1")
    assert asyncio.run(ctx.target(_located({"region": "eu-west-1"}, PINNED))) == AwsTarget("eu-west-1")
    with pytest.raises(SpecProblem, match=r"^spec.region: this object's AWS resources are in eu-west-1 and cannot "
                                          r"move to us-west-2; set spec.region to eu-west-1, or delete"):
        asyncio.run(ctx.target(_located({"region": "us-west-2"}, PINNED)))
    with pytest.raises(SpecProblem, match=r"^spec.region \(unset: the operator's --region\): .* cannot move to "
                                          r"us-east-1"):
        asyncio.run(ctx.target(_located({}, PINNED)))
    # Deleting reaches the resources where they are, whatever region the spec names now.
    assert asyncio.run(ctx.deletion_target(_located({"region": "us-west-2"}, PINNED))) == AwsTarget("eu-west-1")
    assert asyncio.run(ctx.deletion_target(_located({}))) == AwsTarget("us-east-1")
    no_default, _ = located_context()
    assert asyncio.run(no_default.deletion_target(_located({}))) is None


def test_a_role_of_another_account_cannot_reach_existing_resources() -> None:
    ctx, gateway = located_context()
    same = "arn:aws:iam::111122223333:role/other"
    foreign = "arn:aws:iam::999988887777:role/deployer"
    assert asyncio.run(ctx.target(_located({"region": "eu-west-1", "assumeRoleArn": same}, PINNED))).role_arn == same
    assert gateway.calls == 0, "a role's account is in its ARN"
    with pytest.raises(SpecProblem, match=r"^spec.assumeRoleArn: this object's AWS resources are in account "
                                          r"111122223333, and arn:aws:iam::999988887777:role/deployer is a role "
                                          r"of account 999988887777; set it to a role of account 111122223333, or "
                                          r"delete this object"):
        asyncio.run(ctx.target(_located({"region": "eu-west-1", "assumeRoleArn": foreign}, PINNED)))
    with pytest.raises(SpecProblem, match=r"or set spec.deletionPolicy to Retain to leave them$"):
        asyncio.run(ctx.deletion_target(_located({"region": "eu-west-1", "assumeRoleArn": foreign}, PINNED)))
    # Before anything exists, any role goes.
    assert asyncio.run(ctx.target(_located({"region": "eu-west-1", "assumeRoleArn": foreign}))).role_arn == foreign


def test_removing_the_role_of_resources_in_another_account_is_refused() -> None:
    elsewhere = {"endpointArn": "arn:aws:sagemaker:eu-west-1:999988887777:endpoint/ep"}
    ctx, gateway = located_context()
    with pytest.raises(SpecProblem, match=r"^spec.assumeRoleArn: this object's AWS resources are in account "
                                          r"999988887777, and without it, the operator's own credentials are of "
                                          r"account 111122223333"):
        asyncio.run(ctx.target(_located({"region": "eu-west-1"}, elsewhere)))
    assert asyncio.run(ctx.target(_located({"region": "eu-west-1"}, PINNED))) == AwsTarget("eu-west-1")
    assert gateway.calls == 1, "the operator's own account is asked once per region"
    # When STS cannot tell (no credentials), nothing is refused here: the calls that follow report the problem.
    blind, blind_gateway = located_context(own_account=None)
    assert asyncio.run(blind.target(_located({"region": "eu-west-1"}, elsewhere))) == AwsTarget("eu-west-1")
    asyncio.run(blind.target(_located({"region": "eu-west-1"}, elsewhere)))
    assert blind_gateway.calls == 2, "a failed answer is not remembered"


def test_the_own_account_is_asked_once_however_many_objects_ask_at_once() -> None:
    ctx, gateway = located_context()

    async def everyone() -> list[AwsTarget]:
        return await asyncio.gather(*(ctx.target(_located({"region": "eu-west-1"}, PINNED)) for _ in range(20)))

    assert asyncio.run(everyone()) == [AwsTarget("eu-west-1")] * 20
    assert gateway.calls == 1


def test_a_throttled_or_failing_sts_retries_later_instead_of_skipping_the_check() -> None:
    elsewhere = {"endpointArn": "arn:aws:sagemaker:eu-west-1:999988887777:endpoint/ep"}
    for kind in (FailureKind.THROTTLED, FailureKind.TRANSIENT):
        ctx, gateway = located_context(own_account=None, failure=kind)
        for check in (ctx.target, ctx.deletion_target):
            with pytest.raises(RetryLater):
                asyncio.run(check(_located({"region": "eu-west-1"}, elsewhere)))
        assert gateway.calls == 2, "not remembered: asked again"


def test_a_cancelled_question_is_asked_again() -> None:
    ctx, gateway = located_context()

    async def cancelled_then_asked() -> AwsTarget:
        first = asyncio.ensure_future(ctx.target(_located({"region": "eu-west-1"}, PINNED)))
        await gateway.asked.wait()  # the question is in flight
        pending = next(iter(ctx._own_accounts.values()))
        pending.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        return await ctx.target(_located({"region": "eu-west-1"}, PINNED))

    assert asyncio.run(cancelled_then_asked()) == AwsTarget("eu-west-1")
    assert gateway.calls == 2


def test_a_wait_for_a_settling_object_is_reported_only_once_it_lasts() -> None:
    ctx, clock = make_context()
    waiter = KubeObject.from_body(body(ENDPOINT, "e", generation=1))
    brief = ctx.waiting_outcome(waiter, Waiting("waiting for the config", settling=True))
    assert (brief.report, brief.requeue_after, brief.reason) == (False, QUIET_WAIT_SECONDS, "Waiting")
    clock.now += 20
    assert ctx.waiting_outcome(waiter, Waiting("still", settling=True)).requeue_after == pytest.approx(
        QUIET_WAIT_SECONDS - 20)
    clock.now += QUIET_WAIT_SECONDS - 20
    lasting = ctx.waiting_outcome(waiter, Waiting("still", settling=True))
    assert (lasting.report, lasting.requeue_after, str(lasting.message)) == (True, None, "still")
    ctx.reported(waiter.ref)
    assert ctx.waiting_outcome(waiter, Waiting("again", settling=True)).report is False  # a new wait starts afresh
    assert ctx.waiting_outcome(waiter, Waiting("stuck")).report is True  # nothing settling: reported at once


def test_a_missing_reference_is_reported_only_once_it_lasts_and_other_spec_problems_at_once() -> None:
    ctx, clock = make_context()
    referrer = KubeObject.from_body(body(ENDPOINT, "e", generation=1))
    missing = MissingReference("spec.endpointConfigRef.name: SageMakerEndpointConfig 'c' does not exist")
    brief = ctx.spec_problem_outcome(referrer, missing)
    assert (brief.report, brief.requeue_after, brief.reason) == (False, QUIET_MISSING_SECONDS, "WaitingForReference")
    clock.now += QUIET_MISSING_SECONDS
    lasting = ctx.spec_problem_outcome(referrer, missing)
    assert (lasting.report, lasting.state.value, lasting.reason, str(lasting.message)) == (
        True, "Degraded", "InvalidSpec", str(missing))
    invalid = ctx.spec_problem_outcome(KubeObject.from_body(body(ENDPOINT, "other", generation=1)),
                                       SpecProblem("spec.endpointName: too long"))
    assert (invalid.report, invalid.reason) == (True, "InvalidSpec")


def test_settling_objects_are_new_or_have_a_spec_change_not_acted_on() -> None:
    new = KubeObject.from_body(body(MODEL, "m", generation=1))
    acted = KubeObject.from_body(body(MODEL, "m", status={"observedGeneration": 1}, generation=1))
    changed = KubeObject.from_body(body(MODEL, "m", status={"observedGeneration": 1}, generation=2))
    assert (settling(new), settling(acted), settling(changed)) == (True, False, True)
