"""The probes' observer effect: an experiment that only adds probes is compared with the
one it observes by the rule of every comparison, on the workload's headline metrics."""

from __future__ import annotations

from labkit.analysis.configs import group_runs
from labkit.analysis.observer import observed_pairs, observer_effects
from labkit.analysis.runs import RunData
from labkit.config.playbook import load_playbook
from tests.analysis.test_observing import _run as observing_run
from tests.conftest import REPO

PLAYBOOK = REPO / "playbooks" / "lerobot-loop-lag.yml"
TEG = {"tegrastats": {}}
PROFILED = {"tegrastats": {}, "threads": {}, "pyspy": {}}
RUNQ = {"tegrastats": {}, "runq": {}}


def _run(pb, experiment: str, n: int, warnings: int, probes: dict, hz: float | None) -> RunData:
    run = observing_run(pb, experiment, n, warnings, probes)
    run.metrics["median_hz"] = hz
    return run


def _effects(runs, pb):
    return observer_effects(
        group_runs(runs, pb), ["warnings_per_min", "median_hz"], pb.metrics, list(pb.experiments)
    )


def test_exp8_and_exp9_observe_exp1_and_a_treatment_observes_nothing():
    pb = load_playbook(PLAYBOOK)
    runs = [_run(pb, "exp1", i, 20, TEG, 25.0) for i in range(2)]
    runs += [_run(pb, "exp8", 10 + i, 20, PROFILED, 25.0) for i in range(2)]
    runs += [_run(pb, "exp9", 20 + i, 20, RUNQ, 25.0) for i in range(2)]
    runs += [_run(pb, "exp2b", 30 + i, 5, TEG, 18.0) for i in range(2)]
    pairs = observed_pairs(group_runs(runs, pb), list(pb.experiments))
    got = {(a.experiment, b.experiment, tuple(added)) for a, b, added in pairs}
    assert got == {("exp8", "exp1", ("pyspy", "threads")), ("exp9", "exp1", ("runq",))}


def test_probes_that_slow_the_loop_show_as_worse_with_an_interval():
    pb = load_playbook(PLAYBOOK)
    runs = [_run(pb, "exp1", i, 10 + i, TEG, 25.0 + 0.3 * i) for i in range(4)]
    runs += [_run(pb, "exp8", 10 + i, 40 + 2 * i, PROFILED, 20.0 + 0.3 * i) for i in range(4)]
    [e] = _effects(runs, pb)
    assert (e.experiment, e.observed, e.probes, e.runs, e.observed_runs) == (
        "exp8", "exp1", ["pyspy", "threads"], 4, 4,
    )  # fmt: skip
    rate, hz = e.metrics
    assert rate.metric.name == "warnings_per_min" and rate.verdict == "worse"
    assert rate.comparison.effect > 2 and rate.comparison.effect_ci[0] > 0
    assert hz.metric.name == "median_hz" and hz.verdict == "worse"  # a lower loop rate
    assert hz.comparison.effect_ci[1] < 0
    text = e.sentence()
    assert text.startswith("the pyspy+threads probes (`exp8` against `exp1`): warnings_per_min")
    assert "95 % CI" in text and text.endswith("4 and 4 runs")


def test_probes_within_the_noise_show_no_effect():
    pb = load_playbook(PLAYBOOK)
    runs = [_run(pb, "exp1", i, c, TEG, h) for i, (c, h) in enumerate([(10, 24), (14, 26)] * 2)]
    runs += [
        _run(pb, "exp8", 10 + i, c, PROFILED, h)
        for i, (c, h) in enumerate([(13, 25), (11, 24.5)] * 2)
    ]
    [e] = _effects(runs, pb)
    assert [m.verdict for m in e.metrics] == ["no effect shown", "no effect shown"]
    lo, hi = e.metrics[0].comparison.effect_ci
    assert lo < 0 < hi


def test_single_runs_and_runs_without_warnings_are_said_not_hidden():
    pb = load_playbook(PLAYBOOK)
    runs = [_run(pb, "exp1", 0, 12, TEG, 25.0), _run(pb, "exp8", 1, 0, PROFILED, None)]
    [e] = _effects(runs, pb)
    rate, hz = e.metrics
    assert rate.verdict == "single run" and "no spread" in rate.text()
    assert hz.verdict == "not compared" and "no run of exp8 has it" in hz.text()
    assert e.as_json()["metrics"][1] == {
        "metric": "median_hz", "unit": "Hz", "verdict": "not compared",
        "reason": "no run of exp8 has it",
    }  # fmt: skip
