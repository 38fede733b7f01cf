"""The chart installed with helm into the test API server, and the operator run with the identity of the chart's
ServiceAccount (a TokenRequest token, as its pod would have) and the arguments of the chart's Deployment.

No pod runs on the local API server (it has no controller manager), so the operator runs as a local process; RBAC
is checked by the real API server exactly as for the pod. Both RBAC modes are covered: watched namespaces (Roles)
and cluster-wide (ClusterRole). The namespaced run is the representative AWS scenario for the IAM policy check.

Every helm of the matrix (tools.HELMS) installs the releases the scenarios run under, and takes a release through
install, upgrade (cluster-wide to watched namespaces) and uninstall; so does a newer helm with a release the oldest
one installed, as when users move to a newer helm. Helm 4 applies objects server-side by default; helm 3 does not.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.session
import kubernetes
import pytest
import yaml
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError

from sagemaker_emulator.server import EmulatorThread
from sagemaker_operator.api.admission import wait_for_finalizer_policy
from sagemaker_operator.dev.cluster import free_port
from tests.chart.test_chart_render import EXPECTED_RULES, LEASE_RULES, rule_set
from tests.chart.tools import CHART, HELMS, OLDEST_HELM, Helm, by_kind, helm, set_args
from tests.conftest import KubeTarget
from tests.crd_helpers import server_minor
from tests.helpers import client_from_kubeconfig, operator_process, service_account_kubeconfig, wait_for
from tests.operator_harness import (
    FAST_POLLING,
    GROUP,
    REGION,
    VERSION,
    Objects,
    aws_env,
    config_spec,
    counters,
    model_spec,
    s3,
    sagemaker,
    wait_live,
)

pytestmark = pytest.mark.cluster

MODEL, CONFIG, ENDPOINT = "SageMakerModel", "SageMakerEndpointConfig", "SageMakerEndpoint"
COMPONENT, JOB = "SageMakerInferenceComponent", "SageMakerTransformJob"
IAM_POLICY = CHART / "iam-policy.json"
# Actions the policy allows that the operator never calls and the emulator therefore cannot count: AWS checks them
# on the caller of Application Auto Scaling (target tracking alarms, the service-linked role it creates on the first
# RegisterScalableTarget). docs/install.md ("2. IAM") gives the AWS source for each; test_iam_policy.py checks
# their scope. Everything else in the policy must be called by the scenario, and everything called must be allowed.
IMPLIED_ACTIONS = frozenset({"cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms",
                             "iam:CreateServiceLinkedRole"})
EXECUTION_ROLE = "arn:aws:iam::123456789012:role/sagemaker-execution"


def _target_tracking(name: str, metric: str) -> dict[str, Any]:
    return {"policyName": name, "targetTracking": {"targetValue": 5.0, "predefinedMetricSpecification": {
        "predefinedMetricType": metric}}}


@dataclass
class Release:
    """One helm release of the chart, and the identity of its ServiceAccount."""

    name: str
    namespace: str
    watched: list[str]
    documents: list[dict[str, Any]]
    kubeconfig: Path
    notes: str

    @property
    def operator_args(self) -> list[str]:
        (deployment,) = by_kind(self.documents, "Deployment")
        (operator,) = deployment["spec"]["template"]["spec"]["containers"]
        return list(operator["args"])


def _create_namespace(admin: ApiClient, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    kubernetes.client.CoreV1Api(admin).create_namespace(kubernetes.client.V1Namespace(
        metadata=kubernetes.client.V1ObjectMeta(name=name, labels={"sagemaker.operator.dev/test": "true"})))
    return name


def _manifest(tool: Helm, kube: KubeTarget, name: str, namespace: str) -> list[dict[str, Any]]:
    """The documents of the release's current revision (``helm get manifest``)."""
    manifest = tool.run("get", "manifest", name, "--namespace", namespace, kubeconfig=kube.kubeconfig).stdout
    return [d for d in yaml.safe_load_all(manifest) if d]


# The first Kubernetes release whose CRD API declares x-kubernetes-validations (the CRDs' CEL rules).
FIRST_MINOR_WITH_CEL_FIELD = 23


def skip_unless_installable(tool: Helm, admin: ApiClient) -> None:
    """Skip where this helm cannot install the chart's CRDs: helm 4 applies them server-side, and an API server
    older than 1.23 refuses the field the rules are in ("field not declared in schema"), where a client-side
    create drops it silently. Helm 4 supports Kubernetes 1.31 and newer anyway (helm's version skew policy);
    docs/install.md says what to do on an older cluster."""
    if tool.applies_server_side and server_minor(admin) < FIRST_MINOR_WITH_CEL_FIELD:
        pytest.skip(f"helm {tool.version} applies CRDs server-side, which Kubernetes < 1.{FIRST_MINOR_WITH_CEL_FIELD} "
                    "refuses for the CRDs' validation rules; helm 4 does not support such clusters")


