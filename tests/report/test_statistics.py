"""Verdicts over repeats: checks, root cause and recommendation follow one rule and agree;
configurations are never pooled; the outputs carry the statistics."""

from __future__ import annotations

import json
import math
import re

import pytest
import yaml

from labkit.analysis.configs import _key
from labkit.config.playbook import load_playbook
from labkit.metric_names import REGISTRY
from labkit.records.model import current
from labkit.records.store import load_manifest, write_manifest
from labkit.report.build import build_report, with_playbook
from labkit.study.importer import import_logs
from tests.conftest import REPO
from tests.report.test_build import section, summary_rows, table
from tests.seedlogs import write_seed_logs

PLAYBOOK = REPO / "playbooks" / "lerobot-loop-lag.yml"
QUIET = {"log": lambda m: None}
CASES = yaml.safe_load((REPO / "tests/data/stats/agreement.yaml").read_text())


def add_runs(runs, tmp, name: str, counts: list[int], target: int = 30, **patch) -> list[str]:
    """One imported run per count, each with that many warnings in its 60 s episode;
    ``patch`` entries are merged into each manifest (overrides, params, settings)."""
    pb = load_playbook(PLAYBOOK)
    ids = []
    for n in counts:
        i = len(list(tmp.glob("logs-*")))  # distinct logs: the importer skips a copy
        folder = tmp / f"logs-{name}-{i}"
        write_seed_logs(folder, name, [12.0 + 0.1 * k + 0.01 * i for k in range(n)], target)
        [m] = import_logs(folder, pb, runs, **QUIET)
        if patch:
            run_dir = runs / name / m.run_id
            data = load_manifest(run_dir).as_dict()
            for key, value in patch.items():
                data[key] = {**(data.get(key) or {}), **value}
            m = current(data, run_dir)
            write_manifest(run_dir, m)
        ids.append(m.run_id)
    return ids


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_checks_root_cause_and_recommendation_agree(case, tmp_path):
    runs = tmp_path / "runs"
    add_runs(runs, tmp_path, "exp1", case["exp1"])
    add_runs(runs, tmp_path, "exp2b", case["exp2b"], target=20)
    result = build_report(load_playbook(PLAYBOOK), runs, tmp_path / "out", **QUIET)
    text = result.markdown.read_text()
    assert result.verdicts["H2"] == case["H2"]
    cause = section(text, "Most likely root cause")
    heading = {
        "primary": "Primary:",
        "contributing": "Contributing:",
        "not primary": "Not primary",
        "undecided": "Undecided (more runs needed):",
    }[case["rank"]]
    block = cause.split(heading, 1)[1].split("\n\n", 1)[0]
    assert "(exp2b)" in block
    assert result.recommended == case["recommended"]
    # the check and the root cause quote the same effect, by the same method
    checks = json.loads((result.folder / "hypotheses.json").read_text())["H2"]["checks"]
    effect = checks[0]["effect"]
    assert f"by {abs(effect):.0%}" in block


def test_mixed_configurations_are_never_pooled(tmp_path):
    """exp1 made with `--set settings.cpu_governor=performance` is its own row; runs that
    only differ in length pool; neither is named as a change by the root cause."""
    runs = tmp_path / "runs"
    add_runs(runs, tmp_path, "exp1", [10, 11, 12])
    add_runs(
        runs,
        tmp_path,
        "exp1",
        [11],
        overrides={"dataset.episode_time_s": 10},
        params={"dataset.episode_time_s": 10},
    )
    perf = add_runs(
        runs,
        tmp_path,
        "exp1",
        [1, 2],
        overrides={"settings.cpu_governor": "performance"},
        settings={"settings.cpu_governor": "performance"},
    )
    add_runs(
        runs,
        tmp_path,
        "exp2b",
        [2, 3, 4],
        target=20,
        overrides={"dataset.episode_time_s": 10},
        params={"dataset.episode_time_s": 10},
    )
    result = build_report(load_playbook(PLAYBOOK), runs, tmp_path / "out", **QUIET)
    text = result.markdown.read_text()
    main = {r["Experiment"]: r for r in table(section(text, "Quantitative summary"), "Experiment")}
    assert main["`exp1`"]["Runs"] == "4"  # three plain runs and the short one: same config
    assert main["`exp1`"]["Warnings per run"] == "11 (10–12)"
    other = table(text, "Experiment [configuration]")
    assert [(r["Experiment [configuration]"], r["Runs"]) for r in other] == [
        ("`exp1 [settings.cpu_governor=performance]`", "2")
    ]
    assert other[0]["Reproduce with"] == (
        "`invoke experiment --name exp1 --set settings.cpu_governor=performance`"
    )
    cause = section(text, "Most likely root cause")
    rec = section(text, "Recommendation")
    for part in (cause, rec):
        assert "episode_time_s" not in part.replace("--set dataset.episode_time_s=10", "")
        assert "cpu_governor" not in part
    assert "Best tested configuration: **`exp2b`**" in rec
    assert "- lowering dataset.fps 30→20\n" in rec
    assert "Reproduce with `invoke experiment --name exp2b --set dataset.episode_time_s=10`" in rec
    # the override runs are not pooled into the checks either
    h2 = json.loads((result.folder / "hypotheses.json").read_text())["H2"]["checks"][0]
    assert (h2["n_baseline"], h2["n_variant"]) == (4, 3)
    assert not set(perf) & set(h2["runs"])
    rows = list(summary_rows(result.folder / "summary.csv"))
    assert [(r["experiment"], r["configuration"], r["runs"]) for r in rows] == [
        ("exp1", "playbook", "4"),
        ("exp1", "settings.cpu_governor=performance", "2"),
        ("exp2b", "playbook", "3"),
    ]


