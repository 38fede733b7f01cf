"""The chart's alerts (PrometheusRule) and Grafana dashboard (ConfigMap), both opt-in.

- Rendered by every helm of the matrix with the switches on and off, and with the overrides users of the Prometheus
  Operator and Grafana's sidecar expect.
- The rules checked by ``promtool check rules`` and unit-tested by ``promtool test rules`` with the cases in
  monitoring/alerts_test.yaml, where every alert has input series that fire it and series that must not.
- Every metric the rules and the dashboard name is served by a running operator (scraped from /metrics), and every
  label they select on is one of the metric's labels.
- The dashboard is checked against what Grafana expects of the schemaVersion it declares. Grafana ships no offline
  validator for the classic dashboard JSON, so the checks are written here (see ``dashboard_problems``).

promtool comes from Debian's prometheus package, which scripts/bootstrap (run by scripts/test) extracts into
.cache/promtool. A missing promtool fails these tests: they are the only check of the alerts.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes.client import ApiClient
from prometheus_client.parser import text_string_to_metric_families

from sagemaker_emulator.server import EmulatorThread
from sagemaker_operator.aws import errors
from sagemaker_operator.dev.cluster import free_port
from sagemaker_operator.metrics import REGISTRY
from tests.chart.tools import CHART, REPO, Helm, by_kind, helm, set_args, template
from tests.conftest import KubeTarget
from tests.crd_helpers import apply_crds
from tests.operator_harness import REGION, Objects, config_spec, model_spec, running_operator

PROMTOOL_IN_REPO = REPO / ".cache" / "promtool" / "promtool"
ALERT_TESTS = Path(__file__).parent / "monitoring" / "alerts_test.yaml"
DASHBOARD_FILE = CHART / "files" / "dashboard.json"
OPERATIONS_DOC = REPO / "docs" / "operations.md"
# tools.template renders release "smo" in namespace "ops": the job the chart's ServiceMonitor gives the series.
JOB = "smo-sagemaker-operator-metrics"
ALERTS = ("SageMakerEndpointOutOfService", "SageMakerEndpointFailed", "SageMakerUpdateFailed",
          "SageMakerOperatorReconcileErrors", "SageMakerOperatorAwsThrottling", "SageMakerOperatorAwsCredentials",
          "SageMakerOperatorAwsAccessDenied", "SageMakerOperatorQueueNotDraining",
          "SageMakerOperatorDriftChecksFailing", "SageMakerOperatorNoLeader", "SageMakerOperatorDown")
# Labels Prometheus adds to every scraped series (the target's), not the operator.
TARGET_LABELS = {"job", "namespace", "instance", "pod", "service", "endpoint", "container", "le"}
# Series Prometheus makes itself for each target.
SYNTHETIC = {"up"}
ON = {"prometheusRule": {"enabled": True}, "grafanaDashboard": {"enabled": True}}


def promtool() -> Path:
    """``$PROMTOOL``, else the bootstrap's copy in .cache/promtool, else promtool on PATH; fails when none."""
    explicit = os.environ.get("PROMTOOL")
    if explicit:
        return Path(explicit)
    if PROMTOOL_IN_REPO.exists():
        return PROMTOOL_IN_REPO
    found = shutil.which("promtool")
    if found is None:
        pytest.fail("promtool not found in $PROMTOOL, .cache/promtool or PATH: run scripts/bootstrap (scripts/test "
                    "does), which extracts it from Debian's prometheus package")
    return Path(found)


def run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(promtool()), *args], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"promtool {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
    return result


def the_rule(documents: list[dict[str, Any]]) -> dict[str, Any]:
    (rule,) = by_kind(documents, "PrometheusRule")
    return rule


def rules_of(rule: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def write_rules_file(rule: dict[str, Any], path: Path) -> Path:
    """The PrometheusRule's spec as a plain Prometheus rules file, which is what promtool reads."""
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False, width=1000))
    return path


