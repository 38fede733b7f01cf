"""Published benchmark results: the targets, one flat record per run and N, README's table and the chart.

A run of ``bench.operator_bench`` returns a nested dict per N (``convergence``, ``steady``, ``rolling``...). What is
published, and kept in the repository, is a flat record of it: ``bench/results/<YYYY-MM-DD>-<N>.json``, with the
keys of :data:`REQUIRED_KEYS` and a few more. README's benchmark table and ``chart.png`` are drawn from those
records, each figure against its own target from :data:`TARGETS`.

Usage (from the repository root)::

    .venv/bin/python -m bench.results readme [--check]      # rewrite (or check) README's benchmark table
    .venv/bin/python -m bench.results chart OUT.png          # the chart of the newest record per N
    .venv/bin/python -m bench.results publish REPORT.json    # records from a run's report.json (no --publish)

This module reads and writes files only; it never starts a process but ``git``, so it stays importable and
testable without the benchmark's stack (matplotlib is imported only to draw).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
README = ROOT / "README.md"
TABLE_START = "<!-- bench-table:start -->"
TABLE_END = "<!-- bench-table:end -->"

# The operator's default --resync-seconds: published steady-state rates are projected to it.
DEFAULT_RESYNC = 300.0
# ACK's SageMaker controller requeues every synced endpoint once a minute and describes it each time (and lists
# its tags): about 2 calls per endpoint per minute, a reference line in the steady-state panel.
ACK_CALLS_PER_MINUTE = 2.0


@dataclass(frozen=True)
class Target:
    """One figure's target: ``key`` of the published record at most ``limit`` (``unit``) at N = ``endpoints``.

    ``endpoints`` None: at every N. ``limit`` None: the figure is only to be reported at that N (no bound).
    """

    key: str
    label: str
    unit: str
    limit: float | None
    endpoints: int | None = None

    def applies(self, count: int) -> bool:
        """Whether this target bounds the figure at N = ``count``."""
        return self.limit is not None and (self.endpoints is None or self.endpoints == count)

    def describe(self) -> str:
        """The target in words, e.g. ``≤ 25 s at N = 1,000``."""
        where = f" at N = {self.endpoints:,}" if self.endpoints is not None else ""
        if self.limit is None:
            return f"reported{where}"
        unit = f" {self.unit}" if self.unit else ""
        # A count that must be zero reads as "0", not "≤ 0".
        bound = "0" if self.limit == 0 else f"≤ {self.limit:g}"
        return f"{bound}{unit}{where}"


# The benchmark's targets, in one place: README's table headers, the ✓/✗ marks and the chart's lines read them.
TARGETS: tuple[Target, ...] = (
    Target("converge_seconds", "converge", "s", 25.0, 1000),
    Target("converge_seconds", "converge", "s", None, 10000),
    Target("steady_calls_per_endpoint_per_minute", "steady AWS calls / endpoint / min at the default resync", "",
           0.01),
    Target("one_change_to_update_p50_seconds", "one change → UpdateEndpoint p50", "s", 2.0),
    Target("one_change_to_update_p95_seconds", "one change → UpdateEndpoint p95", "s", 5.0),
    Target("all_at_once_apply_to_update_p95_seconds", "all at once: apply → UpdateEndpoint p95", "s", 10.0, 1000),
    Target("peak_rss_mb", "operator peak RSS", "MB", 160.0, 1000),
    Target("failed_invocations", "failed invocations", "", 0.0),
    Target("operator_rss_mb_per_endpoint", "operator peak RSS / endpoint", "MB", None, 10000),
    Target("operator_cpu_seconds_per_endpoint_to_converge", "operator CPU / endpoint to converge", "s", None, 10000),
)

# Keys every published record has (null when the run skipped the phase that measures them).
REQUIRED_KEYS: tuple[str, ...] = (
    "endpoints",
    "converge_seconds",
    "aws_calls_per_endpoint_to_create",
    "steady_calls_per_endpoint_per_minute",
    "one_change_to_update_p50_seconds",
    "one_change_to_update_p95_seconds",
    "all_at_once_apply_to_update_p95_seconds",
    "failed_invocations",
    "peak_rss_mb",
    "operator_rss_mb_per_endpoint",
    "operator_cpu_seconds_per_endpoint_to_converge",
    "operator_cpu_percent_steady",
    "kubernetes_version",
    "machine",
)


def targets_for(key: str) -> list[Target]:
    """The targets of one record key."""
    return [target for target in TARGETS if target.key == key]


def verdict(record: Mapping[str, Any], key: str) -> bool | None:
    """Whether the record meets every target that bounds ``key`` at its N; None: no such target, or no figure."""
    value = _number(record.get(key))
    bounds = [t for t in targets_for(key) if t.applies(int(record["endpoints"]))]
    if value is None or not bounds:
        return None
    return all(value <= t.limit for t in bounds if t.limit is not None)


# -- the record ------------------------------------------------------------------------------------------------


def _number(value: Any) -> float | int | None:
    """A finite number as is; anything else (missing, NaN, a string, a bool) as None: JSON has no NaN."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) else None