def test_warnings_per_run_of_different_lengths_are_labelled_and_the_rate_pools_time(tmp_path):
    """Three 60 s runs and a 20 s one: the per-run column is labelled per run and names
    the run lengths; the rate is the total over the total time, (10 + 11 + 12 + 2) warnings
    in 3 1/3 min = 10.5/min, never the mean count 8.75 read as a rate."""
    pb = load_playbook(PLAYBOOK)
    runs = tmp_path / "runs"
    add_runs(runs, tmp_path, "exp1", [10, 11, 12])
    write_seed_logs(tmp_path / "short", "exp1", [12.0, 12.5], stop_s=20)
    import_logs(tmp_path / "short", pb, runs, **QUIET)
    text = build_report(pb, runs, tmp_path / "out", **QUIET).markdown.read_text()
    [row] = table(section(text, "Quantitative summary"), "Experiment")
    assert row["Runs"] == "4"
    assert row["Warnings per run"] == "8.75 (2–12), runs of 20–60 s"
    assert row["Warnings/min"].startswith("10.5 [")
    assert "- `exp1` (" in text and "8.75 (2–12) warnings per run, runs of 20–60 s" in text


def test_outputs_carry_the_statistics(tmp_path):
    runs = tmp_path / "runs"
    add_runs(runs, tmp_path, "exp1", [10, 11, 12])
    add_runs(runs, tmp_path, "exp2b", [2, 3, 4], target=20)
    add_runs(runs, tmp_path, "exp3", [5])
    result = build_report(load_playbook(PLAYBOOK), runs, tmp_path / "out", **QUIET)
    hyp = json.loads((result.folder / "hypotheses.json").read_text())
    h2 = hyp["H2"]
    assert h2["verdict"] == "inconclusive" and h2["evidence"]
    [c] = h2["checks"]
    assert (c["kind"], c["metric"], c["verdict"]) == ("compare", "warnings_per_min", "inconclusive")
    assert (c["baseline"], c["variant"], c["n_baseline"], c["n_variant"]) == ("exp1", "exp2b", 3, 3)
    # effect -8/11 = rate ratio 9/33 - 1; both sides' repeats agree better than Poisson's
    # counts (phi 0.09, 0.33), so Poisson's variances 11/3 and 3/3, known: Fieller's
    # interval at z = 1.96 (tests/data/stats/counts.yaml, repeats-steadier-than-poisson),
    # p of no change 2 sf(8 / sqrt(1 + 11/3)) = 0.0002
    assert c["effect"] == pytest.approx(-0.7273, abs=1e-4)
    assert c["effect_ci"] == pytest.approx([-0.9082, -0.4745], abs=1e-3)
    assert c["p_value"] == pytest.approx(0.000213, abs=1e-5)
    assert c["method"].startswith("rate ratio over recorded time")
    # one exp3 run against three of exp1: exp3 borrows the dispersion pooled over the
    # experiments (Pearson chi2 2/11 + 2/3 on 4 df: 0.2121, below 1, so Poisson's), so
    # its rate 5 has variance 5, exp1's 11/3, both known: Fieller's quadratic
    # rho² (121 - 3.8415 · 11/3) - 110 rho + (25 - 3.8415 · 5) = 0 -> [0.0557, 0.9732]:
    # [-94.4 %, -2.7 %] straddles the -30 % H3 needs
    [c3] = hyp["H3"]["checks"]
    assert c3["effect_ci"] == pytest.approx([-0.9443, -0.0268], abs=1e-3)
    assert "pooled over 3 experiments" in c3["method"]
    assert c3["verdict"] == "inconclusive" and "straddles the -30%" in hyp["H3"]["evidence"]
    rows = {r["experiment"]: r for r in summary_rows(result.folder / "summary.csv")}
    # exp1's own dispersion: chi2 2/11 on 2 df, phi 0.0909 < 1: Poisson's, the exact
    # interval of 33 events in 3 min, chi2(0.025, 66) / 6 = 7.572 to chi2(0.975, 68) / 6 =
    # 15.448 (phi taken as is gave [8.776, 13.787], narrower than Poisson noise allows)
    assert float(rows["exp1"]["warnings_per_min_ci_lo"]) == pytest.approx(7.572, abs=1e-3)
    assert float(rows["exp1"]["warnings_per_min_ci_hi"]) == pytest.approx(15.448, abs=1e-3)
    assert rows["exp1"]["min_hz_ci_lo"] != ""
    # one run: the exact Poisson interval of 5 events in a minute, chi2(0.025, 10)/2 and
    # chi2(0.975, 12)/2; a floor of one run has none
    assert float(rows["exp3"]["warnings_per_min_ci_lo"]) == pytest.approx(1.6235, abs=1e-3)
    assert float(rows["exp3"]["warnings_per_min_ci_hi"]) == pytest.approx(11.668, abs=1e-3)
    assert rows["exp3"]["min_hz_ci_hi"] == ""
    text = result.markdown.read_text()
    summary = {
        r["Experiment"]: r for r in table(section(text, "Quantitative summary"), "Experiment")
    }
    assert summary["`exp1`"]["Warnings/min"] == "11 [7.57–15.4]"
    threats = section(text, "Threats to validity")
    assert "**Single runs** (1 run): `exp3` was measured once" in threats
    assert "**Imported runs without facts** (7 runs)" in threats
    assert not math.isnan(c["effect"])


