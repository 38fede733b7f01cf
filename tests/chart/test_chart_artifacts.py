"""The chart's artifact tracking values: the flags, and the IAM statement scoped to the listed buckets, rendered
only when tracking is on."""

from __future__ import annotations

import json

from tests.chart.tools import CHART, Helm, by_kind, helm, set_args, template


def _iam_statements(documents: list[dict[str, object]]) -> list[dict[str, object]]:
    return [c for c in by_kind(documents, "ConfigMap") if str(c["metadata"]["name"]).endswith("-iam-artifacts")]  # type: ignore[index]


def test_tracking_on_renders_the_flags_and_a_statement_for_the_listed_buckets(helm_tool: Helm) -> None:
    rendered = template({"artifactTracking": {"enabled": True, "checkSeconds": 120,
                                              "buckets": ["models", "shared-weights"]}}, tool=helm_tool)
    [deployment] = by_kind(rendered, "Deployment")
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--artifact-tracking" in args and "--artifact-check-seconds=120" in args
    [config] = _iam_statements(rendered)
    statement = json.loads(config["data"]["statement.json"])
    assert statement["Action"] == ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket"]
    assert statement["Resource"] == ["arn:aws:s3:::models", "arn:aws:s3:::models/*", "arn:aws:s3:::shared-weights",
                                     "arn:aws:s3:::shared-weights/*"]


def test_tracking_off_renders_no_statement_and_on_without_buckets_is_refused(helm_tool: Helm) -> None:
    rendered = template(tool=helm_tool)
    [deployment] = by_kind(rendered, "Deployment")
    assert "--artifact-tracking" not in deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert not _iam_statements(rendered)
    refused = helm("template", "smo", str(CHART), *set_args({"artifactTracking": {"enabled": True}}), check=False,
                   tool=helm_tool)
    assert refused.returncode != 0 and "artifactTracking.buckets" in refused.stderr
