"""Threats to validity, each computed from run records and naming the runs it concerns."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from labkit.analysis.configs import group_runs
from labkit.analysis.runs import RunData
from labkit.analysis.validity import threats
from tests.runrecord import run_record

FACTS = {
    "nvpmodel": {"name": "120W", "id": 1},
    "cpu": {
        "cpus": {
            "0": {"online": True, "governor": "schedutil", "min_khz": 972000, "max_khz": 2601000},
            "1": {"online": True, "governor": "schedutil", "min_khz": 972000, "max_khz": 2601000},
        }
    },
    "top_processes": [{"pid": 10, "user": "root", "cpu_pct": 1.0, "command": "sshd"}],
}


def run(name: str, exp: str = "exp1", wpm: float = 5.0, **manifest) -> RunData:
    m = {"experiment": exp, "status": "complete", "params": {"dataset.fps": 30}, "facts": FACTS}
    m["facts_after"] = FACTS
    m.update(manifest)
    metrics = {"warnings_per_min": wpm, "temp_max_c": 50.0}
    return RunData(Path("/store") / exp / name, run_record(**m), metrics)


def kinds(runs: list[RunData]) -> dict[str, list[str]]:
    return {t.kind: t.runs for t in threats(group_runs(runs), runs)}


def test_clean_repeated_runs_show_no_threat():
    runs = [run(f"r{i}", exp, 5.0 + i % 2) for exp in ("exp1", "exp2b") for i in range(3)]
    assert kinds(runs) == {}


def test_a_configuration_measured_once_is_a_single_run():
    runs = [run("a1"), run("a2"), run("b1", "exp2b")]
    assert kinds(runs) == {"single-run": ["b1"]}


def test_the_single_runs_command_repeats_those_runs_with_their_set_values():
    """The command names the experiments measured once and their --set values (run
    length included), one batch per configuration, as the recommendation's does."""
    short = {"overrides": {"dataset.episode_time_s": 10}}
    perf = {"overrides": {"settings.cpu_governor": "performance"}}
    perf["settings"] = perf["overrides"]
    runs = [run("a1"), run("a2"), run("b1", "exp2b", **short), run("c1", "exp3", **short)]
    runs.append(run("a3", "exp1", **perf))
    [lone] = threats(group_runs(runs), runs)
    assert lone.runs == ["b1", "c1", "a3"]
    assert (
        "(`invoke batch --only exp2b,exp3 --repeat 3 --set dataset.episode_time_s=10`; "
        "`invoke batch --only exp1 --repeat 3 --set settings.cpu_governor=performance` "
        "to confirm)" in lone.detail
    )


def test_a_busy_core_below_its_configured_clock_is_throttling():
    slow, hot = run("slow"), run("hot")
    # core 0 busy in 4 samples, at 1200 MHz in 2 of them: 50 % of busy samples held back
    slow.teg = pd.DataFrame(
        {
            "cpu0_load_pct": [95.0, 97.0, 99.0, 92.0, 10.0],
            "cpu0_freq_mhz": [2601.0, 1200.0, 1200.0, 2601.0, 972.0],
            "cpu1_load_pct": [5.0] * 5,
            "cpu1_freq_mhz": [972.0] * 5,
        }
    )
    hot.metrics["temp_max_c"] = 96.0
    fine = run("fine")
    fine.teg = slow.teg.assign(cpu0_freq_mhz=[2601.0] * 5)
    # a run that set its own power mode ran under other maxima than the facts say
    moded = run("moded", settings={"settings.nvpmodel": 3})
    moded.teg = slow.teg
    found = threats(group_runs([slow, hot, fine, moded]), [slow, hot, fine, moded])
    [t] = [t for t in found if t.kind == "thermal"]
    assert t.runs == ["slow", "hot"]
    assert "slow: 50% of busy-core samples below 90 % of the configured clock" in t.detail
    assert "hot: 96 °C" in t.detail


