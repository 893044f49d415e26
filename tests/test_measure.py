"""A run measured by its plug-ins (labkit.measure): the summary its record keeps and the
line it ends with come from the workload and each probe, for every workload kind."""

from __future__ import annotations

import shutil
from pathlib import Path

from labkit.measure import measure_run, one_line, summarize_run
from labkit.registry import workload_of
from tests.runrecord import run_record

SEED = Path(__file__).resolve().parent.parent / "examples" / "seed-logs"
LEROBOT = {"kind": "lerobot-record", "log": "record.log"}
TEGRASTATS = {"tegrastats": {"files": ["tegrastats.log"]}}


def test_a_lerobot_runs_line_has_its_warnings_then_the_probes_cpu_and_samples():
    record = run_record(
        workload=LEROBOT,
        probes=TEGRASTATS,
        summary={"warnings": 3, "min_hz": 9.6, "cpu_mean_pct": 41.5,
                 "cpu_peak_pct": 97.0, "samples": 61},
    )  # fmt: skip
    assert one_line(record) == (
        "3 slow-loop warnings, min 9.6 Hz, CPU mean 41.5% / peak 97%, 61 tegrastats samples"
    )


def test_a_command_runs_line_counts_its_events_with_their_median():
    record = run_record(
        workload={"kind": "command", "events": {"slow": r"SLOW (?P<value>\d+)"},
                  "units": {"slow": "ms"}},
        probes={},
        summary={"slow_count": 20, "slow_median": 5.15, "events": ["slow"]},
    )  # fmt: skip
    assert one_line(record) == "20 slow (median 5.15 ms)"


def test_a_pipelines_line_has_its_late_samples_and_slowest_sink():
    record = run_record(
        workload={"kind": "gstreamer", "sinks": ["cam0"]},
        probes={"runq": {}},
        summary={"late_sample_count": 4, "fps_average_min": 28.25},
    )
    assert one_line(record) == "4 late_sample, slowest sink 28.2 fps"


def test_a_run_without_logs_says_so():
    assert one_line(run_record(workload=LEROBOT, probes=TEGRASTATS)) == "no logs"


def test_the_summary_is_the_workloads_and_the_probes_part_of_the_measured_metrics(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(SEED / "exp2b_record.log", run / "record.log")
    shutil.copy(SEED / "exp2b_tegrastats.log", run / "tegrastats.log")
    record = run_record(workload=LEROBOT, probes=TEGRASTATS)

    measured = measure_run(run, record, workload_of(record))
    summary = summarize_run(run, record)

    assert summary["warnings"] == measured.metrics["warnings"] > 0
    assert summary["cpu_mean_pct"] == round(measured.metrics["cpu_mean_pct"], 1)
    assert summary["samples"] == len(measured.tables["tegrastats"])
    assert (run / "tegrastats.parquet").exists() and (run / "record-events.parquet").exists()
    assert one_line(record.model_copy(update={"summary": summary})).startswith(
        f"{summary['warnings']} slow-loop warnings"
    )


def test_a_skipped_probe_gives_no_metrics_and_no_summary(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(SEED / "exp2b_record.log", run / "record.log")
    shutil.copy(SEED / "exp2b_tegrastats.log", run / "tegrastats.log")
    record = run_record(workload=LEROBOT, probes={"tegrastats": {"skipped": "not found"}})

    summary = summarize_run(run, record, write_parsed=False)

    assert "samples" not in summary and "cpu_mean_pct" not in summary
    assert summary["warnings"] > 0