def dashboard_of(documents: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The dashboard ConfigMap and the dashboard it carries."""
    (config_map,) = [doc for doc in by_kind(documents, "ConfigMap") if doc["metadata"]["name"].endswith("-dashboard")]
    (payload,) = config_map["data"].values()
    return config_map, json.loads(payload)


# --- helm template, the switches and their values -------------------------------------------------------------


@pytest.mark.parametrize(("rules", "dashboard"), [(False, False), (True, False), (False, True), (True, True)],
                         ids=["both-off", "rules-only", "dashboard-only", "both-on"])
def test_each_switch_renders_its_object_and_nothing_else(helm_tool: Helm, rules: bool, dashboard: bool) -> None:
    documents = template({"prometheusRule": {"enabled": rules}, "grafanaDashboard": {"enabled": dashboard}},
                         tool=helm_tool)
    assert len(by_kind(documents, "PrometheusRule")) == int(rules)
    assert len(by_kind(documents, "ConfigMap")) == int(dashboard)
    # The rest of the release is the same whatever the switches say.
    plain = template(tool=helm_tool)
    assert [d for d in documents if d["kind"] not in ("PrometheusRule", "ConfigMap")] == plain


def test_both_are_off_by_default() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["prometheusRule"]["enabled"] is False
    assert values["grafanaDashboard"]["enabled"] is False


def test_rule_and_dashboard_defaults(helm_tool: Helm) -> None:
    documents = template(ON, tool=helm_tool)
    rule = the_rule(documents)
    assert rule["apiVersion"] == "monitoring.coreos.com/v1"
    assert rule["metadata"]["name"] == "smo-sagemaker-operator"
    assert rule["metadata"]["namespace"] == "ops"
    assert [r["alert"] for r in rules_of(rule)] == list(ALERTS)
    for alert in rules_of(rule):
        assert alert["labels"]["severity"] in ("critical", "warning"), alert
        assert re.fullmatch(r"\d+m", alert["for"]) and int(alert["for"][:-1]) >= 5, alert
        assert {"summary", "description", "runbook_url"} <= set(alert["annotations"]), alert
        assert alert["annotations"]["runbook_url"] == f"docs/operations.md#{alert['alert'].lower()}"
        assert f'job="{JOB}", namespace="ops"' in alert["expr"], alert["expr"]

    config_map, dashboard = dashboard_of(documents)
    assert config_map["metadata"]["name"] == "smo-sagemaker-operator-dashboard"
    assert config_map["metadata"]["namespace"] == "ops"
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard == json.loads(DASHBOARD_FILE.read_text()), "the ConfigMap must carry files/dashboard.json"


def test_overrides_for_the_prometheus_operator_and_grafanas_sidecar(helm_tool: Helm, tmp_path: Path) -> None:
    extra = {"alert": "SageMakerTeamEndpointsMissing", "expr": 'absent(sagemaker_operator_endpoints{job="x"})',
             "for": "10m", "labels": {"severity": "info"}}
    documents = template({
        "prometheusRule": {
            "enabled": True, "namespace": "monitoring", "labels": {"release": "kube-prometheus-stack"},
            "annotations": {"owner": "ml-platform"}, "selector": 'job="sagemaker", cluster="prod"',
            "runbookBaseUrl": "https://wiki.example.com/sagemaker-operator/operations",
            "awsThrottlingRatio": 0.2, "disabledAlerts": ["SageMakerOperatorNoLeader"],
            "alertLabels": {"team": "ml-platform"}, "additionalRules": [extra]},
        "grafanaDashboard": {
            "enabled": True, "namespace": "grafana", "label": "dashboards", "labelValue": "sagemaker",
            "labels": {"team": "ml"}, "annotations": {"grafana_folder": "SageMaker"}},
    }, tool=helm_tool)
    rule = the_rule(documents)
    assert rule["metadata"]["namespace"] == "monitoring"
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert rule["metadata"]["annotations"] == {"owner": "ml-platform"}
    rules = rules_of(rule)
    assert [r["alert"] for r in rules] == [a for a in ALERTS if a != "SageMakerOperatorNoLeader"] + [extra["alert"]]
    assert rules[-1] == extra
    for alert in rules[:-1]:
        assert alert["labels"] == {"severity": alert["labels"]["severity"], "team": "ml-platform"}
        assert alert["annotations"]["runbook_url"] == (
            f"https://wiki.example.com/sagemaker-operator/operations#{alert['alert'].lower()}")
        assert 'job="sagemaker", cluster="prod"' in alert["expr"] and JOB not in alert["expr"], alert["expr"]
    (throttling,) = [r for r in rules if r["alert"] == "SageMakerOperatorAwsThrottling"]
    assert throttling["expr"].rstrip().endswith("> 0.2")
    run_promtool("check", "rules", str(write_rules_file(rule, tmp_path / "rules.yaml")))

    config_map, _ = dashboard_of(documents)
    assert config_map["metadata"]["namespace"] == "grafana"
    assert config_map["metadata"]["labels"]["dashboards"] == "sagemaker"
    assert config_map["metadata"]["labels"]["team"] == "ml"
    assert "grafana_dashboard" not in config_map["metadata"]["labels"]
    assert config_map["metadata"]["annotations"] == {"grafana_folder": "SageMaker"}


def test_rules_without_metrics_are_refused(helm_tool: Helm) -> None:
    result = helm("template", "smo", str(CHART), *set_args({"metrics": {"enabled": False},
                                                             "prometheusRule": {"enabled": True}}),
                  tool=helm_tool, check=False)
    assert result.returncode != 0
    assert "prometheusRule.enabled needs metrics.enabled" in result.stderr


def test_unknown_alert_names_are_refused(helm_tool: Helm) -> None:
    result = helm("template", "smo", str(CHART), *set_args({"prometheusRule": {
        "enabled": True, "disabledAlerts": ["SageMakerEndpointFialed"]}}), tool=helm_tool, check=False)
    assert result.returncode != 0
    assert "disabledAlerts" in result.stderr, result.stderr


# --- promtool ---------------------------------------------------------------------------------------------------


def test_promtool_checks_the_rendered_rules(helm_tool: Helm, tmp_path: Path) -> None:
    rules_file = write_rules_file(the_rule(template(ON, tool=helm_tool)), tmp_path / "rules.yaml")
    result = run_promtool("check", "rules", str(rules_file))
    assert f"SUCCESS: {len(ALERTS)} rules found" in result.stdout, result.stdout


def test_promtool_unit_tests_fire_and_spare_each_alert(helm_tool: Helm, tmp_path: Path) -> None:
    rules_file = write_rules_file(the_rule(template(ON, tool=helm_tool)), tmp_path / "rules.yaml")
    tests = yaml.safe_load(ALERT_TESTS.read_text())
    tests["rule_files"] = [str(rules_file)]
    test_file = tmp_path / "alerts_test.yaml"
    test_file.write_text(yaml.safe_dump(tests, sort_keys=False, width=1000))
    result = run_promtool("test", "rules", str(test_file))
    assert "SUCCESS" in result.stdout, result.stdout


def test_every_alert_has_a_case_that_fires_and_one_that_does_not() -> None:
    fired: set[str] = set()
    spared: set[str] = set()
    for case in yaml.safe_load(ALERT_TESTS.read_text())["tests"]:
        for check in case.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else spared).add(check["alertname"])
    assert set(ALERTS) - fired == set(), "alerts no case fires"
    assert set(ALERTS) - spared == set(), "alerts no case shows quiet"
    assert fired | spared <= set(ALERTS), "cases for alerts the chart does not have"


def test_promtool_is_debians() -> None:
    # The tests use what the bootstrap installs; a promtool too old for `test rules` would fail confusingly.
    result = run_promtool("--version")
    assert re.search(r"promtool, version 2\.\d+", result.stdout + result.stderr), result.stdout + result.stderr


# --- what the rules and the dashboard say -----------------------------------------------------------------------


def github_anchor(heading: str) -> str:
    """The anchor GitHub (and most Markdown renderers) give a heading: lower case, punctuation dropped, spaces -."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_runbook_urls_point_at_sections_of_operations_md() -> None:
    anchors = {github_anchor(line.lstrip("#")) for line in OPERATIONS_DOC.read_text().splitlines()
               if line.startswith("#")}
    for alert in rules_of(the_rule(template(ON))):
        anchor = alert["annotations"]["runbook_url"].split("#", 1)[1]
        assert anchor in anchors, f"{alert['alert']}: docs/operations.md has no section #{anchor}"


def throttling_codes(expr: str) -> set[str]:
    match = re.search(r'outcome=~"([^"]+)"', expr)
    assert match, expr
    return set(match.group(1).split("|"))


def test_throttling_is_what_the_operator_classifies_as_throttling() -> None:
    expected = set(errors._THROTTLING_CODES)
    (rule,) = [r for r in rules_of(the_rule(template(ON))) if r["alert"] == "SageMakerOperatorAwsThrottling"]
    assert throttling_codes(rule["expr"]) == expected
    (panel,) = [p for p in json.loads(DASHBOARD_FILE.read_text())["panels"] if p["title"] == "AWS calls throttled"]
    assert throttling_codes(panel["targets"][0]["expr"]) == expected


_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
             "group_right", "inf", "nan"}


