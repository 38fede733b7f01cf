"""The Helm chart rendered offline: lint, several value sets, the schema refusing bad values, least-privilege RBAC
and the CRDs being the generated ones. No cluster needed."""

from __future__ import annotations

import tarfile
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from sagemaker_operator import __version__
from sagemaker_operator.api.kinds import KINDS as API_KINDS
from sagemaker_operator.cli import run as run_command
from tests.chart.tools import CHART, REPO, by_kind, helm, set_args, template

GROUP = "sagemaker.operator.dev"
# Every kind the operator reconciles: a new kind without RBAC fails here.
KINDS = tuple(kind.plural for kind in API_KINDS)
# (apiGroup, resource, verb): exactly the calls `sagemaker-operator run` makes (see _helpers.tpl for why).
EXPECTED_RULES = {
    *((GROUP, plural, verb) for plural in KINDS for verb in ("list", "watch", "patch")),
    *((GROUP, f"{plural}/status", "patch") for plural in KINDS),
    ("", "events", "create"),
}


def rule_set(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """A role's rules flattened to (apiGroup, resource, verb)."""
    return {(group, resource, verb) for rule in rules for group in rule.get("apiGroups", [])
            for resource in rule.get("resources", []) for verb in rule.get("verbs", [])}


def container(documents: list[dict[str, Any]]) -> dict[str, Any]:
    (deployment,) = by_kind(documents, "Deployment")
    (operator,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(operator)


def test_helm_lint_is_clean() -> None:
    result = helm("lint", "--strict", str(CHART))
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout, result.stdout


def test_app_version_and_default_image_tag_are_the_package_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    package = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    assert chart["appVersion"] == package == __version__
    assert container(template())["image"] == f"sagemaker-operator:{package}"
    pinned = container(template({"image": {"repository": "r.example/smo", "digest": "sha256:" + "a" * 64}}))
    assert pinned["image"] == "r.example/smo@sha256:" + "a" * 64


def test_chart_crds_are_the_generated_ones(tmp_path: Path) -> None:
    # One place: the chart's crds/ is a link to the generated crds/ (whose freshness tests/unit checks), so it
    # can never be stale.
    link = CHART / "crds"
    assert link.is_symlink() and link.resolve() == (REPO / "crds").resolve(), \
        "charts/sagemaker-operator/crds must stay a symlink to ../../crds (the generated CRDs)"
    generated = {p.name: p.read_bytes() for p in sorted((REPO / "crds").glob("*.yaml"))}
    names = {yaml.safe_load(b)["metadata"]["name"] for b in generated.values()}
    assert {f"{plural}.{GROUP}" for plural in KINDS} <= names
    # helm follows the link when it renders...
    rendered = helm("template", "smo", str(CHART), "--include-crds").stdout
    crds = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "CustomResourceDefinition"]
    assert {d["metadata"]["name"] for d in crds} == names
    # ...and a packaged chart (what users install from a chart repository) holds the files themselves.
    helm("package", str(CHART), "--destination", str(tmp_path))
    (package,) = tmp_path.glob("sagemaker-operator-*.tgz")
    with tarfile.open(package) as archive:
        packaged = {Path(m.name).name: archive.extractfile(m).read()  # type: ignore[union-attr]
                    for m in archive.getmembers() if m.isfile() and "/crds/" in m.name}
    assert packaged == generated


def test_default_values_run_cluster_wide_with_a_hardened_pod() -> None:
    documents = template()
    assert {d["kind"] for d in documents} == {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment"}
    (deployment,) = by_kind(documents, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
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


def test_rendered_args_are_flags_the_operator_accepts() -> None:
    values = {"watchNamespaces": ["team-a", "team-b"], "region": "eu-west-1", "clusterId": "prod-eu",
              "resyncSeconds": 120, "tagCheckEvery": 3, "pollInitialSeconds": 2.5, "pollMaxSeconds": 30,
              "workers": 4, "awsRetryMode": "adaptive", "awsMaxAttempts": 3, "logFormat": "plain", "verbose": True,
              "livenessPort": 8081,
              "metrics": {"port": 9191}, "extraArgs": ["--workers=5"]}
    args = container(template(values))["args"]
    params = run_command.make_context("run", list(args)).params
    assert params["namespaces"] == ("team-a", "team-b")
    assert params["region"] == "eu-west-1" and params["cluster_id"] == "prod-eu"
    assert params["resync_seconds"] == 120 and params["tag_check_every"] == 3
    assert params["poll_initial_seconds"] == 2.5 and params["poll_max_seconds"] == 30
    assert params["liveness_port"] == 8081 and params["metrics_port"] == 9191
    assert params["log_format"] == "plain" and params["verbose"] is True
    assert params["aws_retry_mode"] == "adaptive" and params["aws_max_attempts"] == 3
    assert params["workers"] == 5, "extraArgs come last, so they win"
    off = run_command.make_context("run", list(container(template({"metrics": {"enabled": False}}))["args"]))
    assert off.params["metrics_port"] == 0


@pytest.mark.parametrize("namespaces", [[], ["team-a"], ["team-a", "team-b"]])
def test_rbac_is_exactly_what_the_operator_uses(namespaces: list[str]) -> None:
    documents = template({"watchNamespaces": namespaces})
    roles = by_kind(documents, "ClusterRole") + by_kind(documents, "Role")
    bindings = by_kind(documents, "ClusterRoleBinding") + by_kind(documents, "RoleBinding")
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


def test_rbac_can_be_left_to_the_user() -> None:
    documents = template({"rbac": {"create": False}, "serviceAccount": {"create": False, "name": "mine"}})
    assert {d["kind"] for d in documents} == {"Deployment"}
    assert by_kind(documents, "Deployment")[0]["spec"]["template"]["spec"]["serviceAccountName"] == "mine"


def test_metrics_service_and_service_monitor() -> None:
    documents = template({"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}}})
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
    only_service = template({"metrics": {"service": {"enabled": True}}})
    assert by_kind(only_service, "Service") and not by_kind(only_service, "ServiceMonitor")
    disabled = template({"metrics": {"enabled": False, "service": {"enabled": True}}})
    assert not by_kind(disabled, "Service")
    assert "metrics" not in {p["name"] for p in container(disabled)["ports"]}


def test_irsa_annotation_is_on_the_service_account() -> None:
    role = "arn:aws:iam::111122223333:role/sagemaker-operator"
    documents = template({"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": role}}})
    (account,) = by_kind(documents, "ServiceAccount")
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": role}


@pytest.mark.parametrize(("values", "message"), [
    ({"region": "moon-1"}, "region: Does not match pattern"),
    ({"watchNamespaces": ["Team_A"]}, "watchNamespaces.0: Does not match pattern"),
    ({"watchNamespaces": ["a", "a"]}, "watchNamespaces: array items[0,1] must be unique"),
    ({"logFormat": "xml"}, "logFormat: logFormat must be one of the following"),
    ({"workers": 0}, "workers: Must be greater than or equal to 1"),
    ({"awsRetryMode": "legacy"}, "awsRetryMode: awsRetryMode must be one of the following"),
    ({"resyncSeconds": "often"}, "resyncSeconds: Invalid type. Expected: number"),
    ({"metrics": {"port": 70000}}, "metrics.port: Must be less than or equal to 65535"),
    ({"image": {"pullPolicy": "Sometimes"}}, "image.pullPolicy: image.pullPolicy must be one of the following"),
    ({"serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "my-role"}}},
     "eks.amazonaws.com/role-arn: Does not match pattern"),
    ({"replicas": 2}, "Additional property replicas is not allowed"),
])
def test_bad_values_are_refused_with_a_message(values: dict[str, Any], message: str) -> None:
    result = helm("template", "smo", str(CHART), *set_args(values), check=False)
    assert result.returncode != 0, f"{values} was accepted"
    assert "values don't meet the specifications of the schema" in result.stderr
    assert message in result.stderr, result.stderr


def test_service_account_name_is_required_when_not_created() -> None:
    result = helm("template", "smo", str(CHART), *set_args({"serviceAccount": {"create": False}}), check=False)
    assert result.returncode != 0
    assert "serviceAccount.name is required when serviceAccount.create is false" in result.stderr