@contextlib.contextmanager
def installed(kube: KubeTarget, admin: ApiClient, workdir: Path, watched: list[str], tool: Helm
              ) -> Iterator[Release]:
    """``helm install`` the chart into a fresh namespace; ``helm uninstall`` afterwards (CRDs stay, by design)."""
    skip_unless_installable(tool, admin)
    namespace = _create_namespace(admin, "smo")
    name = f"smo-{uuid.uuid4().hex[:6]}"
    # Drift checks every 2 s: the scenario's resources are listed by the page while they exist, which the IAM policy
    # check counts.
    values = {"watchNamespaces": watched, "region": REGION, "clusterId": "chart-test", "resyncSeconds": 2}
    result = helm("install", name, str(CHART), "--namespace", namespace, *set_args(values),
                  kubeconfig=kube.kubeconfig, timeout=180, tool=tool)
    try:
        documents = _manifest(tool, kube, name, namespace)
        if by_kind(documents, "MutatingAdmissionPolicy"):
            # The API server loads a new policy in the background, and answers creates of the kinds it matches 503
            # for a moment: the objects of the tests come after it applies.
            wait_for_finalizer_policy(admin, watched[0] if watched else "default")
        (account,) = by_kind(documents, "ServiceAccount")
        kubeconfig = service_account_kubeconfig(admin, namespace, account["metadata"]["name"],
                                                workdir / f"{name}.kubeconfig")
        yield Release(name, namespace, watched, documents, kubeconfig, result.stdout)
    finally:
        helm("uninstall", name, "--namespace", namespace, kubeconfig=kube.kubeconfig, timeout=120, tool=tool)
        kubernetes.client.CoreV1Api(admin).delete_namespace(namespace)


@contextlib.contextmanager
def operator_as(release: Release, emulator: EmulatorThread, log_path: Path) -> Iterator[None]:
    """``sagemaker-operator run`` with the chart's args and its ServiceAccount's identity, until the block ends."""
    liveness = free_port()
    # Later flags win: local ports instead of the pod's, and fast polling for the emulator's short durations.
    args = ["sagemaker_operator", "run", *release.operator_args, f"--liveness-port={liveness}",
            f"--metrics-port={free_port()}", *FAST_POLLING]
    with operator_process(args, kubeconfig=release.kubeconfig, log_path=log_path,
                          extra_env=aws_env(emulator.url)) as process:
        wait_live(process, liveness)
        yield
        assert process.poll() is None, f"the operator exited with {process.returncode}"
    log = log_path.read_text(errors="replace")
    for sign in ("Forbidden", "forbidden", " 403"):
        assert sign not in log, f"the operator was refused something ({sign!r}): see {log_path}"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread(region=REGION, create_seconds=0.5, update_seconds=0.5, delete_seconds=0.2) as server:
        yield server


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("chart-install")


@pytest.fixture(scope="module")
def watched(admin_client: ApiClient) -> Iterator[str]:
    name = _create_namespace(admin_client, "watched")
    yield name
    kubernetes.client.CoreV1Api(admin_client).delete_namespace(name)


@pytest.fixture(scope="module")
def default_rules(admin_client: ApiClient, workdir: Path) -> Iterator[set[tuple[str, str, str]]]:
    """Rules every authenticated identity has (system:basic-user and friends; the set grows with the Kubernetes
    version), measured on a ServiceAccount nothing binds: the chart's identity must have these and no others
    beyond what the chart grants."""
    namespace = _create_namespace(admin_client, "bare")
    core = kubernetes.client.CoreV1Api(admin_client)
    core.create_namespaced_service_account(namespace, {"metadata": {"name": "bare"}})
    client = client_from_kubeconfig(service_account_kubeconfig(admin_client, namespace, "bare",
                                                               workdir / "bare.kubeconfig"))
    try:
        rules = _rules(client, namespace)
        assert ("authorization.k8s.io", "selfsubjectrulesreviews", "create") in rules, rules
        assert not rules & EXPECTED_RULES, "any identity may already do what the chart grants: nothing to prove"
        yield rules
    finally:
        client.close()
        core.delete_namespace(namespace)


