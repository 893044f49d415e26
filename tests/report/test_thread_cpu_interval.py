"""A thread's CPU is never below 0: the report's interval of the threads probe's metrics
stays in their domain however widely the runs spread."""

from __future__ import annotations

import shutil

import yaml

from labkit.config.playbook import load_playbook
from labkit.report.build import build_report
from tests.report.test_build import section, summary_rows, table
from tests.report.test_one_template import PLAYBOOK, _run

T0 = 1767261600.0  # 2026-01-01 10:00 UTC


def threads_log(pct: float, seconds: int = 20) -> str:
    """The sampler's log of a main thread (tid = pid = 100) at ``pct`` % of a core, one
    reading a second at 100 ticks a second."""
    lines = [f"H 100 {T0:.6f} 0"]
    lines += [f"S {T0 + k:.6f} 100 100 {round(k * pct)} 0 python3" for k in range(seconds + 1)]
    return "\n".join([*lines, "SELF 0.05"]) + "\n"


def test_a_thread_cpu_metric_with_spread_has_a_non_negative_interval(tmp_path):
    doc = yaml.safe_load(PLAYBOOK.read_text())
    doc["probes"] = ["threads"]
    doc["hypotheses"] = []
    shutil.copytree(PLAYBOOK.parent / "files", tmp_path / "files")
    (tmp_path / "threads.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    pb = load_playbook(tmp_path / "threads.yml")
    runs = tmp_path / "runs"
    for i, pct in enumerate([1, 2, 9]):  # a symmetric t interval would reach -7
        _run(runs, pb, "base", i, 20, {"threads": {}})
        [run] = (runs / "base").glob(f"*-{i:04d}")
        (run / "threads.log").write_text(threads_log(pct))
    result = build_report(pb, runs, tmp_path / "out", log=lambda m: None)

    [row] = summary_rows(result.folder / "summary.csv")
    assert float(row["loop_thread_cpu_pct"]) == 4.0
    low, high = float(row["loop_thread_cpu_pct_ci_lo"]), float(row["loop_thread_cpu_pct_ci_hi"])
    assert 0 < low < 4.0 < high
    summary = section(result.markdown.read_text(), "Quantitative summary")
    [shown] = table(summary, "Experiment | Runs | loop_thread_cpu_pct [% of a core]")
    cell = shown["loop_thread_cpu_pct [% of a core]"]
    assert cell.startswith("4 [") and "[-" not in cell, cell