def _get(node: Any, *path: str) -> Any:
    """``node[path[0]][path[1]]...``, None as soon as a level is missing (a phase the run skipped)."""
    for key in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _per_endpoint(value: Any, count: int, digits: int) -> float | None:
    number = _number(value)
    return None if number is None or count <= 0 else round(number / count, digits)


def _steady_by_operation(steady: Any, count: int) -> dict[str, float] | None:
    """Steady-window AWS calls per endpoint per minute by operation, projected to the default resync like the
    headline figure (they sum to it, up to rounding)."""
    calls, window, resync = _get(steady, "aws_calls"), _get(steady, "window_seconds"), _get(steady, "resync_seconds")
    if not isinstance(calls, Mapping) or not _number(window) or not _number(resync) or count <= 0:
        return None
    scale = resync / DEFAULT_RESYNC / count / (window / 60.0)
    return {str(op): round(float(n) * scale, 5) for op, n in sorted(calls.items()) if _number(n) is not None}


def _emulator(config: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if config is None:
        return None
    return {"create_seconds": _number(config.get("create_seconds")),
            "update_seconds": _number(config.get("update_seconds")),
            "latency_ms": _number(config.get("latency_ms"))}


def _clean(value: Any) -> Any:
    """The value with every non-finite float replaced by None, recursively (a record must be valid JSON)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def published_record(run: Mapping[str, Any], *, date: str, machine: Mapping[str, Any] | None,
                     kubernetes_version: str | None = None, config: Mapping[str, Any] | None = None,
                     git_commit: str | None = None, runs: int = 1) -> dict[str, Any]:
    """The flat record published for one N: ``run`` is :func:`bench.operator_bench.run_once`'s result (or the
    median of several, see ``runs``), ``config`` the run's ``BenchConfig`` as a dict, ``machine`` from
    :func:`machine_facts`. ``kubernetes_version`` defaults to the one the run recorded.

    A phase the run skipped (``--no-rolling``, ``--single-changes 0``) gives None for its keys; nothing raises on a
    missing key. Pure: everything it depends on is passed in.
    """
    count = int(run["endpoints"])
    convergence, steady, rolling, restart = (run.get(k) for k in ("convergence", "steady", "rolling", "restart"))
    single = run.get("single_change_latency_seconds")
    peak = _number(run.get("operator_peak_rss_mb"))
    record: dict[str, Any] = {
        "endpoints": count,
        "date": date,
        "runs": runs,
        "git_commit": git_commit,
        "kubernetes_version": kubernetes_version or run.get("kubernetes_version"),
        "machine": dict(machine) if machine is not None else None,
        "emulator": _emulator(config),
        "operator_args": list(config.get("operator_args") or []) if config is not None else None,
        # Convergence: from the first create to every endpoint Ready.
        "converge_seconds": _number(_get(convergence, "seconds")),
        "endpoint_ready_p95_seconds": _number(_get(convergence, "endpoint_ready_seconds", "p95")),
        "aws_calls_per_endpoint_to_create": _number(_get(convergence, "aws_calls_per_endpoint_total")),
        "aws_calls_per_endpoint_to_create_by_operation": _get(convergence, "aws_calls_per_endpoint"),
        "operator_cpu_seconds_per_endpoint_to_converge": _per_endpoint(
            _get(convergence, "cpu_seconds", "operator"), count, 5),
        # The harness's CPU per create while it applies: about the same work in every run (3N creates, and its
        # watch of the endpoints' status), so a rough sign of how fast the shared machine was during the run.
        "harness_cpu_ms_per_create": _harness_ms_per_create(convergence),
        # Steady state, measured at a shortened resync and projected to the default one (the rate scales with
        # 1/resync); operator CPU as measured, at resync_seconds.
        "resync_seconds": _number(_get(steady, "resync_seconds")),
        "steady_calls_per_endpoint_per_minute": _number(
            _get(steady, "calls_per_endpoint_per_minute_at_default_resync")),
        "steady_calls_by_operation": _steady_by_operation(steady, count),
        "operator_cpu_percent_steady": _number(_get(steady, "operator_cpu_percent")),
        # Changes: one model at a time, then every model at once (the rolling phase, with the invocation probe).
        "one_change_to_update_p50_seconds": _number(_get(single, "p50")),
        "one_change_to_update_p95_seconds": _number(_get(single, "p95")),
        "all_at_once_apply_to_update_p50_seconds": _number(_get(rolling, "update_latency_seconds", "p50")),
        "all_at_once_apply_to_update_p95_seconds": _number(_get(rolling, "update_latency_seconds", "p95")),
        "all_at_once_done_seconds": _number(_get(rolling, "seconds")),
        "failed_invocations": _number(_get(rolling, "failed_invocations")),
        # Memory: the operator's peak RSS over its processes; per endpoint, what N = 10,000 is to report.
        "peak_rss_mb": peak,
        "operator_rss_mb_per_endpoint": _per_endpoint(peak, count, 5),
        # Restart with every endpoint Ready, its first window.
        "restart_aws_writes": _number(_get(restart, "aws_writes")),
        "restart_describes_per_endpoint": _number(_get(restart, "describes_per_endpoint")),
    }
    for key in ("failover_sigterm_handover_seconds", "failover_kill_to_leading_seconds",
                "failover_kill_to_converged_seconds", "failover_duplicate_writes"):
        if key in run:
            record[key] = _number(run[key])
    cleaned: dict[str, Any] = _clean(record)
    return cleaned


def _harness_ms_per_create(convergence: Mapping[str, Any] | None) -> float | None:
    cpu, objects = _number(_get(convergence, "apply", "harness_cpu_seconds")), _number(_get(convergence, "apply",
                                                                                             "objects"))
    return round(1000 * cpu / objects, 3) if cpu is not None and objects else None


def memory_gib() -> float | None:
    """The machine's memory (``MemTotal`` of /proc/meminfo) in GiB; None where there is no /proc."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError, IndexError):
        pass
    return None