@pytest.fixture(scope="module")
def namespaced_release(kube: KubeTarget, admin_client: ApiClient, workdir: Path, watched: str,
                       module_helm_tool: Helm) -> Iterator[Release]:
    with installed(kube, admin_client, workdir, [watched], module_helm_tool) as release:
        yield release


@pytest.fixture(scope="module")
def cluster_release(kube: KubeTarget, admin_client: ApiClient, workdir: Path, module_helm_tool: Helm
                    ) -> Iterator[Release]:
    with installed(kube, admin_client, workdir, [], module_helm_tool) as release:
        yield release


def _wait_tags(emulator: EmulatorThread, arn: str, wanted: dict[str, str]) -> None:
    def match() -> bool:
        tags = {t["Key"]: t["Value"] for t in sagemaker(emulator.url).list_tags(ResourceArn=arn)["Tags"]}
        return all(tags.get(k) == v for k, v in wanted.items()) and "stage" not in tags

    wait_for(match, timeout=30, what=f"tags {wanted} on {arn}")


@pytest.fixture(scope="module")
def namespaced_scenario(namespaced_release: Release, admin_client: ApiClient, emulator: EmulatorThread,
                        watched: str, workdir: Path) -> dict[str, int]:
    """The representative scenario under the namespaced release: create, scale in place, roll out a new model and
    revert to the retained revision with variant autoscaling in force, retag, a cross-account model (assumeRoleArn),
    an inference component with autoscaling on an endpoint for components (specification, policy and copy-count
    changes), delete everything. Returns the AWS calls the emulator counted."""
    emulator.admin.reset()
    objects = Objects(admin_client, watched)
    tags = {"team": "ml", "stage": "test"}
    with operator_as(namespaced_release, emulator, workdir / "namespaced-operator.log"):
        objects.create(MODEL, "iam", model_spec(tags=tags, revisionHistoryLimit=1))
        objects.create(CONFIG, "iam", config_spec(("primary", "iam", 1.0, 1), tags=tags, revisionHistoryLimit=1))
        objects.create(ENDPOINT, "iam", {"endpointConfigRef": {"name": "iam"}, "tags": tags})
        objects.create(MODEL, "xacct", model_spec(assumeRoleArn="arn:aws:iam::210987654321:role/deployer"))
        # An endpoint for inference components (variants without a model, an execution role) and one component.
        objects.create(MODEL, "ic", model_spec())
        objects.create(CONFIG, "ic", {"executionRoleArn": EXECUTION_ROLE, "productionVariants": [
            {"variantName": "main", "instanceType": "ml.g5.2xlarge", "initialInstanceCount": 1}]})
        objects.create(ENDPOINT, "ic", {"endpointConfigRef": {"name": "ic"}})
        component = {"endpointRef": {"name": "ic"}, "variantName": "main", "runtimeConfig": {"copyCount": 1},
                     "specification": {"modelRef": {"name": "ic"}, "computeResourceRequirements": {
                         "numberOfCpuCoresRequired": 1, "minMemoryRequiredInMb": 1024}},
                     "autoscaling": {"minCopies": 1, "maxCopies": 2, "policies": [
                         _target_tracking("per-copy", "SageMakerInferenceComponentInvocationsPerCopy")]}}
        objects.create(COMPONENT, "ic", component)
        first = objects.wait_condition(ENDPOINT, "iam", "Ready")["status"]
        objects.wait_condition(MODEL, "xacct", "Ready")

        def component_shows(check: Callable[[dict[str, Any]], bool]) -> bool:
            return (objects.condition(COMPONENT, "ic", "Ready") or {}).get("status") == "True" and check(
                (objects.get(COMPONENT, "ic") or {}).get("status", {}))

        wait_for(lambda: component_shows(lambda s: bool((s.get("autoscaling") or {}).get("targets"))),
                 timeout=60, what="the inference component with its scalable target")
        # A new specification and another policy: UpdateInferenceComponent, then the old policy is deleted.
        objects.patch(COMPONENT, "ic", {"spec": {
            "specification": {"computeResourceRequirements": {"minMemoryRequiredInMb": 2048}},
            "autoscaling": {"policies": [_target_tracking("per-copy-v2",
                                                          "SageMakerInferenceComponentInvocationsPerCopy")]}}})
        wait_for(lambda: component_shows(lambda s: [t["policies"] for t in (s.get("autoscaling") or {})
                                                    .get("targets", [])] == [["per-copy-v2"]]),
                 timeout=60, what="the new specification and policy")
        # Without autoscaling, the copy count is the spec's: UpdateInferenceComponentRuntimeConfig.
        objects.patch(COMPONENT, "ic", {"spec": {"autoscaling": None, "runtimeConfig": {"copyCount": 2}}})
        wait_for(lambda: component_shows(lambda s: s.get("autoscaling") is None and (
            s.get("runtimeConfig") or {}).get("desiredCopyCount") == 2), timeout=60, what="two copies")

        objects.patch(CONFIG, "iam", {"spec": config_spec(("primary", "iam", 1.0, 2))})
        wait_for(lambda: [v.get("currentInstanceCount") for v in (objects.get(ENDPOINT, "iam") or {})
                          .get("status", {}).get("productionVariants", [])] == [2]
                 and (objects.condition(ENDPOINT, "iam", "Ready") or {}).get("status") == "True",
                 timeout=60, what="the instance count to be scaled in place")

        def runs(config_is_first: bool) -> bool:
            status = (objects.get(ENDPOINT, "iam") or {}).get("status", {})
            current = status.get("currentEndpointConfigName")
            return (current is not None and (current == first["currentEndpointConfigName"]) == config_is_first
                    and (objects.condition(ENDPOINT, "iam", "Ready") or {}).get("status") == "True")

        # The autoscaler owns the instance count from now on; the rollout below deregisters and re-registers it.
        objects.patch(ENDPOINT, "iam", {"spec": {"autoscaling": [{
            "variantName": "primary", "minCapacity": 1, "maxCapacity": 3,
            "policies": [_target_tracking("per-instance", "SageMakerVariantInvocationsPerInstance")]}]}})
        wait_for(lambda: bool(((objects.get(ENDPOINT, "iam") or {}).get("status", {}).get("autoscaling") or {})
                              .get("targets")), timeout=30, what="the variant's scalable target")
        original = model_spec()["primaryContainer"]["image"]
        objects.patch(MODEL, "iam", {"spec": {"primaryContainer": {
            "image": "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:2"}}})
        wait_for(lambda: runs(config_is_first=False), timeout=60, what="the new model to be rolled out")
        # Back to the retained revision: found by DescribeModel/DescribeEndpointConfig, not created again.
        objects.patch(MODEL, "iam", {"spec": {"primaryContainer": {"image": original}}})
        wait_for(lambda: runs(config_is_first=True), timeout=60, what="the revert to the first revision")

        objects.patch(ENDPOINT, "iam", {"spec": {"tags": {"team": "ai", "stage": None}}})
        _wait_tags(emulator, first["endpointArn"], {"team": "ai"})

        # A batch transform that completes, and one deleted while it runs (StopTransformJob).
        data = s3(emulator.url)
        data.create_bucket(Bucket="chart-batch")
        data.put_object(Bucket="chart-batch", Key="in/rows.csv", Body=b"1,2\n3,4\n")
        job = {"modelRef": {"name": "ic"}, "transformResources": {"instanceType": "ml.m5.xlarge", "instanceCount": 1},
               "transformInput": {"dataSource": {"s3DataSource": {"s3DataType": "S3Prefix",
                                                                   "s3Uri": "s3://chart-batch/in/"}},
                                  "contentType": "text/csv", "splitType": "Line"},
               "transformOutput": {"s3OutputPath": "s3://chart-batch/out/"}}
        objects.create(JOB, "batch", job)
        objects.wait_condition(JOB, "batch", "Complete")
        emulator.admin.set_durations(transform=60)
        objects.create(JOB, "long", {**job, "transformOutput": {"s3OutputPath": "s3://chart-batch/long/"}})
        wait_for(lambda: (objects.get(JOB, "long") or {}).get("status", {}).get("jobStatus") == "InProgress",
                 timeout=30, what="the long run to start")
        objects.delete(JOB, "long")
        objects.wait_gone(JOB, "long")
        emulator.admin.set_durations(transform=0)
        objects.delete(JOB, "batch")
        objects.wait_gone(JOB, "batch")

        everything = ((ENDPOINT, "iam"), (CONFIG, "iam"), (MODEL, "iam"), (MODEL, "xacct"), (ENDPOINT, "ic"),
                      (COMPONENT, "ic"), (CONFIG, "ic"), (MODEL, "ic"))
        for kind, name in everything:  # all at once: the endpoint waits for its component, configs for endpoints
            objects.delete(kind, name)
        for kind, name in everything:
            objects.wait_gone(kind, name)
        # Scalable targets and policies included; transform jobs stay in AWS as records (there is no delete).
        assert [r for r in emulator.admin.resources() if r["kind"] != "transform-job"] == []
        objects.wait_events("iam", "Created", "UpdateStarted")
    return counters(emulator)


