"""Security: ownership of AWS resources, and credentials (failures reported, never leaked).

The chart's RBAC negative tests (the operator's identity cannot read Secrets or write anything outside its own
kinds, their status and events, checked against the real API server) live in tests/chart/test_chart_install.py:
``test_namespaced_identity_has_exactly_the_rules_it_needs`` and ``test_cluster_wide_identity_has_exactly_the_rules_
it_needs``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiClient

from sagemaker_emulator.server import EmulatorThread
from sagemaker_operator.reconcile.model import render_model
from sagemaker_operator.reconcile.objects import KubeObject
from tests.helpers import wait_for
from tests.operator_harness import Objects, config_spec, counters, model_spec, sagemaker
from tests.reliability.harness import (
    ACCESS_KEY_ID,
    CONFIG,
    ENDPOINT,
    IMAGE,
    KINDS,
    MODEL,
    SECRET_ACCESS_KEY,
    OperatorProcess,
    list_objects,
)
from tests.reliability.invariants import Scope, assert_invariants

pytestmark = pytest.mark.cluster
TAG = "sagemaker.operator.dev/"
ADOPT = "sagemaker.operator.dev/adopt"


def _foreign_endpoint(client: Any, name: str, tags: dict[str, str]) -> str:
    client.create_model(ModelName=f"{name}-theirs", ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
                        PrimaryContainer={"Image": f"{IMAGE}-theirs:1"})
    client.create_endpoint_config(EndpointConfigName=f"{name}-theirs", ProductionVariants=[{
        "VariantName": "v", "ModelName": f"{name}-theirs", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}])
    client.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-theirs",
                           Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    return f"{name}-theirs"


def _owner_tags(cluster: str, namespace: str, name: str, kind: str = ENDPOINT) -> dict[str, str]:
    return {f"{TAG}cluster": cluster, f"{TAG}kind": kind, f"{TAG}namespace": namespace, f"{TAG}name": name,
            f"{TAG}uid": "0000"}


def test_resources_owned_by_another_cluster_namespace_or_object_are_never_touched_unless_adopted(
        admin_client: ApiClient, crds: list[str], namespaces: Callable[[], str], emulator: EmulatorThread,
        operator_factory: Callable[..., OperatorProcess]) -> None:
    namespace = namespaces()
    objects = Objects(admin_client, namespace)
    client = sagemaker(emulator.url)
    foreign = {
        "other-cluster": _owner_tags("prod-cluster", namespace, "other-cluster"),
        "other-namespace": _owner_tags("default", "somebody-else", "other-namespace"),
        "other-object": _owner_tags("default", namespace, "not-me"),
        "untagged": {"team": "theirs"},
        "adopted": _owner_tags("prod-cluster", "x", "y"),
    }
    configs = {name: _foreign_endpoint(client, name, tags) for name, tags in foreign.items()}
    # A model whose revision name this object's spec hashes to, created by someone else.
    model_obj = KubeObject.from_body({"kind": MODEL, "metadata": {"name": "clash", "namespace": namespace},
                                      "spec": model_spec()})
    clash_name = render_model(model_obj, "default").name
    client.create_model(ModelName=clash_name, ExecutionRoleArn="arn:aws:iam::123456789012:role/r",
                        PrimaryContainer={"Image": f"{IMAGE}-theirs:1"},
                        Tags=[{"Key": k, "Value": v} for k, v in _owner_tags("default", "other", "clash",
                                                                              MODEL).items()])
    before = {r["name"]: r for r in emulator.admin.resources()}
    with operator_factory([namespace], ["--resync-seconds", "1"], name="ownership") as operator:
        objects.create(MODEL, "mine", model_spec())
        objects.create(CONFIG, "mine", config_spec(("primary", "mine", 1.0, 1)))
        for name in foreign:
            objects.create(ENDPOINT, name, {"endpointName": name, "endpointConfigRef": {"name": "mine"}},
                           annotations={ADOPT: "true"} if name == "adopted" else None)
        objects.create(MODEL, "clash", model_spec())
        # Two objects claiming one AWS endpoint name: the older keeps it.
        objects.create(ENDPOINT, "first", {"endpointName": "claimed", "endpointConfigRef": {"name": "mine"}})
        objects.wait_condition(ENDPOINT, "first", "Ready", timeout=60)
        first_arn = (objects.get(ENDPOINT, "first") or {})["status"]["endpointArn"]
        objects.create(ENDPOINT, "second", {"endpointName": "claimed", "endpointConfigRef": {"name": "mine"}})

        for name in ("other-cluster", "other-namespace", "other-object", "untagged"):
            objects.wait_condition(ENDPOINT, name, "Degraded", reason="NotOwned", timeout=60)
            assert ADOPT in (objects.condition(ENDPOINT, name, "Degraded") or {})["message"]
        objects.wait_condition(MODEL, "clash", "Degraded", reason="NotOwned", timeout=60)
        second = objects.wait_condition(ENDPOINT, "second", "Degraded", timeout=60)
        assert "first" in (objects.condition(ENDPOINT, "second", "Degraded") or {})["message"]
        assert second["status"].get("endpointArn") in (None, first_arn)
        adopted = objects.wait_condition(ENDPOINT, "adopted", "Ready", timeout=60)
        assert adopted["status"]["currentEndpointConfigName"] != configs["adopted"]
        first = objects.get(ENDPOINT, "first") or {}
        assert first["status"]["endpointArn"] == first_arn
        assert counters(emulator).get("UpdateEndpoint", 0) == 1  # only the adopted one was ever updated

        # Deleting the objects leaves what is not theirs.
        for name in (*foreign, "second"):
            objects.delete(ENDPOINT, name)
        objects.delete(MODEL, "clash")
        for name in (*foreign, "second"):
            objects.wait_gone(ENDPOINT, name, timeout=60)
        objects.wait_gone(MODEL, "clash", timeout=60)
        after = {r["name"]: r for r in emulator.admin.resources()}
        for name in ("other-cluster", "other-namespace", "other-object", "untagged"):
            assert after[name]["endpoint_config"] == configs[name], name
            assert after[name]["tags"] == before[name]["tags"], name
            assert after[name]["status"] == "InService", name
        assert after[clash_name]["tags"] == before[clash_name]["tags"]
        assert "adopted" not in after, "an adopted endpoint is the object's own: deleted with it"
        assert "claimed" in after and after["claimed"]["arn"] == first_arn
        scope = Scope([namespace], degraded={}, foreign={*foreign, *configs.values(), clash_name},
                      deleted={(ENDPOINT, namespace, n) for n in (*foreign, "second")} | {(MODEL, namespace, "clash")})
        assert_invariants(admin_client, emulator, scope, operator.log_text())


@pytest.fixture
def issued(emulator: EmulatorThread, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Every credential (key, secret, session token) the emulator's STS hands out during the test."""
    secrets: set[str] = set()
    lock = threading.Lock()
    sts = emulator.emulator.sts
    original = sts.assume_role

    def assume_role(ctx: Any, params: dict[str, Any], t: float) -> dict[str, Any]:
        answer = original(ctx, params, t)
        with lock:
            secrets.update(str(v) for k, v in answer["Credentials"].items() if k != "Expiration")
        return answer

    monkeypatch.setattr(sts, "assume_role", assume_role)
    return secrets