def test_a_set_value_the_playbook_gives_anyway_is_not_another_configuration(tmp_path):
    runs = tmp_path / "runs"
    add_runs(runs, tmp_path, "exp1", [10, 11])
    add_runs(runs, tmp_path, "exp1", [12], overrides={"dataset.fps": 30})  # exp1's own fps
    add_runs(runs, tmp_path, "exp2b", [2, 3], target=20)
    result = build_report(load_playbook(PLAYBOOK), runs, tmp_path / "out", **QUIET)
    text = result.markdown.read_text()
    main = {r["Experiment"]: r for r in table(section(text, "Quantitative summary"), "Experiment")}
    assert main["`exp1`"]["Runs"] == "3"
    assert "### Other configurations" not in text and "Not run yet: `exp1`" not in text


def test_an_experiment_run_only_with_set_values_is_not_called_not_run_yet(tmp_path):
    """exp3 has runs, all of them in another configuration (cameras at 15 fps): the report
    says so and asks for a run in the playbook's own, instead of "Not run yet"."""
    runs = tmp_path / "runs"
    add_runs(runs, tmp_path, "exp1", [10, 11])
    slower = {"camera.fps": 15}
    add_runs(runs, tmp_path, "exp3", [1, 2], overrides=slower, params=slower)
    result = build_report(load_playbook(PLAYBOOK), runs, tmp_path / "out", **QUIET)
    text = result.markdown.read_text()
    setup = section(text, "Experiment setup")
    assert "Run only in other configurations" in setup and "`exp3`" in setup.split("Run only")[1]
    assert "`exp3`" not in setup.split("Not run yet:")[1].split("\n")[0]
    followups = section(text, "Follow-ups")
    assert "- Run `exp3` in the playbook's own configuration, without `--set`" in followups
    assert "- Run `exp3`: " not in followups


def test_of_two_plain_configurations_the_current_playbooks_is_the_experiments(tmp_path):
    """Runs of an earlier playbook (another sha256) with another camera fps: kept apart,
    labelled with what differs; the current playbook's runs are the experiment's."""
    runs = tmp_path / "runs"
    old = add_runs(
        runs, tmp_path, "exp1", [3, 3, 3, 4],
        params={"camera.fps": 15}, playbook={"sha256": "0" * 64},
    )  # fmt: skip
    add_runs(runs, tmp_path, "exp1", [10, 11])
    result = build_report(load_playbook(PLAYBOOK), runs, tmp_path / "out", **QUIET)
    text = result.markdown.read_text()
    main = {r["Experiment"]: r for r in table(section(text, "Quantitative summary"), "Experiment")}
    assert main["`exp1`"]["Runs"] == "2"
    [other] = table(text, "Experiment [configuration]")
    assert other["Experiment [configuration]"] == "`exp1 [camera.fps=15]`"
    assert other["Runs"] == str(len(old))