def test_chart_identity_reconciles_a_full_endpoint_in_watched_namespaces(namespaced_release: Release,
                                                                          namespaced_scenario: dict[str, int]) -> None:
    assert "reconciles SageMaker objects in these namespaces only" in namespaced_release.notes
    assert "no IRSA role annotation" in namespaced_release.notes
    assert namespaced_release.operator_args.count(f"--namespace={namespaced_release.watched[0]}") == 1
    for operation in ("CreateEndpoint", "UpdateEndpointWeightsAndCapacities", "UpdateEndpoint", "DeleteEndpoint",
                      "CreateInferenceComponent", "UpdateInferenceComponent", "UpdateInferenceComponentRuntimeConfig",
                      "DeleteInferenceComponent", "RegisterScalableTarget", "DeleteScalingPolicy",
                      "DeregisterScalableTarget"):
        assert namespaced_scenario.get(operation, 0) >= 1, namespaced_scenario


def test_chart_identity_holds_its_lease_in_the_release_namespace_and_no_other(
        namespaced_release: Release, namespaced_scenario: dict[str, int], admin_client: ApiClient,
        watched: str) -> None:
    """The scenario above ran under leader election with the chart's flags: the lease is the release's, in its
    namespace, released at the operator's SIGTERM; the identity may not touch another lease or lease namespace."""
    (deployment,) = by_kind(namespaced_release.documents, "Deployment")
    name = deployment["metadata"]["name"]
    assert f"--leader-election-id={name}" in namespaced_release.operator_args
    assert f"--leader-election-namespace={namespaced_release.namespace}" in namespaced_release.operator_args
    lease = kubernetes.client.CoordinationV1Api(admin_client).read_namespaced_lease(name, namespaced_release.namespace)
    assert lease.spec.holder_identity is None and lease.spec.lease_transitions == 0, "not released on SIGTERM"
    client = client_from_kubeconfig(namespaced_release.kubeconfig)
    try:
        leases = kubernetes.client.CoordinationV1Api(client)
        assert _status(lambda: leases.read_namespaced_lease(name, namespaced_release.namespace)) == 200
        assert _status(lambda: leases.read_namespaced_lease("kube-scheduler", namespaced_release.namespace)) == 403
        assert _status(lambda: leases.read_namespaced_lease(name, watched)) == 403
        assert _status(lambda: leases.create_namespaced_lease(watched, {"metadata": {"name": name}})) == 403
    finally:
        client.close()


