"""The IAM policy shipped with the chart, checked offline: well-formed, explicit actions only, PassRole only to
SageMaker, ``*`` resources only where AWS offers no resource-level permission, and the actions AWS implies for
Application Auto Scaling scoped as tightly as AWS allows. That it allows exactly what the operator calls is checked
against the emulator's counters in test_chart_install.py."""

from __future__ import annotations

import json
from typing import Any

from tests.chart.tools import CHART

POLICY = CHART / "iam-policy.json"
SERVICES = {"sagemaker", "iam", "sts", "application-autoscaling", "cloudwatch", "tag"}
# Actions without resource-level permissions (the Service Authorization Reference lists no resource type for them):
# a statement with them must say "*", and nothing else may.
STAR_RESOURCE_ACTIONS = {"application-autoscaling:DescribeScalingPolicies", "cloudwatch:DescribeAlarms",
                         # Drift checks by the page.
                         "sagemaker:ListEndpoints", "sagemaker:ListEndpointConfigs", "sagemaker:ListModels",
                         "sagemaker:ListInferenceComponents", "tag:GetResources"}
# Never called by the operator, required by AWS for its Application Auto Scaling calls (docs/install.md, "2. IAM",
# gives the source for each); the same list as IMPLIED_ACTIONS in test_chart_install.py.
IMPLIED_ACTIONS = {"cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms",
                   "iam:CreateServiceLinkedRole"}
AUTOSCALING_ROLE = ("arn:aws:iam::*:role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
                    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint")


def _statements() -> list[dict[str, Any]]:
    policy = json.loads(POLICY.read_text())
    assert policy["Version"] == "2012-10-17"
    statements: list[dict[str, Any]] = policy["Statement"]
    return statements


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _with(action: str) -> list[dict[str, Any]]:
    return [s for s in _statements() if action in _as_list(s["Action"])]


def test_policy_allows_named_actions_only() -> None:
    statements = _statements()
    sids = [s["Sid"] for s in statements]
    assert len(sids) == len(set(sids)), "each statement has its own Sid (new features add their own)"
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement
        actions = _as_list(statement["Action"])
        for action in actions:
            service, _, name = action.partition(":")
            assert service in SERVICES and name.isalnum(), f"not an explicit action: {action}"
        resources = _as_list(statement["Resource"])
        if "*" in resources:
            assert resources == ["*"], statement["Sid"]
            assert set(actions) <= STAR_RESOURCE_ACTIONS, \
                f"{statement['Sid']} applies {sorted(set(actions) - STAR_RESOURCE_ACTIONS)} to every resource"
        else:
            assert not set(actions) & STAR_RESOURCE_ACTIONS, f"{statement['Sid']}: these take no resource ARN"


def test_pass_role_only_to_sagemaker_and_only_roles() -> None:
    (passing,) = _with("iam:PassRole")
    assert _as_list(passing["Action"]) == ["iam:PassRole"]
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert all(r.startswith("arn:aws:iam::") and ":role/" in r for r in _as_list(passing["Resource"]))
    (assuming,) = _with("sts:AssumeRole")
    assert all(":role/" in r for r in _as_list(assuming["Resource"]))
    sagemaker = [s for s in _statements() if any(a.startswith("sagemaker:") for a in _as_list(s["Action"]))]
    resources = {r for s in sagemaker for r in _as_list(s["Resource"]) if r != "*"}
    assert resources == {"arn:aws:sagemaker:*:*:model/*", "arn:aws:sagemaker:*:*:endpoint-config/*",
                         "arn:aws:sagemaker:*:*:endpoint/*", "arn:aws:sagemaker:*:*:inference-component/*",
                         "arn:aws:sagemaker:*:*:transform-job/*"}
    jobs = [s for s in sagemaker if any("TransformJob" in a for a in _as_list(s["Action"]))]
    assert {r for s in jobs for r in _as_list(s["Resource"])} == {"arn:aws:sagemaker:*:*:transform-job/*"}
    components = [s for s in sagemaker if any("InferenceComponent" in a and not a.startswith("sagemaker:List")
                                              for a in _as_list(s["Action"]))]
    assert {r for s in components for r in _as_list(s["Resource"])} == {
        "arn:aws:sagemaker:*:*:inference-component/*"}


def test_autoscaling_writes_are_on_scalable_targets_only() -> None:
    statements = [s for s in _statements()
                  if any(a.startswith("application-autoscaling:") for a in _as_list(s["Action"]))]
    for statement in statements:
        resources = _as_list(statement["Resource"])
        assert resources in (["*"], ["arn:aws:application-autoscaling:*:*:scalable-target/*"]), statement["Sid"]


def test_implied_actions_are_scoped_as_aws_scopes_them() -> None:
    actions = {a for s in _statements() for a in _as_list(s["Action"])}
    assert actions >= IMPLIED_ACTIONS
    (linked,) = _with("iam:CreateServiceLinkedRole")
    assert _as_list(linked["Action"]) == ["iam:CreateServiceLinkedRole"]
    assert _as_list(linked["Resource"]) == [AUTOSCALING_ROLE]
    assert linked["Condition"] == {
        "StringLike": {"iam:AWSServiceName": "sagemaker.application-autoscaling.amazonaws.com"}}
    for action in ("cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms"):
        (alarms,) = _with(action)
        # Only the alarms target tracking policies create, as AWSApplicationAutoscalingSageMakerEndpointPolicy.
        assert _as_list(alarms["Resource"]) == ["arn:aws:cloudwatch:*:*:alarm:TargetTracking*"], action
    cloudwatch = {a for a in actions if a.startswith("cloudwatch:")}
    assert cloudwatch == {a for a in IMPLIED_ACTIONS if a.startswith("cloudwatch:")}, "no other CloudWatch action"
    iam = {a for a in actions if a.startswith("iam:")}
    assert iam == {"iam:PassRole", "iam:CreateServiceLinkedRole"}