def assert_nothing_leaked(admin_client: ApiClient, namespaces: list[str], operators: dict[str, OperatorProcess],
                          secrets: set[str]) -> None:
    """No secret appears in the objects (status included), events or operator logs of ``namespaces``."""
    texts: dict[str, str] = {}
    for namespace in namespaces:
        for kind in KINDS:
            texts[f"{kind} objects in {namespace}"] = json.dumps(list_objects(admin_client, namespace, kind))
        events = kubernetes.client.CoreV1Api(admin_client).list_namespaced_event(namespace)
        texts[f"events in {namespace}"] = json.dumps([e.to_dict() for e in events.items], default=str)
    texts.update({f"{name} operator log": operator.log_text() for name, operator in operators.items()})
    leaks = [f"{secret[:8]}... appears in {where}" for where, text in texts.items() for secret in secrets
             if secret and secret in text]
    assert not leaks, leaks


def test_credential_failures_are_reported_per_namespace_and_no_credential_is_ever_written(
        admin_client: ApiClient, crds: list[str], namespaces: Callable[[], str], emulator: EmulatorThread,
        operator_factory: Callable[..., OperatorProcess], issued: set[str]) -> None:
    healthy, broken = namespaces(), namespaces()
    ok, bad = Objects(admin_client, healthy), Objects(admin_client, broken)
    role = "arn:aws:iam::210987654321:role/deployer"
    no_credentials = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SHARED_CREDENTIALS_FILE":
                      "/nonexistent", "AWS_CONFIG_FILE": "/nonexistent"}
    with operator_factory([healthy], name="healthy") as good_operator, \
            operator_factory([broken], env=no_credentials, name="broken") as broken_operator:
        bad.create(MODEL, "nocreds", model_spec())
        ok.create(MODEL, "denied", model_spec(assumeRoleArn="arn:aws:iam::123456789012:rolex"))
        ok.create(MODEL, "assumed", model_spec(assumeRoleArn=role))
        ok.create(CONFIG, "assumed", {**config_spec(("primary", "assumed", 1.0, 1)), "assumeRoleArn": role})
        ok.create(ENDPOINT, "assumed", {"endpointConfigRef": {"name": "assumed"}, "assumeRoleArn": role})
        ok.create(MODEL, "plain", model_spec())
        ok.create(CONFIG, "plain", config_spec(("primary", "plain", 1.0, 1)))
        ok.create(ENDPOINT, "plain", {"endpointConfigRef": {"name": "plain"}})

        ok.wait_condition(ENDPOINT, "assumed", "Ready", timeout=60)
        ok.wait_condition(ENDPOINT, "plain", "Ready", timeout=60)
        bad.wait_condition(MODEL, "nocreds", "Degraded", reason="AwsCredentials", timeout=60)
        message = (bad.condition(MODEL, "nocreds", "Degraded") or {})["message"]
        assert "credentials" in message.lower(), message
        ok.wait_condition(MODEL, "denied", "Degraded", timeout=60)
        assert issued, "the operator should have assumed the deployer role"

        assert_nothing_leaked(admin_client, [healthy, broken],
                              {"healthy": good_operator, "broken": broken_operator},
                              {ACCESS_KEY_ID, SECRET_ACCESS_KEY, *issued})
        assert_invariants(admin_client, emulator, Scope([healthy], degraded={(MODEL, healthy, "denied"): None}),
                          good_operator.log_text())
        assert_invariants(admin_client, emulator, Scope([broken], degraded={(MODEL, broken, "nocreds"):
                                                                            "AwsCredentials"}),
                          broken_operator.log_text())
        denied = (ok.condition(MODEL, "denied", "Degraded") or {})["message"]
        assert "assumeRoleArn" in denied or "AssumeRole" in denied, \
            f"a role that cannot be assumed should be named as the problem: {denied}"