def test_chart_identity_reconciles_a_full_endpoint_cluster_wide(
        cluster_release: Release, admin_client: ApiClient, emulator: EmulatorThread, workdir: Path) -> None:
    assert "It reconciles SageMaker objects in all namespaces." in cluster_release.notes
    assert not any(arg.startswith("--namespace") for arg in cluster_release.operator_args)
    namespace = _create_namespace(admin_client, "anywhere")
    objects = Objects(admin_client, namespace)
    try:
        with operator_as(cluster_release, emulator, workdir / "cluster-operator.log"):
            objects.create(MODEL, "wide", model_spec())
            objects.create(CONFIG, "wide", config_spec(("primary", "wide", 1.0, 1)))
            objects.create(ENDPOINT, "wide", {"endpointConfigRef": {"name": "wide"}})
            ready = objects.wait_condition(ENDPOINT, "wide", "Ready")
            assert ready["status"]["endpointStatus"] == "InService"
            objects.wait_events("wide", "Created")
            for kind in (ENDPOINT, CONFIG, MODEL):
                objects.delete(kind, "wide")
            for kind in (ENDPOINT, CONFIG, MODEL):
                objects.wait_gone(kind, "wide")
    finally:
        kubernetes.client.CoreV1Api(admin_client).delete_namespace(namespace)


def _status(call: Callable[[], object]) -> int:
    try:
        call()
    except ApiException as error:
        return int(error.status)
    return 200


def _rules(client: ApiClient, namespace: str) -> set[tuple[str, str, str]]:
    review = kubernetes.client.AuthorizationV1Api(client).create_self_subject_rules_review(
        kubernetes.client.V1SelfSubjectRulesReview(
            spec=kubernetes.client.V1SelfSubjectRulesReviewSpec(namespace=namespace)))
    return rule_set([{"apiGroups": r.api_groups or [], "resources": r.resources or [], "verbs": r.verbs}
                     for r in review.status.resource_rules])


