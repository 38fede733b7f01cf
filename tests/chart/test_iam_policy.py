"""The IAM policy shipped with the chart, checked offline: well-formed, explicit actions only, PassRole only to
SageMaker. That it allows exactly what the operator calls is checked against the emulator's counters in
test_chart_install.py."""

from __future__ import annotations

import json
from typing import Any

from tests.chart.tools import CHART

POLICY = CHART / "iam-policy.json"


def _statements() -> list[dict[str, Any]]:
    policy = json.loads(POLICY.read_text())
    assert policy["Version"] == "2012-10-17"
    statements: list[dict[str, Any]] = policy["Statement"]
    return statements


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def test_policy_allows_named_actions_only() -> None:
    statements = _statements()
    sids = [s["Sid"] for s in statements]
    assert len(sids) == len(set(sids)), "each statement has its own Sid (new features add their own)"
    for statement in statements:
        assert statement["Effect"] == "Allow"
        assert "NotAction" not in statement and "NotResource" not in statement
        for action in _as_list(statement["Action"]):
            service, _, name = action.partition(":")
            assert service in {"sagemaker", "iam", "sts"} and name.isalnum(), f"not an explicit action: {action}"
        for resource in _as_list(statement["Resource"]):
            assert resource != "*", f"{statement['Sid']} applies to every resource"


def test_pass_role_only_to_sagemaker_and_only_roles() -> None:
    (passing,) = [s for s in _statements() if "iam:PassRole" in _as_list(s["Action"])]
    assert _as_list(passing["Action"]) == ["iam:PassRole"]
    assert passing["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    assert all(r.startswith("arn:aws:iam::") and ":role/" in r for r in _as_list(passing["Resource"]))
    (assuming,) = [s for s in _statements() if "sts:AssumeRole" in _as_list(s["Action"])]
    assert all(":role/" in r for r in _as_list(assuming["Resource"]))
    sagemaker = [s for s in _statements() if any(a.startswith("sagemaker:") for a in _as_list(s["Action"]))]
    resources = {r for s in sagemaker for r in _as_list(s["Resource"])}
    assert resources == {"arn:aws:sagemaker:*:*:model/*", "arn:aws:sagemaker:*:*:endpoint-config/*",
                         "arn:aws:sagemaker:*:*:endpoint/*"}