def test_denied_assume_role_is_degraded_and_expired_credentials_heal_or_are_reported(
        admin_client: ApiClient, crds: list[str], namespaces: Callable[[], str], emulator: EmulatorThread,
        operator_factory: Callable[..., OperatorProcess], issued: set[str]) -> None:
    healthy, stale = namespaces(), namespaces()
    ok, old = Objects(admin_client, healthy), Objects(admin_client, stale)
    role, untrusted = "arn:aws:iam::210987654321:role/deployer", "arn:aws:iam::210987654321:role/untrusted"
    stale_key = "AKIASTALECREDENTIAL1"
    emulator.admin.deny_assume_role(untrusted)
    with operator_factory([healthy], name="healthy") as operator, \
            operator_factory([stale], env={"AWS_ACCESS_KEY_ID": stale_key}, name="stale") as stale_operator:
        ok.create(MODEL, "assumed", model_spec(assumeRoleArn=role))
        ok.create(CONFIG, "assumed", {**config_spec(("primary", "assumed", 1.0, 1)), "assumeRoleArn": role})
        ok.create(ENDPOINT, "assumed", {"endpointConfigRef": {"name": "assumed"}, "assumeRoleArn": role})
        ok.create(MODEL, "untrusted", model_spec(assumeRoleArn=untrusted))
        old.create(MODEL, "plain", model_spec())

        # A role whose trust policy refuses the operator: Degraded, naming the field and the role.
        ok.wait_condition(MODEL, "untrusted", "Degraded", reason="AccessDenied", timeout=60)
        message = (ok.condition(MODEL, "untrusted", "Degraded") or {})["message"]
        assert f"spec.assumeRoleArn {untrusted}" in message, message
        assert "not authorized to perform: sts:AssumeRole" in message, message
        first_config = ok.wait_condition(ENDPOINT, "assumed", "Ready", timeout=60)["status"][
            "currentEndpointConfigName"]
        old.wait_condition(MODEL, "plain", "Ready", timeout=60)

        # AWS refuses every credential it issued for the role (a revoked session): the operator assumes the role
        # again and carries on, with nothing Degraded.
        assume_before = counters(emulator).get("AssumeRole", 0)
        assert emulator.admin.expire_credentials(role_arn=role) >= 1
        ok.patch(MODEL, "assumed", {"spec": {"primaryContainer": {"image": f"{IMAGE}:2"}}})

        def rolled_out() -> dict[str, Any] | None:
            endpoint = ok.get(ENDPOINT, "assumed") or {}
            current = endpoint.get("status", {}).get("currentEndpointConfigName")
            ready = ok.condition(ENDPOINT, "assumed", "Ready") or {}
            return endpoint if current not in (None, first_config) and ready.get("status") == "True" else None

        wait_for(rolled_out, timeout=90, what="the endpoint on its new config after the role's credentials expired")
        assert counters(emulator)["AssumeRole"] > assume_before

        # The role's active sessions are revoked (AWS then denies the old session's calls): the same, a new session.
        assume_before = counters(emulator)["AssumeRole"]
        first_config = (ok.get(ENDPOINT, "assumed") or {})["status"]["currentEndpointConfigName"]
        assert emulator.admin.revoke_sessions(role) >= 1
        ok.patch(MODEL, "assumed", {"spec": {"primaryContainer": {"image": f"{IMAGE}:3"}}})
        wait_for(rolled_out, timeout=90, what="the endpoint on its new config after the role's sessions were revoked")
        assert counters(emulator)["AssumeRole"] > assume_before
        healed = [e for e in ok.events("assumed") if e.reason == "AwsError"]
        assert not healed, [e.message for e in healed]

        # The operator's own (static) credentials expire: nothing can heal that; Degraded with AWS's words.
        emulator.admin.expire_credentials(access_key=stale_key)
        old.patch(MODEL, "plain", {"spec": {"primaryContainer": {"image": f"{IMAGE}:2"}}})
        old.wait_condition(MODEL, "plain", "Degraded", reason="AwsCredentials", timeout=60)
        expired = (old.condition(MODEL, "plain", "Degraded") or {})["message"]
        assert "ExpiredTokenException" in expired and "expired" in expired, expired

        # The trust policy is fixed; any change to the object (here an annotation) makes the operator look again
        # at once instead of at its next periodic recheck.
        emulator.admin.allow_assume_role(untrusted)
        ok.patch(MODEL, "untrusted", {"metadata": {"annotations": {"example.com/nudge": "1"}}})
        ok.wait_condition(MODEL, "untrusted", "Ready", timeout=60)

        # Dropping the role would point the model at the operator's own account, where its resources are not:
        # refused, nothing created there; with the role back it is Ready again.
        resources = sorted((r["kind"], r["name"], r["account"]) for r in emulator.admin.resources())
        ok.patch(MODEL, "assumed", {"spec": {"assumeRoleArn": None}})
        ok.wait_condition(MODEL, "assumed", "Degraded", reason="InvalidSpec", timeout=60)
        message = (ok.condition(MODEL, "assumed", "Degraded") or {})["message"]
        assert message.startswith("spec.assumeRoleArn: this object's AWS resources are in account 210987654321, "
                                  "and without it, the operator's own credentials are of account 123456789012"), message
        assert sorted((r["kind"], r["name"], r["account"]) for r in emulator.admin.resources()) == resources
        ok.patch(MODEL, "assumed", {"spec": {"assumeRoleArn": role}})
        ok.wait_condition(MODEL, "assumed", "Ready", timeout=60)

        assert_nothing_leaked(admin_client, [healthy, stale], {"healthy": operator, "stale": stale_operator},
                              {ACCESS_KEY_ID, SECRET_ACCESS_KEY, *issued})
        assert_invariants(admin_client, emulator, Scope([healthy], degraded={}), operator.log_text())
        assert_invariants(admin_client, emulator, Scope([stale], degraded={(MODEL, stale, "plain"): "AwsCredentials"}),
                          stale_operator.log_text())