def machine_facts() -> dict[str, Any]:
    """What the figures depend on besides the code: cores, memory, Python and the platform."""
    return {"cores": os.cpu_count(), "memory_gib": memory_gib(), "python": platform.python_version(),
            "platform": platform.platform()}


def git_commit(root: Path = ROOT) -> str | None:
    """The checked-out commit, with ``+dirty`` when tracked files outside bench/results/ differ from it; None
    outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True,
                              timeout=10).stdout.strip()
        # Published records themselves are written after the run: they do not make the measured code dirty.
        changed = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                  ":(exclude)bench/results"], cwd=root, capture_output=True, text=True, check=True,
                                 timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+dirty" if changed else head or None


def today() -> str:
    """Today's date (UTC) as records name it."""
    return datetime.datetime.now(datetime.UTC).date().isoformat()


# -- files -----------------------------------------------------------------------------------------------------


def record_path(record: Mapping[str, Any], directory: Path = RESULTS_DIR) -> Path:
    """Where a record is kept: ``<directory>/<YYYY-MM-DD>-<N>.json``."""
    return directory / f"{record['date']}-{int(record['endpoints'])}.json"


def dump_record(record: Mapping[str, Any]) -> str:
    """A record as its file holds it: indented, keys sorted (stable diffs), a newline at the end."""
    return json.dumps(record, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False) + "\n"


def write_record(record: Mapping[str, Any], directory: Path = RESULTS_DIR) -> Path:
    """Write a record to :func:`record_path` (a second run of the same N on the same day replaces the first)."""
    path = record_path(record, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump_record(record))
    return path


def load_records(directory: Path = RESULTS_DIR) -> list[dict[str, Any]]:
    """Every record in ``directory`` (its ``*.json`` files), oldest first; none when it does not exist."""
    if not directory.is_dir():
        return []
    records = []
    for path in sorted(directory.glob("*.json")):
        record = json.loads(path.read_text())
        record.setdefault("_file", path.name)
        records.append(record)
    return sorted(records, key=lambda r: (str(r.get("date", "")), r["_file"]))