def _assert_refused_everything_else(release: Release, namespace: str) -> None:
    """Real calls the operator never makes, as the chart's identity: each must answer 403 Forbidden."""
    client = client_from_kubeconfig(release.kubeconfig)
    core = kubernetes.client.CoreV1Api(client)
    custom = kubernetes.client.CustomObjectsApi(client)
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": MODEL, "metadata": {"name": "nope"}, "spec": model_spec()}
    refused = {
        "list secrets": lambda: core.list_namespaced_secret(namespace),
        "read a secret": lambda: core.read_namespaced_secret("any", namespace),
        "list secrets in its own namespace": lambda: core.list_namespaced_secret(release.namespace),
        "create a configmap": lambda: core.create_namespaced_config_map(namespace, {
            "metadata": {"name": "nope"}, "data": {}}),
        "list pods": lambda: core.list_namespaced_pod(namespace),
        "list namespaces": lambda: core.list_namespace(),
        "read events": lambda: core.list_namespaced_event(namespace),
        "patch its own deployment": lambda: kubernetes.client.AppsV1Api(client).patch_namespaced_deployment(
            release.documents and by_kind(release.documents, "Deployment")[0]["metadata"]["name"],
            release.namespace, {"metadata": {"labels": {"hijacked": "true"}}}),
        "delete a CRD": lambda: kubernetes.client.ApiextensionsV1Api(client).delete_custom_resource_definition(
            "sagemakerendpoints.sagemaker.operator.dev"),
        "list CRDs": lambda: kubernetes.client.ApiextensionsV1Api(client).list_custom_resource_definition(),
        "create a SageMakerModel": lambda: custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, "sagemakermodels", body),
        "get a SageMakerModel": lambda: custom.get_namespaced_custom_object(
            GROUP, VERSION, namespace, "sagemakermodels", "any"),
        "delete SageMakerEndpoints": lambda: custom.delete_collection_namespaced_custom_object(
            GROUP, VERSION, namespace, "sagemakerendpoints"),
        "create a ClusterRoleBinding": lambda: kubernetes.client.RbacAuthorizationV1Api(client)
        .create_cluster_role_binding({"metadata": {"name": "nope"}, "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "x", "namespace": namespace}]}),
    }
    try:
        answers = {what: _status(call) for what, call in refused.items()}
        assert answers == dict.fromkeys(refused, 403)
        assert _status(lambda: custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, "sagemakerendpoints")) == 200
    finally:
        client.close()


def test_namespaced_identity_has_exactly_the_rules_it_needs(namespaced_release: Release, admin_client: ApiClient,
                                                           watched: str, default_rules: set[tuple[str, str, str]]
                                                           ) -> None:
    client = client_from_kubeconfig(namespaced_release.kubeconfig)
    other = _create_namespace(admin_client, "unwatched")
    try:
        assert _rules(client, watched) == EXPECTED_RULES | default_rules
        assert _rules(client, other) == default_rules
        assert _rules(client, namespaced_release.namespace) == LEASE_RULES | default_rules
        custom = kubernetes.client.CustomObjectsApi(client)
        assert _status(lambda: custom.list_namespaced_custom_object(GROUP, VERSION, other, "sagemakerendpoints")) \
            == 403
        assert _status(lambda: custom.list_cluster_custom_object(GROUP, VERSION, "sagemakerendpoints")) == 403
    finally:
        client.close()
        kubernetes.client.CoreV1Api(admin_client).delete_namespace(other)
    _assert_refused_everything_else(namespaced_release, watched)


def test_cluster_wide_identity_has_exactly_the_rules_it_needs(cluster_release: Release, admin_client: ApiClient,
                                                             default_rules: set[tuple[str, str, str]]) -> None:
    client = client_from_kubeconfig(cluster_release.kubeconfig)
    anywhere = _create_namespace(admin_client, "anywhere")
    try:
        assert _rules(client, anywhere) == EXPECTED_RULES | default_rules
        assert _rules(client, cluster_release.namespace) == EXPECTED_RULES | LEASE_RULES | default_rules
        custom = kubernetes.client.CustomObjectsApi(client)
        assert _status(lambda: custom.list_cluster_custom_object(GROUP, VERSION, "sagemakerendpoints")) == 200
        _assert_refused_everything_else(cluster_release, anywhere)
    finally:
        client.close()
        kubernetes.client.CoreV1Api(admin_client).delete_namespace(anywhere)


