"""The chart's high availability, rendered offline: two replicas under leader election, a rolling update, a
PodDisruptionBudget, replicas spread over nodes, and RBAC for the Lease in the release's namespace only."""

from __future__ import annotations

from typing import Any

import pytest

from sagemaker_operator.cli import run as run_command
from tests.chart.test_chart_render import LEASE_RULES, container, rule_set
from tests.chart.tools import CHART, Helm, by_kind, helm, set_args, template

SELECTOR = {"app.kubernetes.io/name": "sagemaker-operator", "app.kubernetes.io/instance": "smo"}


def _lease_role(documents: list[dict[str, Any]]) -> dict[str, Any]:
    (role,) = [r for r in by_kind(documents, "Role") if r["metadata"]["name"].endswith("-leader-election")]
    return role


def test_defaults_run_a_leader_and_a_standby_that_roll_without_a_gap(helm_tool: Helm) -> None:
    documents = template(tool=helm_tool)
    (deployment,) = by_kind(documents, "Deployment")
    spec = deployment["spec"]
    assert spec["replicas"] == 2
    # The new pod starts (as a standby) before an old one goes; the old leader releases its lease on SIGTERM.
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    pod = spec["template"]["spec"]
    (term,) = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"] == {"topologyKey": "kubernetes.io/hostname",
                                       "labelSelector": {"matchLabels": SELECTOR}}
    operator = container(documents)
    assert {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}} in operator["env"]
    params = run_command.make_context("run", list(operator["args"])).params
    assert params["leader_elect"] is True
    assert params["leader_election_namespace"] == "ops"
    assert params["leader_election_id"] == "smo-sagemaker-operator"
    assert (params["leader_election_lease_duration"], params["leader_election_renew_deadline"],
            params["leader_election_retry_period"]) == (15, 10, 2)
    (budget,) = by_kind(documents, "PodDisruptionBudget")
    assert budget["apiVersion"] == "policy/v1"
    assert budget["spec"] == {"maxUnavailable": 1, "selector": {"matchLabels": SELECTOR}}


def test_the_lease_rbac_is_a_role_in_the_release_namespace_scoped_to_the_lease(helm_tool: Helm) -> None:
    for namespaces in ([], ["team-a"]):
        documents = template({"watchNamespaces": namespaces}, tool=helm_tool)
        role = _lease_role(documents)
        assert role["metadata"]["namespace"] == "ops"
        assert rule_set(role["rules"]) == LEASE_RULES
        # get and update only on the release's own lease; create cannot be limited by name in RBAC.
        for rule in role["rules"]:
            if rule["verbs"] == ["create"]:
                assert "resourceNames" not in rule
            else:
                assert rule["resourceNames"] == ["smo-sagemaker-operator"]
        (binding,) = [b for b in by_kind(documents, "RoleBinding")
                      if b["metadata"]["name"] == role["metadata"]["name"]]
        assert binding["metadata"]["namespace"] == "ops"
        assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                      "name": role["metadata"]["name"]}
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "smo-sagemaker-operator",
                                        "namespace": "ops"}]
        assert not any(r["metadata"]["name"].endswith("-leader-election") for r in by_kind(documents, "ClusterRole"))


def test_lease_id_and_durations_are_values(helm_tool: Helm) -> None:
    documents = template({"leaderElection": {"id": "shard-a", "leaseDurationSeconds": 30, "renewDeadlineSeconds": 20,
                                             "retryPeriodSeconds": 4}}, tool=helm_tool)
    params = run_command.make_context("run", list(container(documents)["args"])).params
    assert params["leader_election_id"] == "shard-a"
    assert (params["leader_election_lease_duration"], params["leader_election_renew_deadline"],
            params["leader_election_retry_period"]) == (30, 20, 4)
    assert _lease_role(documents)["rules"][1]["resourceNames"] == ["shard-a"]


def test_one_replica_without_election(helm_tool: Helm) -> None:
    documents = template({"replicas": 1, "leaderElection": {"enabled": False}}, tool=helm_tool)
    assert not by_kind(documents, "PodDisruptionBudget"), "a budget of one pod would block every node drain"
    assert not [r for r in by_kind(documents, "Role") if r["metadata"]["name"].endswith("-leader-election")]
    params = run_command.make_context("run", list(container(documents)["args"])).params
    assert params["leader_elect"] is False


def test_two_replicas_without_election_are_refused(helm_tool: Helm) -> None:
    result = helm("template", "smo", str(CHART), *set_args({"leaderElection": {"enabled": False}}), check=False,
                  tool=helm_tool)
    assert result.returncode != 0
    assert "replicas > 1 needs leaderElection.enabled" in result.stderr


def test_anti_affinity_choices_and_an_explicit_affinity(helm_tool: Helm) -> None:
    required = template({"podAntiAffinity": "required"}, tool=helm_tool)
    pod = by_kind(required, "Deployment")[0]["spec"]["template"]["spec"]
    (term,) = pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    none = by_kind(template({"podAntiAffinity": "none"}, tool=helm_tool), "Deployment")[0]
    assert "affinity" not in none["spec"]["template"]["spec"]
    mine = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "pool", "operator": "In", "values": ["system"]}]}]}}}
    explicit = by_kind(template({"affinity": mine}, tool=helm_tool), "Deployment")[0]
    assert explicit["spec"]["template"]["spec"]["affinity"] == mine


def test_budget_uses_policy_v1beta1_on_kubernetes_1_20(helm_tool: Helm) -> None:
    result = helm("template", "smo", str(CHART), "--kube-version", "v1.20.2", tool=helm_tool)
    assert "apiVersion: policy/v1beta1\nkind: PodDisruptionBudget" in result.stdout


@pytest.mark.parametrize("values", [{"replicas": 0}, {"podAntiAffinity": "always"},
                                    {"leaderElection": {"id": "Not_A_Name"}},
                                    {"leaderElection": {"renewDeadlineSeconds": 0}}])
def test_bad_ha_values_are_refused(helm_tool: Helm, values: dict[str, Any]) -> None:
    result = helm("template", "smo", str(CHART), *set_args(values), check=False, tool=helm_tool)
    assert result.returncode != 0, f"{values} was accepted"
    assert "values don't meet the specifications of the schema" in result.stderr