def test_a_governor_changed_during_the_run_is_settings_drift():
    after = {**FACTS, "cpu": {"cpus": {**FACTS["cpu"]["cpus"]}}}
    after["cpu"]["cpus"]["1"] = {**after["cpu"]["cpus"]["1"], "governor": "performance"}
    runs = [run("a"), run("b", facts_after=after), run("c", facts_after=None)]
    found = {t.kind: t for t in threats(group_runs(runs), runs)}
    assert found["settings-drift"].runs == ["b"]
    assert "cpu1 governor schedutil→performance" in found["settings-drift"].detail


def test_another_busy_process_at_run_start_is_background_load():
    long = "/usr/bin/python3 -m pytest " + "tests/very/long/path " * 5
    procs = [
        {"pid": 7, "user": "bob", "cpu_pct": 87.5, "command": "make"},
        {"pid": 8, "user": "bob", "cpu_pct": 40.0, "command": long},
        {"pid": 9, "user": "bob", "cpu_pct": 9.0, "command": "idle-ish"},
    ]
    busy = {**FACTS, "top_processes": procs}
    runs = [run("a"), run("b", facts=busy, facts_after=busy)]
    found = {t.kind: t for t in threats(group_runs(runs), runs)}
    assert found["background-load"].runs == ["b"]
    detail = found["background-load"].detail
    assert "b: `make` 88%, `python3 -m pytest tests/very/long/path tests/ve…` 40%" in detail
    assert "idle-ish" not in detail  # under 10 % is not load


def test_a_metric_that_trends_with_batch_position_is_an_order_effect():
    runs = []
    for i in range(1, 9):  # warnings climb with position in both experiments
        for exp, base in (("exp1", 10.0), ("exp2b", 2.0)):
            runs.append(run(f"{exp}-{i}", exp, base + i, batch={"id": "b", "index": i}))
    found = {t.kind: t for t in threats(group_runs(runs), runs)}
    assert "order" in found and len(found["order"].runs) == 16
    assert "rises with the run's position" in found["order"].detail
    flat = [run(f"{exp}-{i}", exp, base + (i % 2), batch={"id": "b", "index": i})
            for i in range(1, 9) for exp, base in (("exp1", 10.0), ("exp2b", 2.0))]  # fmt: skip
    assert "order" not in kinds(flat)


def test_imported_runs_without_facts_are_named():
    runs = [run("a", imported=True, facts=None), run("b", imported=True, facts=None), run("c")]
    found = kinds(runs)
    assert found["no-facts"] == ["a", "b"]


def test_host_settings_on_a_simulated_host_do_not_reach_a_command_workload():
    sim = {"name": "sim", "connection": "local (simulated Jetson)"}
    runs = [
        run("c1", host=sim, workload={"kind": "command"},
            settings={"settings.cpu_governor": "performance"}),
        run("c2", host=sim, workload={"kind": "command"}, settings={}),
        run("l1", host=sim, settings={"settings.cpu_governor": "performance"}),
    ]  # fmt: skip
    assert kinds(runs)["simulated-settings"] == ["c1"]


def test_order_effects_are_looked_for_on_the_workloads_own_headline_metric():
    """A command workload's runs drift in its late event's rate (its headline), not in
    LeRobot's warnings: the order check asks the workload which metric that is."""
    wl = {"kind": "command", "command": "true", "events": {"late": "late"}, "late_event": "late"}
    runs = []
    for i in range(1, 9):
        for exp, base in (("exp1", 10.0), ("exp2b", 2.0)):
            r = run(f"{exp}-{i}", exp, 5.0, batch={"id": "b", "index": i}, workload=wl)
            r.metrics["late_per_min"] = base + i
            runs.append(r)
    found = {t.kind: t for t in threats(group_runs(runs), runs)}
    assert found["order"].detail.startswith("late_per_min rises with the run's position")