def selectors(expr: str) -> Iterator[tuple[str, set[str]]]:
    """(metric name, label names it is filtered on) for every series selector of a PromQL expression.

    A small scanner, enough for the expressions here: strings are blanked first, then grouping clauses and ranges
    dropped; an identifier not followed by "(" and not a keyword is a metric name.
    """
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    for match in re.finditer(r"(?<![\w$.])([A-Za-z_:][\w:]*)\s*(\{[^}]*\})?(\s*\()?", text):
        name, matchers, call = match.groups()
        if call or name in _KEYWORDS:
            continue
        labels = set(re.findall(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)", matchers or ""))
        yield name, labels


def test_the_scanner_finds_metrics_and_labels() -> None:
    found = list(selectors('histogram_quantile(0.95, sum by (le, kind) (rate(x_bucket{job=~"$job", kind="a"}[5m])))'
                           ' / on (job) group_left () max(up{job="j"}) or vector(0) and absent(y)'))
    assert found == [("x_bucket", {"job", "kind"}), ("up", {"job"}), ("y", set())]


def rule_and_dashboard_selectors() -> dict[str, set[str]]:
    """Every metric name the alerts (as rendered) and the dashboard use, with the labels each is filtered on."""
    exprs = [r["expr"] for r in rules_of(the_rule(template(ON)))]
    dashboard = json.loads(DASHBOARD_FILE.read_text())
    exprs += [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", variable["query"]["query"])
            assert match, variable
            exprs.append(match.group(1))
    used: dict[str, set[str]] = {}
    for expr in exprs:
        for name, labels in selectors(expr):
            used.setdefault(name, set()).update(labels)
    return used


def exposed_names(families: list[Any]) -> dict[str, set[str]]:
    """Series names a scrape can hold, from its metric families (the # TYPE lines, samples or not), with their
    labels: a counter's family is served as _total (and _created), a histogram's as _bucket, _sum, _count."""
    suffixes = {"counter": ("_total", "_created"), "histogram": ("_bucket", "_sum", "_count", "_created"),
                "summary": ("", "_sum", "_count", "_created")}
    names: dict[str, set[str]] = {}
    for family in families:
        labels = {label for sample in family.samples for label in sample.labels}
        for suffix in suffixes.get(family.type, ("",)):
            names[family.name + suffix] = labels
    return names


def test_labels_the_rules_and_dashboard_filter_on_are_the_metrics_own() -> None:
    # Offline, from the registry's declarations: a typo in a label name would match nothing, silently.
    declared: dict[str, set[str]] = {}
    for collector in list(REGISTRY._collector_to_names):
        labelnames = set(getattr(collector, "_labelnames", ()))
        for name in REGISTRY._collector_to_names[collector]:
            declared[name] = labelnames
    for name, labels in rule_and_dashboard_selectors().items():
        if name in SYNTHETIC:
            continue
        assert name in declared, f"{name} is not declared in metrics.py"
        unknown = labels - TARGET_LABELS - declared[name]
        assert not unknown, f"{name} has no label {unknown}"


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread(region=REGION, create_seconds=0.5, update_seconds=0.5, delete_seconds=0.2) as server:
        yield server


@pytest.mark.cluster
def test_every_metric_of_the_rules_and_dashboard_is_served_by_a_running_operator(
        kube: KubeTarget, admin_client: ApiClient, namespace: str, emulator: EmulatorThread, tmp_path: Path) -> None:
    apply_crds(admin_client)
    objects = Objects(admin_client, namespace)
    port = free_port()
    with running_operator(kube.kubeconfig, emulator.url, namespace, tmp_path / "operator.log",
                          ["--metrics-port", str(port)]):
        objects.create("SageMakerModel", "watched", model_spec())
        objects.create("SageMakerEndpointConfig", "watched", config_spec(("primary", "watched", 1.0, 1)))
        objects.create("SageMakerEndpoint", "watched", {"endpointConfigRef": {"name": "watched"}})
        objects.wait_condition("SageMakerEndpoint", "watched", "Ready")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            scraped = response.read().decode()
    served = exposed_names(list(text_string_to_metric_families(scraped)))
    used = rule_and_dashboard_selectors()
    assert {"sagemaker_operator_aws_calls_total", "sagemaker_operator_reconcile_seconds_bucket",
            "process_resident_memory_bytes", "sagemaker_operator_degraded"} <= set(used), "the scan found too little"
    missing = sorted(set(used) - set(served) - SYNTHETIC)
    assert not missing, f"named by the alerts or the dashboard, not served on /metrics: {missing}"
    # The samples behind the main panels are there after one endpoint came up.
    for name in ("sagemaker_operator_aws_calls_total", "sagemaker_operator_reconciles_total",
                 "sagemaker_operator_endpoints", "process_resident_memory_bytes"):
        assert re.search(rf"^{name}(\{{| )", scraped, re.MULTILINE), f"no sample of {name}"


# --- the dashboard against Grafana's expectations ---------------------------------------------------------------

# The classic dashboard JSON as Grafana 10.4 to 11 saves it (schemaVersion 39). What is checked, and why:
#   - top-level keys Grafana's DashboardModel reads and provisioning needs: title, uid (at most 40 characters, the
#     limit of Grafana's uid column), schemaVersion, panels, templating.list, time, annotations.list; id null, so
#     that the sidecar's provisioning assigns one;
#   - from schemaVersion 36 on, datasource references are objects {type, uid}, not names: every panel and target
#     uses {type: prometheus, uid: ${datasource}}, the datasource variable, so the dashboard works with whatever
#     Prometheus datasource a Grafana has;
#   - panels on the 24-column grid: unique integer ids, gridPos with w in 1..24, x + w <= 24, h >= 1, y >= 0,
#     no two panels overlapping;
#   - each target has a unique refId within its panel and a non-empty expr;
#   - panel types are core panel plugins (no plugin to install).
SCHEMA_VERSION = 39
CORE_PANELS = {"timeseries", "stat", "gauge", "bargauge", "table", "text", "row", "heatmap", "piechart"}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def dashboard_problems(dashboard: dict[str, Any]) -> list[str]:
    problems = []
    for key, kind in (("title", str), ("uid", str), ("schemaVersion", int), ("panels", list),
                      ("templating", dict), ("time", dict), ("annotations", dict)):
        if not isinstance(dashboard.get(key), kind):
            problems.append(f"top-level {key!r} missing or not a {kind.__name__}")
    if dashboard.get("schemaVersion") != SCHEMA_VERSION:
        problems.append(f"schemaVersion {dashboard.get('schemaVersion')}, the checks here are for {SCHEMA_VERSION}")
    if dashboard.get("id") is not None:
        problems.append("id must be null for provisioning")
    if not 0 < len(str(dashboard.get("uid", ""))) <= 40:
        problems.append("uid must have 1 to 40 characters")
    if not {"from", "to"} <= set(dashboard.get("time", {})):
        problems.append("time needs from and to")
    variables = {v.get("name"): v for v in dashboard.get("templating", {}).get("list", [])}
    source = variables.get("datasource", {})
    if source.get("type") != "datasource" or source.get("query") != "prometheus":
        problems.append("no datasource variable of type prometheus named 'datasource'")
    for name, variable in variables.items():
        if variable.get("type") == "query" and variable.get("datasource") != DATASOURCE:
            problems.append(f"variable {name} does not query the datasource variable")
    ids: set[int] = set()
    cells: dict[tuple[int, int], int] = {}
    for panel in dashboard.get("panels", []):
        pid = panel.get("id")
        where = f"panel {pid} ({panel.get('title')!r})"
        if not isinstance(pid, int) or pid in ids:
            problems.append(f"{where}: id missing, not an integer or not unique")
        ids.add(pid)
        if panel.get("type") not in CORE_PANELS:
            problems.append(f"{where}: type {panel.get('type')!r} is not a core panel")
        if not panel.get("title"):
            problems.append(f"{where}: no title")
        grid = panel.get("gridPos", {})
        x, y, w, h = (grid.get(k) for k in ("x", "y", "w", "h"))
        if not all(isinstance(v, int) for v in (x, y, w, h)):
            problems.append(f"{where}: gridPos needs integer x, y, w, h")
            continue
        if not (1 <= w <= 24 and x >= 0 and x + w <= 24 and h >= 1 and y >= 0):
            problems.append(f"{where}: gridPos {grid} is off the 24-column grid")
        for cell in ((cx, cy) for cx in range(x, x + w) for cy in range(y, y + h)):
            if cell in cells:
                problems.append(f"{where}: overlaps panel {cells[cell]}")
                break
            cells[cell] = pid
        if panel.get("type") == "row":
            continue
        if panel.get("datasource") != DATASOURCE:
            problems.append(f"{where}: datasource is not the variable: {panel.get('datasource')}")
        targets = panel.get("targets") or []
        if not targets:
            problems.append(f"{where}: no targets")
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs) or not all(refs):
            problems.append(f"{where}: refIds missing or repeated: {refs}")
        for target in targets:
            if target.get("datasource") != DATASOURCE:
                problems.append(f"{where}: target {target.get('refId')} datasource is not the variable")
            if not str(target.get("expr", "")).strip():
                problems.append(f"{where}: target {target.get('refId')} has no expr")
    return problems


def test_dashboard_is_valid_for_its_schema_version() -> None:
    dashboard = json.loads(DASHBOARD_FILE.read_text())
    assert dashboard_problems(dashboard) == []


def test_dashboard_checks_catch_what_grafana_would_refuse() -> None:
    dashboard = json.loads(DASHBOARD_FILE.read_text())
    first, second = dashboard["panels"][0], dashboard["panels"][1]
    second["id"] = first["id"]
    second["gridPos"] = dict(first["gridPos"])
    first["datasource"] = "Prometheus"
    first["targets"][0]["expr"] = " "
    dashboard["panels"][2]["gridPos"]["w"] = 30
    problems = "\n".join(dashboard_problems(dashboard))
    for expected in ("not unique", "overlaps", "datasource is not the variable", "has no expr", "off the 24-column"):
        assert expected in problems, problems


def test_dashboard_covers_what_the_issue_asks_for() -> None:
    exprs = " ".join(t["expr"] for p in json.loads(DASHBOARD_FILE.read_text())["panels"] for t in p["targets"])
    for metric in ("sagemaker_operator_endpoints", "sagemaker_operator_reconciles_total",
                   "sagemaker_operator_reconcile_seconds_bucket", "sagemaker_operator_aws_calls_total",
                   "sagemaker_operator_queue_depth", "sagemaker_operator_kubernetes_writes_total",
                   "sagemaker_operator_leader", "process_resident_memory_bytes"):
        assert metric in exprs, metric