def newest_per_n(records: Iterable[Mapping[str, Any]]) -> dict[int, Mapping[str, Any]]:
    """The newest record of each N (by date, then file name), in ascending N."""
    newest: dict[int, Mapping[str, Any]] = {}
    for record in sorted(records, key=lambda r: (str(r.get("date", "")), str(r.get("_file", "")))):
        newest[int(record["endpoints"])] = record
    return dict(sorted(newest.items()))


# -- README ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One figure of README's table: the record key, its label and unit, and how its value is printed."""

    key: str
    label: str
    unit: str
    spec: str


COLUMNS: tuple[Column, ...] = (
    Column("converge_seconds", "converge", "s", ".1f"),
    Column("aws_calls_per_endpoint_to_create", "AWS calls / endpoint to create", "", "g"),
    Column("steady_calls_per_endpoint_per_minute", "steady AWS calls / endpoint / min at the default resync", "",
           ".4f"),
    Column("one_change_to_update_p50_seconds", "one change → UpdateEndpoint p50", "s", ".2f"),
    Column("one_change_to_update_p95_seconds", "one change → UpdateEndpoint p95", "s", ".2f"),
    Column("all_at_once_apply_to_update_p95_seconds", "every model at once: apply → UpdateEndpoint p95", "s", ".2f"),
    Column("failed_invocations", "failed invocations", "", "g"),
    Column("peak_rss_mb", "operator peak RSS", "MB", ".0f"),
    Column("operator_rss_mb_per_endpoint", "operator peak RSS / endpoint", "MB", ".3g"),
    Column("operator_cpu_seconds_per_endpoint_to_converge", "operator CPU / endpoint to converge", "s", ".3g"),
)


def _header(column: Column) -> str:
    unit = f", {column.unit}" if column.unit else ""
    bounds = [t.describe() for t in targets_for(column.key)]
    if column.key == "steady_calls_per_endpoint_per_minute":
        bounds.append(f"ACK: {ACK_CALLS_PER_MINUTE:g}")
    return f"{column.label}{unit}" + (f" ({'; '.join(bounds)})" if bounds else "")


def _cell(record: Mapping[str, Any], column: Column) -> str:
    value = _number(record.get(column.key))
    if value is None:
        return "-"
    met = verdict(record, column.key)
    return format(value, column.spec) + ("" if met is None else " ✓" if met else " ✗")


def _run_cell(record: Mapping[str, Any], results_link: str) -> str:
    machine = record.get("machine") or {}
    facts = [str(record.get("date", "?")), f"Kubernetes {record.get('kubernetes_version') or '?'}"]
    if machine.get("cores"):
        facts.append(f"{machine['cores']} cores")
    if machine.get("memory_gib"):
        facts.append(f"{machine['memory_gib']:g} GiB")
    if (record.get("runs") or 1) > 1:
        facts.append(f"median of {record['runs']} runs")
    pace = _number(record.get("harness_cpu_ms_per_create"))
    if pace is not None:
        facts.append(f"harness {pace:g} ms CPU / create")
    name = record.get("_file") or record_path(record, Path()).name
    return ", ".join(facts) + f" ([record]({results_link}/{name}))"


