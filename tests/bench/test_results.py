"""Published benchmark records, README's table and the chart, from fabricated run results (no servers, seconds).

Every figure below is made up to exercise the code: none is a measurement.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest
from bench.results import (
    README,
    REQUIRED_KEYS,
    RESULTS_DIR,
    TABLE_END,
    TABLE_START,
    TARGETS,
    load_records,
    main,
    newest_per_n,
    published_record,
    record_path,
    records_from_report,
    render_table,
    replace_table,
    update_readme,
    verdict,
    write_chart,
    write_record,
)

MACHINE = {"cores": 2, "memory_gib": 23.5, "python": "3.11.2", "platform": "Linux-fixture"}
CONFIG = {"create_seconds": 5.0, "update_seconds": 5.0, "latency_ms": 30.0, "resync_seconds": 60.0,
          "operator_args": [], "rolling": True}


def fabricated_run(count: int = 1000) -> dict[str, Any]:
    """A fixture in the shape of ``run_once``'s result (only the keys the record reads, and a few it ignores)."""
    return {
        "endpoints": count,
        "kubernetes_version": "1.37.2",
        "convergence": {
            "seconds": 21.5,
            "endpoint_ready_seconds": {"p50": 8.0, "p95": 12.25, "max": 14.0},
            "aws_calls": {"CreateModel": count, "CreateEndpointConfig": count, "CreateEndpoint": count,
                          "DescribeEndpoint": 2 * count},
            "aws_calls_per_endpoint": {"CreateModel": 1.0, "CreateEndpointConfig": 1.0, "CreateEndpoint": 1.0,
                                       "DescribeEndpoint": 2.0},
            "aws_calls_per_endpoint_total": 5.0,
            "cpu_seconds": {"operator": 12.0, "emulator": 5.0, "harness": 3.0, "wall": 21.5},
            "apply": {"objects": 3 * count, "seconds": 12.0, "harness_cpu_seconds": 2.7},
            "operator_peak_rss_mb": 120.0,
        },
        "restart": {"aws_writes": 0, "describes_per_endpoint": 0.97, "first_process_peak_rss_mb": 125.0},
        "steady": {
            "window_seconds": 120.0,
            "resync_seconds": 60.0,
            "aws_calls": {"DescribeEndpoint": 2 * count, "ListTags": count // 10},
            "aws_writes": 0,
            # (2,000 + 100) calls / N / 2 min = 1.05 at a 60 s resync, 0.21 at 300 s.
            "calls_per_endpoint_per_minute": 1.05,
            "calls_per_endpoint_per_minute_at_default_resync": 0.21,
            "operator_cpu_percent": 1.5,
        },
        "single_change_latency_seconds": {"p50": 0.16, "p95": 0.2, "max": 0.3, "samples": 20},
        "rolling": {
            "seconds": 40.0,
            "update_latency_seconds": {"p50": 6.0, "p95": 9.5, "max": 11.0, "samples": count},
            "failed_invocations": 0,
        },
        "operator_peak_rss_mb": 150.0,
        "failover_sigterm_handover_seconds": 1.1,
        "failover_kill_to_leading_seconds": 4.2,
        "failover_kill_to_converged_seconds": 10.8,
        "failover_duplicate_writes": 0,
        "wall_seconds": 400.0,
    }


def record(count: int = 1000, date: str = "2030-01-02", run: dict[str, Any] | None = None) -> dict[str, Any]:
    """The published record of a fabricated run."""
    return published_record(run or fabricated_run(count), date=date, machine=MACHINE, config=CONFIG,
                            git_commit="0" * 40)


def test_the_record_has_the_published_keys_and_figures() -> None:
    published = record()
    assert {key: published[key] for key in REQUIRED_KEYS} == {
        "endpoints": 1000,
        "converge_seconds": 21.5,
        "aws_calls_per_endpoint_to_create": 5.0,
        "steady_calls_per_endpoint_per_minute": 0.21,
        "one_change_to_update_p50_seconds": 0.16,
        "one_change_to_update_p95_seconds": 0.2,
        "all_at_once_apply_to_update_p95_seconds": 9.5,
        "failed_invocations": 0,
        "peak_rss_mb": 150.0,
        "operator_rss_mb_per_endpoint": 0.15,
        "operator_cpu_seconds_per_endpoint_to_converge": 0.012,
        "operator_cpu_percent_steady": 1.5,
        "kubernetes_version": "1.37.2",
        "machine": MACHINE,
    }
    assert published["endpoint_ready_p95_seconds"] == 12.25
    assert published["all_at_once_apply_to_update_p50_seconds"] == 6.0
    assert published["all_at_once_done_seconds"] == 40.0
    assert published["restart_aws_writes"] == 0
    assert published["restart_describes_per_endpoint"] == 0.97
    assert published["aws_calls_per_endpoint_to_create_by_operation"]["DescribeEndpoint"] == 2.0
    assert published["steady_calls_by_operation"] == {"DescribeEndpoint": 0.2, "ListTags": 0.01}
    assert math.isclose(sum(published["steady_calls_by_operation"].values()),
                        published["steady_calls_per_endpoint_per_minute"])
    assert published["resync_seconds"] == 60.0
    assert published["emulator"] == {"create_seconds": 5.0, "update_seconds": 5.0, "latency_ms": 30.0}
    assert published["date"] == "2030-01-02"
    assert published["git_commit"] == "0" * 40
    assert published["runs"] == 1
    assert published["failover_duplicate_writes"] == 0
    assert published["harness_cpu_ms_per_create"] == 0.9


def test_an_explicit_kubernetes_version_wins_over_the_runs() -> None:
    published = published_record(fabricated_run(), date="2030-01-02", machine=MACHINE, kubernetes_version="1.20.2")
    assert published["kubernetes_version"] == "1.20.2"
    assert published["emulator"] is None


@pytest.mark.parametrize(("skipped", "nulls"), [
    ("rolling", {"all_at_once_apply_to_update_p50_seconds", "all_at_once_apply_to_update_p95_seconds",
                 "all_at_once_done_seconds", "failed_invocations"}),
    ("single_change_latency_seconds", {"one_change_to_update_p50_seconds", "one_change_to_update_p95_seconds"}),
    ("steady", {"steady_calls_per_endpoint_per_minute", "steady_calls_by_operation", "operator_cpu_percent_steady",
                "resync_seconds"}),
    ("restart", {"restart_aws_writes", "restart_describes_per_endpoint"}),
])
def test_a_skipped_phase_gives_nulls_for_its_keys_only(skipped: str, nulls: set[str]) -> None:
    run = fabricated_run()
    del run[skipped]
    published = record(run=run)
    assert set(REQUIRED_KEYS) <= set(published)
    assert {key for key, value in published.items() if value is None} == nulls


def test_nan_figures_are_published_as_null() -> None:
    run = fabricated_run()
    run["single_change_latency_seconds"] = {"p50": float("nan"), "p95": float("nan"), "samples": 0}
    published = record(run=run)
    assert published["one_change_to_update_p50_seconds"] is None
    json.loads(json.dumps(published, allow_nan=False))


def test_the_file_is_named_by_date_and_n_and_written_stably(tmp_path: Path) -> None:
    published = record(1000, "2030-01-02")
    assert record_path(published, tmp_path) == tmp_path / "2030-01-02-1000.json"
    assert record_path(published) == RESULTS_DIR / "2030-01-02-1000.json"
    path = write_record(published, tmp_path)
    text = path.read_text()
    assert text.endswith("}\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert [r["endpoints"] for r in load_records(tmp_path)] == [1000]


def test_targets_bound_their_figures_at_their_n() -> None:
    keys = {target.key for target in TARGETS}
    assert keys <= set(REQUIRED_KEYS)
    at_1000 = record(1000)
    assert verdict(at_1000, "converge_seconds") is True
    assert verdict(at_1000, "aws_calls_per_endpoint_to_create") is None  # no target
    assert verdict(at_1000, "steady_calls_per_endpoint_per_minute") is False  # 0.21 > 0.01
    # The all-at-once target is set at N = 1,000 only: at 100 nothing bounds it.
    assert verdict(record(100), "all_at_once_apply_to_update_p95_seconds") is None
    assert verdict(at_1000, "all_at_once_apply_to_update_p95_seconds") is True


def test_newest_record_per_n_wins() -> None:
    old, new, other = record(1000, "2030-01-01"), record(1000, "2030-02-01"), record(100, "2029-12-31")
    assert newest_per_n([new, other, old]) == {100: other, 1000: new}


def _readme(tmp_path: Path) -> Path:
    readme = tmp_path / "README.md"
    readme.write_text(f"# Project\n\nBefore.\n\n{TABLE_START}\nstale\n{TABLE_END}\n\nAfter.\n")
    return readme


def test_readme_without_records_says_so_and_lists_the_targets(tmp_path: Path) -> None:
    readme, results = _readme(tmp_path), tmp_path / "results"
    assert update_readme(readme, results) is False
    text = readme.read_text()
    assert "No benchmark run has been published yet" in text
    assert "≤ 25 s at N = 1,000" in text
    assert text.startswith("# Project\n\nBefore.\n\n") and text.endswith(f"{TABLE_END}\n\nAfter.\n")


def test_readme_table_is_one_row_per_n_idempotent_and_checked(tmp_path: Path) -> None:
    readme, results = _readme(tmp_path), tmp_path / "results"
    for published in (record(100, "2030-01-01"), record(1000, "2030-01-01"), record(1000, "2030-02-01")):
        write_record(published, results)
    assert main(["--results", str(results), "readme", "--readme", str(readme), "--check"]) == 1
    assert main(["--results", str(results), "readme", "--readme", str(readme)]) == 0
    first = readme.read_text()
    assert main(["--results", str(results), "readme", "--readme", str(readme), "--check"]) == 0
    assert update_readme(readme, results) is True
    assert readme.read_text() == first
    rows = [line for line in first.splitlines() if line.startswith("| ")]
    assert len(rows) == 3  # the header, N = 100 and N = 1,000 (its newest record only)
    assert "converge, s (≤ 25 s at N = 1,000; reported at N = 10,000)" in rows[0]
    assert rows[2].startswith("| 1,000 | 21.5 ✓ | 5 | 0.2100 ✗ |")
    assert "2030-02-01" in rows[2] and "[record](results/2030-02-01-1000.json)" in rows[2]
    assert "harness 0.9 ms CPU / create" in rows[2]  # the machine's pace during the run
    assert "| 100 | 21.5 |" in rows[1]  # the converge target is set at 1,000: no mark at 100
    # A new record makes the table stale until it is regenerated.
    write_record(record(10000, "2030-03-01"), results)
    assert update_readme(readme, results, check=True) is False
    assert readme.read_text() == first


def test_replace_table_needs_both_markers() -> None:
    with pytest.raises(ValueError, match="bench-table"):
        replace_table("no markers here\n", "table")


def test_committed_readme_table_matches_the_committed_results() -> None:
    """The table is generated: `python -m bench.results readme` after committing a record."""
    assert update_readme(README, RESULTS_DIR, check=True), "run: python -m bench.results readme"
    assert render_table(load_records(RESULTS_DIR)) in README.read_text()


def test_records_from_a_report_json_without_publish() -> None:
    report = {"config": CONFIG, "machine": {"cpus": 2, "python": "3.11.2", "platform": "Linux-fixture"},
              "kubernetes_version": "1.37.2", "date": "2030-01-02", "git_commit": None,
              "runs": {"1000": [fabricated_run(), fabricated_run()]}, "summary": {"1000": fabricated_run()}}
    (published,) = records_from_report(json.loads(json.dumps(report)))
    assert published["machine"]["cores"] == 2
    assert published["runs"] == 2
    assert published["date"] == "2030-01-02"
    assert published["converge_seconds"] == 21.5


@pytest.mark.parametrize("counts", [(1000,), (100, 1000, 10000)])
def test_the_chart_is_drawn_for_one_and_for_several_n(tmp_path: Path, counts: tuple[int, ...]) -> None:
    records = {}
    for count in counts:
        run = copy.deepcopy(fabricated_run(count))
        run["convergence"]["seconds"] = 2.0 * count / 100
        if count == 10000:
            del run["rolling"]  # a skipped phase: its panels have a gap, nothing fails
        records[count] = record(count, run=run)
    path = tmp_path / "chart.png"
    assert write_chart(records, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000


def test_the_chart_command_draws_the_committed_kind_of_records(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_record(record(100), results)
    write_record(record(1000), results)
    out = tmp_path / "chart.png"
    assert main(["--results", str(results), "chart", str(out)]) == 0
    assert out.stat().st_size > 0
    assert main(["--results", str(tmp_path / "none"), "chart", str(tmp_path / "no.png")]) == 1
