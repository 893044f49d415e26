"""Per-experiment rows: the loop target, the late-event count and which metrics keep a spread
or an interval are the workload's and the metrics' own declarations, never LeRobot's names."""

from __future__ import annotations

from pathlib import Path

from labkit.analysis.experiments import aggregate, columns, target_hz
from labkit.analysis.runs import RunData, without_late_events
from labkit.config.playbook import load_playbook
from labkit.metric_names import REGISTRY
from labkit.records.model import current
from labkit.registry import workload_of
from tests.conftest import REPO
from tests.runrecord import run_record

LEROBOT = {"kind": "lerobot-record", "log": "record.log"}
COMMAND = {"kind": "command", "log": "output.log", "command": "true", "events": {}}


def run(workload: dict | None, params: dict) -> RunData:
    if workload is None:  # a schema-1 record (no workload): migrated as it is read
        old = {"status": "complete", "params": params}
        return RunData(Path("."), current(old, Path("runs/exp1/r1")))
    return RunData(Path("."), run_record(workload=workload, params=params))


def test_lerobots_target_is_its_resolved_fps():
    assert target_hz(run(LEROBOT, {"dataset.fps": 20})) == 20.0
    assert target_hz(run(None, {"dataset.fps": 30})) == 30.0  # schema 1: lerobot-record
    assert target_hz(run(LEROBOT, {})) is None


def test_a_command_has_no_target_even_with_a_parameter_named_like_lerobots():
    assert target_hz(run(COMMAND, {"dataset.fps": 20, "rate": 50})) is None


def test_an_experiments_target_is_its_runs_one_target_else_none():
    same = [run(LEROBOT, {"dataset.fps": 20}), run(LEROBOT, {"dataset.fps": 20})]
    mixed = [run(LEROBOT, {"dataset.fps": 20}), run(LEROBOT, {"dataset.fps": 30})]
    assert aggregate(same, "exp1", metrics={})["target_hz"] == 20.0
    assert aggregate(mixed, "exp1", metrics={})["target_hz"] is None


STAGED_COMMAND = COMMAND | {"events": {"slow": r"SLOW (?P<value>\d+)"}, "late_event": "slow"}
COINCIDENCE = "warnings_single_core_saturated_share"  # tegrastats': describes late events


def test_the_late_count_is_the_workloads_own():
    assert workload_of(run_record(workload=LEROBOT)).late_count() == "warnings"
    assert workload_of(run_record(workload=STAGED_COMMAND)).late_count() == "slow_count"
    assert workload_of(run_record(workload=COMMAND)).late_count() is None  # no late event named


def test_a_run_without_late_events_says_nothing_of_what_describes_them_for_any_workload():
    staged = run_record(workload=STAGED_COMMAND)
    quiet = RunData(Path("q"), staged, {"slow_count": 0, COINCIDENCE: None})
    late = RunData(Path("l"), staged, {"slow_count": 3, COINCIDENCE: 0.5})
    assert without_late_events(quiet) and not without_late_events(late)
    row = aggregate([quiet, late], "jitter", metrics={COINCIDENCE: REGISTRY[COINCIDENCE]})
    assert row[COINCIDENCE] == 0.5  # over the run that had late events


def test_spread_and_floor_interval_columns_follow_the_declarations():
    lerobot = columns(load_playbook(REPO / "playbooks" / "lerobot-loop-lag.yml").metrics)
    assert {"warnings_lo", "warnings_per_min_hi", "min_hz_lo", "duration_s_hi"} <= set(lerobot)
    assert {"min_hz_ci_lo", "min_hz_ci_hi"} <= set(lerobot)  # the floor: of per-run floors
    assert "median_hz_lo" not in lerobot and "cpu_peak_pct_ci_lo" not in lerobot
    command = columns(load_playbook(REPO / "playbooks" / "loop-jitter.yml").metrics)
    spreads = [c for c in command if c.endswith("_lo") and not c.endswith("_ci_lo")]
    assert spreads == ["duration_s_lo"]
