"""The catalogue of bad manifests (issue 9, "Bad input"): each is refused by the API server naming the field, or
accepted and reported Degraded with a message a user can act on. None crashes the operator.

The API-server half is crd_cases.py's ``BAD`` list (run again here with the operator watching); ``RULE_BREAKS``
(the CEL rules) are refused by the API server where it enforces CEL and reported Degraded with the same message
where it does not (Kubernetes 1.20); the last part is what no schema can see: references, names shared between
objects.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import kubernetes
import pytest
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from sagemaker_emulator.server import EmulatorThread
from sagemaker_operator.api import rules
from tests.crd_cases import BAD, RULE_BREAKS, VALID, unindexed
from tests.crd_helpers import enforces_cel
from tests.helpers import wait_for
from tests.operator_harness import GROUP, PLURALS, VERSION, Objects, config_spec, model_spec
from tests.reliability.harness import CONFIG, ENDPOINT, IC, MODEL, OperatorProcess, condition, is_true
from tests.reliability.invariants import Scope, assert_invariants

pytestmark = pytest.mark.cluster
ROLE = "arn:aws:iam::123456789012:role/sagemaker-execution"


@dataclass(frozen=True)
class Semantic:
    """A manifest the API server accepts: ``kind``/``name`` must end Degraded with ``words`` in the message."""

    case: str
    kind: str
    name: str
    spec: dict[str, Any]
    words: tuple[str, ...]
    reason: str | None = None
    annotations: dict[str, str] | None = None
    created: bool = False  # made by the test already (a rule break an API server without CEL accepted)


def _variant(name: str, **extra: Any) -> dict[str, Any]:
    return {"variantName": name, "modelRef": {"name": "good"}, "instanceType": "ml.m5.large",
            "initialInstanceCount": 1, "initialVariantWeight": 1.0, **extra}


def _semantic(other_namespace: str) -> list[Semantic]:
    endpoint = {"endpointConfigRef": {"name": "good"}}
    component = {"variantName": "main", "specification": {"modelRef": {"name": "good"}, "computeResourceRequirements": {
        "numberOfCpuCoresRequired": 1, "minMemoryRequiredInMb": 1024}}, "runtimeConfig": {"copyCount": 1}}
    return [
        Semantic("modelRef-to-nothing", CONFIG, "ref-nothing", config_spec(("primary", "ghost", 1.0, 1)),
                 ("spec.productionVariants[0].modelRef.name", "ghost"), "InvalidSpec"),
        # The reference schema has only `name`: a namespace is pruned, and the name is looked up in the object's
        # own namespace, where it does not exist (it exists in the other one).
        Semantic("reference-across-namespaces", CONFIG, "ref-across", {"productionVariants": [
            {**_variant("primary"), "modelRef": {"name": "elsewhere", "namespace": other_namespace}}]},
            ("spec.productionVariants[0].modelRef.name", "elsewhere"), "InvalidSpec"),
        Semantic("endpointConfigRef-to-nothing", ENDPOINT, "cfg-nothing", {"endpointConfigRef": {"name": "ghost"}},
                 ("spec.endpointConfigRef.name", "ghost"), "InvalidSpec"),
        Semantic("two-endpoints-one-endpointName", ENDPOINT, "second-claim",
                 {**endpoint, "endpointName": "good"}, ("good",), "InvalidSpec"),
        Semantic("autoscaling-unknown-variant", ENDPOINT, "no-variant", {**endpoint, "endpointName": "no-variant",
                                                                         "autoscaling": [{
                                                                             "variantName": "nope", "minCapacity": 1,
                                                                             "maxCapacity": 2}]},
                 ("spec.autoscaling[0].variantName", "nope"), "InvalidSpec"),
        Semantic("component-on-missing-literal-endpoint", IC, "ic-nowhere", {**component,
                                                                             "endpointName": "no-such-endpoint"},
                 ("no-such-endpoint",)),
        Semantic("component-endpointRef-to-nothing", IC, "ic-ref-nothing", {**component,
                                                                            "endpointRef": {"name": "ghost"}},
                 ("spec.endpointRef.name", "ghost"), "InvalidSpec"),
        Semantic("component-modelRef-to-nothing", IC, "ic-model-nothing", {
            **component, "endpointRef": {"name": "good"},
            "specification": {**component["specification"], "modelRef": {"name": "ghost"}}},
            ("spec.specification.modelRef.name", "ghost"), "InvalidSpec"),
        Semantic("component-on-config-with-models", IC, "ic-on-models", {**component, "endpointRef": {"name": "good"}},
                 ("good",)),
        Semantic("endpointName-invalid-from-metadata", ENDPOINT, "dotted.name", endpoint,
                 ("metadata.name", "spec.endpointName"), "InvalidSpec"),
        Semantic("assumeRoleArn-that-cannot-be-assumed", MODEL, "bad-role",
                 model_spec(assumeRoleArn="arn:aws:iam::123456789012:rolex"), ("rolex",)),
    ]


def test_bad_manifests_are_refused_or_reported_and_never_crash_the_operator(
        admin_client: ApiClient, crds: list[str], namespaces: Callable[[], str], emulator: EmulatorThread,
        operator_factory: Callable[..., OperatorProcess]) -> None:
    namespace, other = namespaces(), namespaces()
    objects, elsewhere = Objects(admin_client, namespace), Objects(admin_client, other)
    api = kubernetes.client.CustomObjectsApi(admin_client)
    semantic = _semantic(other)
    assert len(BAD) + len(RULE_BREAKS) + len(semantic) >= 40
    with operator_factory([namespace, other], name="bad") as operator:
        # What the bad ones refer to or collide with: one good chain, and a model in the other namespace.
        objects.create(MODEL, "good", model_spec())
        objects.create(CONFIG, "good", config_spec(("primary", "good", 1.0, 1)))
        objects.create(ENDPOINT, "good", {"endpointConfigRef": {"name": "good"}})
        elsewhere.create(MODEL, "elsewhere", model_spec())
        objects.wait_condition(ENDPOINT, "good", "Ready", timeout=60)

        refused_wrong, accepted = [], []
        for index, (case, kind, mutate, path) in enumerate(BAD):
            spec = copy.deepcopy(VALID[kind.kind])
            mutate(spec)
            body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind.kind, "metadata": {"name": f"schema-{index}"},
                    "spec": spec}
            try:
                api.create_namespaced_custom_object(GROUP, VERSION, namespace, kind.plural, body)
                accepted.append(case)
            except ApiException as error:
                message = json.loads(error.body).get("message", "")
                if error.status != 422 or unindexed(path) not in unindexed(message):
                    refused_wrong.append(f"{case}: HTTP {error.status}: {message}")
        assert not accepted and not refused_wrong, (accepted, refused_wrong)

        # The CEL rules: refused with the rule's message where the API server enforces CEL, otherwise accepted
        # and then Degraded with the same message (the operator's copy of the rules).
        cel = enforces_cel(admin_client)
        for index, bad in enumerate(RULE_BREAKS):
            spec = copy.deepcopy(VALID[bad.kind.kind])
            bad.mutate(spec)
            body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": bad.kind.kind, "metadata": {"name": f"rule-{index}"},
                    "spec": spec}
            try:
                api.create_namespaced_custom_object(GROUP, VERSION, namespace, bad.kind.plural, body)
            except ApiException as error:
                message = json.loads(error.body).get("message", "")
                if not cel or error.status != 422 or bad.message not in message:
                    refused_wrong.append(f"{bad.case}: HTTP {error.status}: {message}")
                continue
            if cel:
                accepted.append(bad.case)
            semantic.append(Semantic(bad.case, bad.kind.kind, f"rule-{index}", spec, (f"{bad.where}: {bad.message}",),
                                     "InvalidSpec", created=True))
        assert not accepted and not refused_wrong, (accepted, refused_wrong)

        # An AWS name that changes after creation: refused by the API server, or Degraded by the operator.
        objects.create(ENDPOINT, "renamed", {"endpointConfigRef": {"name": "good"}, "endpointName": "renamed"})
        objects.wait_condition(ENDPOINT, "renamed", "Ready", timeout=60)
        rename = {"spec": {"endpointName": "renamed-2"}}
        if cel:
            with pytest.raises(ApiException) as refused:
                api.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURALS[ENDPOINT], "renamed", rename)
            assert rules.ENDPOINT_NAME.message in json.loads(refused.value.body)["message"]
        else:
            api.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURALS[ENDPOINT], "renamed", rename)
            semantic.append(Semantic("endpointName-changed", ENDPOINT, "renamed", {}, (rules.ENDPOINT_NAME.message,),
                                     "InvalidSpec", created=True))

        for bad in semantic:
            if bad.created:
                continue
            api.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURALS[bad.kind], {
                "apiVersion": f"{GROUP}/{VERSION}", "kind": bad.kind,
                "metadata": {"name": bad.name, "annotations": bad.annotations or {}}, "spec": bad.spec})

        def reported() -> list[str] | None:
            missing = []
            for bad in semantic:
                obj = objects.get(bad.kind, bad.name) or {"metadata": {"generation": -1}}
                if not is_true(obj, "Degraded"):
                    now = condition(obj, "Ready") or {}
                    missing.append(f"{bad.case}: {now.get('reason')}: {now.get('message')}")
            return None if missing else []

        with contextlib.suppress(AssertionError):  # what is still not reported is listed below, case by case
            wait_for(lambda: reported() is not None, timeout=60, what="every bad object to be Degraded")
        problems = []
        for bad in semantic:
            obj = objects.get(bad.kind, bad.name) or {"metadata": {"generation": -1}}
            entry = condition(obj, "Degraded")
            if not is_true(obj, "Degraded"):
                state = next((c for c in obj.get("status", {}).get("conditions", []) if c.get("status") == "True"),
                             {})
                problems.append(f"{bad.case}: not Degraded but {state.get('type')} {state.get('reason')}: "
                                f"{state.get('message')}")
                continue
            if bad.reason and entry.get("reason") != bad.reason:
                problems.append(f"{bad.case}: reason {entry.get('reason')}, expected {bad.reason}: "
                                f"{entry.get('message')}")
            missing = [w for w in bad.words if w not in str(entry.get("message"))]
            if missing:
                problems.append(f"{bad.case}: the message does not name {missing}: {entry.get('message')}")
        assert operator.alive()
        assert not problems, f"{len(problems)} of {len(semantic)} accepted bad manifests not reported " \
                             "actionably:\n" + "\n".join(problems)
        good = objects.wait_condition(ENDPOINT, "good", "Ready")
        assert good["status"]["endpointName"] == "good"
        scope = Scope([namespace, other], degraded={
            **{(bad.kind, namespace, bad.name): None for bad in semantic}})
        assert_invariants(admin_client, emulator, scope, operator.log_text(),
                          log_names=[bad.name for bad in semantic])