def render_table(records: Iterable[Mapping[str, Any]], results_link: str = "bench/results") -> str:
    """README's benchmark block: one row per N (its newest record), a column per figure with its target in the
    header, ✓/✗ where a target bounds the figure at that N. Without records, says so and lists the targets."""
    newest = newest_per_n(records)
    if not newest:
        lines = ["No benchmark run has been published yet (`bench/results/` holds no record). The targets:", "",
                 "| figure | target |", "|---|---|"]
        lines += [f"| {t.label} (`{t.key}`) | {t.describe()} |" for t in TARGETS]
        lines += ["", f"For reference, ACK's SageMaker controller makes about {ACK_CALLS_PER_MINUTE:g} steady AWS "
                  "calls per endpoint per minute."]
        return "\n".join(lines)
    headers = ["N", *(_header(c) for c in COLUMNS), "run"]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for count, record in newest.items():
        cells = [f"{count:,}", *(_cell(record, c) for c in COLUMNS), _run_cell(record, results_link)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def replace_table(text: str, table: str) -> str:
    """``text`` with what lies between the table markers replaced by ``table``; raises ValueError without them."""
    start, end = text.find(TABLE_START), text.find(TABLE_END)
    if start < 0 or end < start:
        raise ValueError(f"no {TABLE_START} ... {TABLE_END} block")
    return f"{text[:start]}{TABLE_START}\n{table}\n{text[end:]}"


def update_readme(readme: Path = README, results: Path = RESULTS_DIR, check: bool = False) -> bool:
    """Rewrite README's benchmark table from the records in ``results``; with ``check``, only compare.

    Returns whether README was (check: is) up to date before the call.
    """
    text = readme.read_text()
    link = os.path.relpath(results, readme.parent).replace(os.sep, "/")
    wanted = replace_table(text, render_table(load_records(results), link))
    if wanted == text:
        return True
    if not check:
        readme.write_text(wanted)
    return False


# -- the chart -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Panel:
    """One panel of the chart: figures sharing a unit, each drawn with its targets in its own colour."""

    title: str
    ylabel: str
    keys: tuple[tuple[str, str], ...]  # (record key, legend label)
    symlog: bool = False


PANELS: tuple[Panel, ...] = (
    Panel("Convergence: apply to every endpoint Ready", "seconds", (("converge_seconds", "measured"),)),
    Panel("Steady AWS calls (default resync)", "calls / endpoint / minute",
          (("steady_calls_per_endpoint_per_minute", "sagemaker-operator"),), symlog=True),
    Panel("One change → UpdateEndpoint", "seconds",
          (("one_change_to_update_p50_seconds", "p50"), ("one_change_to_update_p95_seconds", "p95"))),
    Panel("Every model at once: apply → UpdateEndpoint", "seconds",
          (("all_at_once_apply_to_update_p50_seconds", "p50"), ("all_at_once_apply_to_update_p95_seconds", "p95"))),
    Panel("Operator peak RSS", "MB", (("peak_rss_mb", "measured"),)),
    Panel("Failed invocations (every model changed at once)", "invocations", (("failed_invocations", "measured"),)),
    Panel("AWS calls to create an endpoint", "calls / endpoint", (("aws_calls_per_endpoint_to_create", "measured"),)),
    Panel("Operator cost per endpoint", "MB, CPU seconds",
          (("operator_rss_mb_per_endpoint", "peak RSS MB / endpoint"),
           ("operator_cpu_seconds_per_endpoint_to_converge", "CPU s / endpoint to converge"))),
)


def write_chart(records: Mapping[int, Mapping[str, Any]] | Sequence[Mapping[str, Any]], path: Path) -> bool:
    """Draw ``records`` (one per N, or any records: the newest per N is taken) to ``path``: one panel per figure,
    each against its own target (ACK's 2 calls as a reference for the steady state), N on a log axis when there
    are several. Returns False, drawing nothing, when matplotlib is not installed or there is no record."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator, NullLocator
    except ImportError:
        return False
    newest = newest_per_n(records.values() if isinstance(records, Mapping) else records)
    if not newest:
        return False
    counts = sorted(newest)
    columns = 4
    rows = math.ceil(len(PANELS) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.9 * rows), squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for axis, panel in zip(axes.flat, PANELS, strict=False):
        drawn: list[float] = []  # every value and line, so that the y range shows them all
        for index, (key, label) in enumerate(panel.keys):
            # One series: its own colour, and its targets' lines in that colour when the panel has several.
            colour = colours[index % len(colours)]
            values = [_number(newest[n].get(key)) for n in counts]
            drawn += [float(v) for v in values if v is not None]
            axis.plot(counts, [math.nan if v is None else v for v in values], "os^"[index % 3] + "-", color=colour,
                      label=label)
            for target in targets_for(key):
                if target.limit is None or (target.endpoints is not None and target.endpoints not in counts):
                    continue  # nothing to bound, or set at an N that is not drawn
                style = {"color": colour if len(panel.keys) > 1 else "red", "linestyle": "--" if index else ":",
                         "linewidth": 1.4, "label": (f"{label} " if len(panel.keys) > 1 else "")
                         + f"target {target.describe()}"}
                if target.endpoints is None or len(counts) == 1:
                    axis.axhline(target.limit, **style)
                else:
                    # A target set at one N is drawn at that N only, so no other N reads as missing it.
                    axis.hlines(target.limit, target.endpoints / 1.6, target.endpoints * 1.6, **style)
                drawn.append(target.limit)
        if panel.keys[0][0] == "steady_calls_per_endpoint_per_minute":
            axis.axhline(ACK_CALLS_PER_MINUTE, color="gray", linestyle="-.",
                         label=f"ACK controller ({ACK_CALLS_PER_MINUTE:g})")
        if panel.symlog:
            # Rates of 0 up to ACK's 2 on one axis, the 0.01 target legible: linear near 0, logarithmic above.
            axis.set_yscale("symlog", linthresh=0.001)
            axis.set_ylim(0, ACK_CALLS_PER_MINUTE * 3)
        else:
            counted = panel.keys[0][0] == "failed_invocations"
            top = max([*drawn, 1.0 if counted else 0.0], default=1.0) * 1.15 or 1.0
            # The count's target is 0: its points sit on that line, which a bottom of 0 would cut in half.
            axis.set_ylim(-0.05 * top if counted else 0, top)
            if counted:
                axis.yaxis.set_major_locator(MaxNLocator(integer=True))
        if len(counts) > 1:
            axis.set_xscale("log")
            axis.set_xlim(counts[0] / 2, counts[-1] * 2)
        axis.set_xticks(counts, [f"{n:,}" for n in counts])
        # A log axis over a short range labels its minor ticks too: only the measured N are labelled.
        axis.xaxis.set_minor_locator(NullLocator())
        axis.set(title=panel.title, xlabel="endpoints (N)", ylabel=panel.ylabel)
        axis.title.set_fontsize(10)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    for axis in list(axes.flat)[len(PANELS):]:
        axis.set_visible(False)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True


# -- records from a report.json --------------------------------------------------------------------------------


def records_from_report(report: Mapping[str, Any], date: str | None = None) -> list[dict[str, Any]]:
    """The records of a ``report.json`` that ``bench.operator_bench`` wrote (its medians per N), for a run that
    was not started with ``--publish``. ``date`` overrides the report's own."""
    machine = dict(report.get("machine") or {})
    if "cores" not in machine and "cpus" in machine:  # reports written before the records existed
        machine["cores"] = machine.pop("cpus")
    runs = report.get("runs") or {}
    records = []
    for key, summary in (report.get("summary") or {}).items():
        records.append(published_record(summary, date=date or str(report.get("date") or today()), machine=machine,
                                        kubernetes_version=report.get("kubernetes_version"),
                                        config=report.get("config"), git_commit=report.get("git_commit"),
                                        runs=len(runs.get(key) or [None])))
    return records


def main(argv: Sequence[str] | None = None) -> int:
    """``readme [--check]``, ``chart OUT.png`` or ``publish REPORT.json``."""
    parser = argparse.ArgumentParser(prog="python -m bench.results", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS_DIR, help="folder of the records (bench/results)")
    commands = parser.add_subparsers(dest="command", required=True)
    readme = commands.add_parser("readme", help="rewrite README's benchmark table from the records")
    readme.add_argument("--readme", type=Path, default=README)
    readme.add_argument("--check", action="store_true", help="change nothing; exit 1 when the table is out of date")
    chart = commands.add_parser("chart", help="draw the newest record of each N")
    chart.add_argument("out", type=Path)
    publish = commands.add_parser("publish", help="write the records of a report.json into the results folder")
    publish.add_argument("report", type=Path)
    publish.add_argument("--date", default=None, help="YYYY-MM-DD of the run (default: the report's, else today)")
    args = parser.parse_args(argv)
    if args.command == "readme":
        fresh = update_readme(args.readme, args.results, check=args.check)
        if args.check and not fresh:
            print(f"{args.readme}: the benchmark table is out of date: run python -m bench.results readme",
                  file=sys.stderr)
            return 1
        print(f"{args.readme}: the benchmark table is {'up to date' if fresh else 'rewritten'}")
        return 0
    if args.command == "chart":
        if not write_chart(load_records(args.results), args.out):
            print(f"no chart: no record in {args.results}, or matplotlib is not installed", file=sys.stderr)
            return 1
        print(f"chart: {args.out}")
        return 0
    for record in records_from_report(json.loads(args.report.read_text()), args.date):
        print(f"record: {write_record(record, args.results)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