def test_warned_rates_come_from_the_runs_that_warned(tmp_path):
    """A repeat without warnings has no warned rate: the floor is the others' lowest."""
    runs = tmp_path / "runs"
    add_runs(runs, tmp_path, "exp1", [0, 3, 4])
    result = build_report(load_playbook(PLAYBOOK), runs, tmp_path / "out", **QUIET)
    text = result.markdown.read_text()
    main = {r["Experiment"]: r for r in table(section(text, "Quantitative summary"), "Experiment")}
    # warned rates are 12.0 + 0.1 k + 0.01 i (add_runs): the floor is run #1's 12.01 Hz
    assert main["`exp1`"]["Min Hz"] == "12.0 (12.0–12.0)"
    [row] = list(summary_rows(result.folder / "summary.csv"))
    assert float(row["min_hz"]) == pytest.approx(12.01)
    assert row["median_hz"] != ""


def test_an_experiment_whose_runs_never_warned_has_no_warned_rate(tmp_path):
    runs = tmp_path / "runs"
    add_runs(runs, tmp_path, "exp2b", [0], target=20)
    result = build_report(load_playbook(PLAYBOOK), runs, tmp_path / "out", **QUIET)
    [row] = list(summary_rows(result.folder / "summary.csv"))
    assert (row["warnings"], row["min_hz"], row["median_hz"]) == ("0", "", "")


def test_suggested_commands_name_a_playbook_that_is_not_the_default(tmp_path):
    pb = load_playbook(REPO / "playbooks" / "loop-jitter.yml")
    text = "Reproduce with `invoke experiment --name fast`; `invoke batch --repeat 3`"
    assert with_playbook(text, pb) == (
        "Reproduce with `invoke experiment --playbook playbooks/loop-jitter.yml --name fast`; "
        "`invoke batch --playbook playbooks/loop-jitter.yml --repeat 3`"
    )
    assert with_playbook(text, load_playbook(PLAYBOOK)) == text


def test_a_float_given_as_an_int_is_the_same_configuration():
    assert _key({"late_ms": 1, "rate": 30.0}) == _key({"late_ms": 1.0, "rate": 30})


def test_no_interval_in_the_outputs_leaves_its_metrics_domain(tmp_path):
    """Spread, zeros on one side, a single run: every ``_ci_lo``/``_ci_hi`` of
    summary.csv lies within its metric's bounds, every effect interval of hypotheses.json
    within [-100 %, ∞) (all compared metrics here are non-negative)."""
    runs = tmp_path / "runs"
    add_runs(runs, tmp_path, "exp1", [11, 1, 30])
    add_runs(runs, tmp_path, "exp2b", [0, 1, 2], target=20)  # a copy would be skipped
    add_runs(runs, tmp_path, "exp3", [0])
    add_runs(runs, tmp_path, "exp4", [9, 9])
    result = build_report(load_playbook(PLAYBOOK), runs, tmp_path / "out", **QUIET)
    rows = list(summary_rows(result.folder / "summary.csv"))
    scanned, kinds = 0, set()
    for row in rows:
        for key, text in row.items():
            if not key.endswith(("_ci_lo", "_ci_hi")) or text == "":
                continue
            low, high = REGISTRY[key[:-6]].bounds
            value = float(text)
            assert low is None or value >= low, (row["experiment"], key, value)
            assert high is None or value <= high, (row["experiment"], key, value)
            scanned += 1
            kinds.add(REGISTRY[key[:-6]].kind)
    assert scanned >= 8
    assert {"count", "rate", "share", "duration", "frequency"} <= kinds, kinds
    # the report's summary table: every metric there is >= 0, so is every interval shown
    shown = re.findall(
        r"\[(-?[\d.]+(?:e[-+]?\d+)?)–", section(result.markdown.read_text(), "Quantitative summary")
    )
    assert shown and all(float(lo) >= 0 for lo in shown), shown
    hyp = json.loads((result.folder / "hypotheses.json").read_text())
    effects = [c["effect_ci"] for h in hyp.values() for c in h["checks"] if c.get("effect_ci")]
    assert effects
    for lo, hi in effects:
        assert lo is None or lo == "inf" or float(lo) >= -1.0
        assert hi is None or hi == "inf" or float(hi) >= -1.0
