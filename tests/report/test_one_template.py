"""One report skeleton for every workload: a `command` playbook's report has the same
sections as LeRobot's, its metrics in a table with units in the headers, its observer
effect, changes ranked by its events per minute, and one summary.csv with exactly its
workload's and probes' metrics."""

from __future__ import annotations

import json
import re

from labkit.config.playbook import load_playbook
from labkit.records.model import current
from labkit.records.store import write_manifest
from labkit.report.build import build_report
from labkit.workloads.lerobot.metrics import METRICS as LEROBOT
from tests.conftest import DATA
from tests.report.test_build import section, summary_rows, table

PLAYBOOK = DATA / "workloads" / "command" / "good.yml"
SKELETON = [
    "Scope",
    "Experiment setup",
    "Hypotheses and checks",
    "Quantitative summary",
    "Threats to validity",
    "Observer effect",
    "Figures",
    "Most likely root cause",
    "Recommendation",
    "Follow-ups",
    "Runs",
    "Metrics",
]


def _run(runs, pb, experiment: str, i: int, slow: int, probes: dict) -> None:
    """A finished run of the command as the engine leaves it: its log, the supervisor's
    time and its record."""
    run_id = f"20260101T1000{i:02d}Z-sim-{i:04d}"
    run = runs / experiment / run_id
    run.mkdir(parents=True)
    lines = ["tick"] * 100 + [f"SLOW latency={5 + 0.1 * k:.2f}ms" for k in range(slow)]
    (run / "output.log").write_text("\n".join(lines) + "\n")
    (run / "status.json").write_text(json.dumps({"workload_s": 60.0}))
    record = {
        "schema": 2, "run_id": run_id, "experiment": experiment, "status": "complete",
        "host": {"name": "sim", "connection": "local"},
        "playbook": {"name": pb.name, "file": str(pb.file), "sha256": pb.sha256},
        "workload": pb.workload.record(), "probes": probes,
        "params": pb.params_for(experiment),
    }  # fmt: skip
    write_manifest(run, current(record, run))


def test_a_command_report_has_the_one_skeleton(tmp_path):
    pb = load_playbook(PLAYBOOK)
    runs = tmp_path / "runs"
    for i, slow in enumerate([20, 22, 21]):
        _run(runs, pb, "base", i, slow, {"tegrastats": {}})
    for i, slow in enumerate([20, 21, 23]):
        _run(runs, pb, "bare", 10 + i, slow, {})  # base without its probe
    _run(runs, pb, "fast", 20, 30, {"tegrastats": {}})
    result = build_report(pb, runs, tmp_path / "out", log=lambda m: None)
    text = result.markdown.read_text()

    assert re.findall(r"^## (.+)$", text, re.M) == SKELETON
    summary = section(text, "Quantitative summary")
    rows = {r["Experiment"]: r for r in table(summary, "Experiment | Runs")}
    assert rows["`fast`"]["slow_count"] == "30" and rows["`fast`"]["tick_count"] == "100"
    assert rows["`base`"]["slow_per_min [1/min]"].startswith("21 [")  # mean [95 % CI]
    assert rows["`base`"]["duration_s [s]"] == "60"  # no spread: no interval shown
    assert rows["`base`"]["slow_median"] != "—"  # the statistics of the event's values
    setup = {r["Experiment"]: r for r in table(text, "Experiment | Description")}
    assert setup["`bare`"]["Probes"] == "" and setup["`base`"]["Probes"] == "tegrastats"

    observer = section(text, "Observer effect")
    assert "- the tegrastats probe (`base` against `bare`): slow_per_min 21.3 → 21" in observer
    assert observer.rstrip().endswith("3 and 3 runs")
    cause = section(text, "Most likely root cause")
    assert "effect on slow_per_min against the baseline `base`" in cause
    assert "raising rate 30→50 (fast) raised slow_per_min by 4" in cause
    for part in (cause, section(text, "Recommendation")):
        assert "bare" not in part  # it only lacks a probe: never a cause
    assert "keep it" in section(text, "Recommendation")  # nothing beat the baseline
    assert "![" in section(text, "Figures")  # the valued event's figure
    assert (result.folder / "event-slow.png").read_bytes()[:4] == b"\x89PNG"

    assert not (result.folder / "events.csv").exists()  # one data file for every workload
    header = (result.folder / "summary.csv").read_text().splitlines()[0].split(",")
    assert "slow_per_min [1/min]" in header and "duration_s [s]" in header
    names = {h.split(" [")[0] for h in header}
    assert not names & (set(LEROBOT) - {"duration_s"})  # no LeRobot column
    got = {r["experiment"]: r for r in summary_rows(result.folder / "summary.csv")}
    assert set(got) == {"base", "bare", "fast"}
    assert float(got["fast"]["slow_per_min"]) == 30.0