def _iam_actions(operations: dict[str, int]) -> set[str]:
    """IAM actions for the AWS operations the emulator counted (its counters name operations, not services)."""
    session = botocore.session.get_session()
    services = {prefix: set(session.get_service_model(service).operation_names)
                for prefix, service in (("sagemaker", "sagemaker"), ("sts", "sts"),
                                        ("application-autoscaling", "application-autoscaling"),
                                        ("tag", "resourcegroupstaggingapi"))}
    actions = set()
    for operation in operations:
        if operation.startswith("S3."):
            # The test's own data uploads, and the operator's count of a transform job's output objects, which it
            # leaves out where the role may not list the bucket (no S3 statement in the base policy).
            continue
        owners = [prefix for prefix, names in services.items() if operation in names]
        assert len(owners) == 1, f"cannot tell which service {operation} belongs to: {owners}"
        actions.add(f"{owners[0]}:{operation}")
    # STS answers GetCallerIdentity to anyone, even under an explicit deny: no policy statement is needed.
    actions.discard("sts:GetCallerIdentity")
    # CreateModel passes the model's execution role to SageMaker: IAM checks iam:PassRole on it.
    if "sagemaker:CreateModel" in actions:
        actions.add("iam:PassRole")
    return actions


def _policy_actions(policy: dict[str, Any]) -> set[str]:
    actions: set[str] = set()
    for statement in policy["Statement"]:
        value = statement["Action"]
        actions.update([value] if isinstance(value, str) else value)
    return actions


def test_iam_policy_allows_every_call_and_nothing_unused(namespaced_scenario: dict[str, int]) -> None:
    used = _iam_actions(namespaced_scenario)
    allowed = _policy_actions(json.loads(IAM_POLICY.read_text()))
    assert used - allowed == set(), f"calls the policy does not allow: {sorted(used - allowed)}"
    counted = allowed - IMPLIED_ACTIONS
    assert counted - used == set(), f"actions the policy allows but the scenario never used: {sorted(counted - used)}"
    assert allowed >= IMPLIED_ACTIONS, f"implied actions missing from the policy: {sorted(IMPLIED_ACTIONS - allowed)}"
    assert not IMPLIED_ACTIONS & used, "an implied action is called directly: count it instead"


# --- install, upgrade and uninstall with each helm ---------------------------------------------------------------

def _live(dynamic: DynamicClient, document: dict[str, Any], namespace: str) -> dict[str, Any] | None:
    """The object a manifest document stands for, as the API server has it; None when it does not exist."""
    resource = dynamic.resources.get(api_version=document["apiVersion"], kind=document["kind"])
    metadata = document["metadata"]
    try:
        if resource.namespaced:
            found = resource.get(name=metadata["name"], namespace=metadata.get("namespace", namespace))
        else:
            found = resource.get(name=metadata["name"])
    except NotFoundError:
        return None
    live: dict[str, Any] = found.to_dict()
    return live


def _key(document: dict[str, Any]) -> tuple[str, str, str]:
    return document["kind"], document["metadata"].get("namespace", ""), document["metadata"]["name"]


def _assert_applied(dynamic: DynamicClient, documents: list[dict[str, Any]], name: str, namespace: str,
                    operation: str) -> None:
    """Every document exists, belongs to release ``name``, and helm wrote it with ``operation``: "Apply" when
    it applies server-side (helm 4's default), "Update" for a client-side create or patch (helm 3)."""
    assert documents
    for document in documents:
        live = _live(dynamic, document, namespace)
        assert live is not None, f"{_key(document)} is missing"
        metadata = live["metadata"]
        assert metadata["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        assert metadata["annotations"]["meta.helm.sh/release-name"] == name
        assert metadata["annotations"]["meta.helm.sh/release-namespace"] == namespace
        writers = {(entry["manager"], entry["operation"]) for entry in metadata["managedFields"]}
        assert ("helm", operation) in writers, f"{_key(document)} written by {writers}"


def _history(tool: Helm, kube: KubeTarget, name: str, namespace: str) -> list[tuple[int, str]]:
    result = tool.run("history", name, "--namespace", namespace, "--output", "json", kubeconfig=kube.kubeconfig)
    return [(int(entry["revision"]), entry["status"]) for entry in json.loads(result.stdout)]


def _release_lifecycle(installer: Helm, upgrader: Helm, kube: KubeTarget, admin: ApiClient, workdir: Path,
                       default_rules: set[tuple[str, str, str]]) -> None:
    """``installer`` installs the chart cluster-wide; ``upgrader`` upgrades the release to one watched namespace,
    then uninstalls it. Each step is checked in the API server: the objects, the owner helm records, and what the
    chart's ServiceAccount may do."""
    skip_unless_installable(installer, admin)
    namespace, watched, other = (_create_namespace(admin, prefix) for prefix in ("life", "watched", "other"))
    name = f"smo-{uuid.uuid4().hex[:6]}"
    dynamic = DynamicClient(admin)
    values = {"region": REGION, "clusterId": "chart-test"}
    client: ApiClient | None = None
    try:
        installed_notes = installer.run("install", name, str(CHART), "--namespace", namespace, *set_args(values),
                                        kubeconfig=kube.kubeconfig, timeout=180).stdout
        assert "It reconciles SageMaker objects in all namespaces." in installed_notes
        first = _manifest(installer, kube, name, namespace)
        # The finalizer policy where the API server serves its API (Kubernetes >= 1.36).
        policy = {"MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding"} if server_minor(admin) >= 36 else set()
        assert {d["kind"] for d in first} == {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment",
                                              "Role", "RoleBinding", "PodDisruptionBudget", *policy}
        operation = "Apply" if installer.applies_server_side else "Update"
        _assert_applied(dynamic, first, name, namespace, operation)
        (account,) = by_kind(first, "ServiceAccount")
        client = client_from_kubeconfig(service_account_kubeconfig(
            admin, namespace, account["metadata"]["name"], workdir / f"{name}.kubeconfig"))
        assert _rules(client, other) == EXPECTED_RULES | default_rules

        upgraded_notes = upgrader.run("upgrade", name, str(CHART), "--namespace", namespace,
                                      *set_args({**values, "watchNamespaces": [watched]}),
                                      kubeconfig=kube.kubeconfig, timeout=180).stdout
        assert f"It reconciles SageMaker objects in these namespaces only: {watched}." in upgraded_notes
        second = _manifest(upgrader, kube, name, namespace)
        # helm 4's upgrade keeps the method the release was installed with (--server-side defaults to "auto"),
        # so a release of helm 3 stays client-side after helm 4 upgrades it.
        _assert_applied(dynamic, second, name, namespace, operation)
        removed = {_key(d) for d in first} - {_key(d) for d in second}
        assert {kind for kind, _, _ in removed} == {"ClusterRole", "ClusterRoleBinding"}
        for document in first:
            if _key(document) in removed:
                assert _live(dynamic, document, namespace) is None, f"{_key(document)} survived the upgrade"
        (deployment,) = by_kind(second, "Deployment")
        live_deployment = _live(dynamic, deployment, namespace)
        assert live_deployment is not None
        assert f"--namespace={watched}" in live_deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        assert _rules(client, watched) == EXPECTED_RULES | default_rules
        assert _rules(client, other) == default_rules
        for binding in by_kind(second, "MutatingAdmissionPolicyBinding"):
            # The finalizer now goes on new objects of the watched namespace only.
            live_binding = _live(dynamic, binding, namespace) or {}
            selector = live_binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"]
            assert selector == [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": [watched]}]
        assert _history(upgrader, kube, name, namespace) == [(1, "superseded"), (2, "deployed")]

        assert "uninstalled" in upgrader.run("uninstall", name, "--namespace", namespace,
                                             kubeconfig=kube.kubeconfig, timeout=120).stdout
        for document in first + second:
            assert _live(dynamic, document, namespace) is None, f"{_key(document)} survived the uninstall"
        listed = upgrader.run("list", "--namespace", namespace, "--output", "json", kubeconfig=kube.kubeconfig)
        assert json.loads(listed.stdout) == []
        # The CRDs stay, by design (deleting them would delete every SageMaker object in the cluster).
        crds = kubernetes.client.ApiextensionsV1Api(admin).list_custom_resource_definition().items
        assert f"sagemakermodels.{GROUP}" in {crd.metadata.name for crd in crds}
    finally:
        if client is not None:
            client.close()
        # After a failure on the way (after a success this only says the release is gone).
        upgrader.run("uninstall", name, "--namespace", namespace, kubeconfig=kube.kubeconfig, check=False)
        for each in (namespace, watched, other):
            kubernetes.client.CoreV1Api(admin).delete_namespace(each)


def test_install_upgrade_uninstall(helm_tool: Helm, kube: KubeTarget, admin_client: ApiClient, workdir: Path,
                                   default_rules: set[tuple[str, str, str]]) -> None:
    _release_lifecycle(helm_tool, helm_tool, kube, admin_client, workdir, default_rules)


@pytest.mark.parametrize("upgrader", HELMS[1:], ids=lambda tool: tool.id)
def test_a_release_of_the_oldest_helm_upgrades_and_uninstalls_with(
        upgrader: Helm, kube: KubeTarget, admin_client: ApiClient, workdir: Path,
        default_rules: set[tuple[str, str, str]]) -> None:
    OLDEST_HELM.require()
    upgrader.require()
    _release_lifecycle(OLDEST_HELM, upgrader, kube, admin_client, workdir, default_rules)
