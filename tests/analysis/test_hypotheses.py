"""Hypothesis verdicts on the seed's runs (imported), and the cases that must stay undecided."""

from __future__ import annotations

import pytest

from labkit.analysis.hypotheses import judge
from labkit.analysis.runs import load_runs
from labkit.config.playbook import Check, load_playbook
from labkit.study.importer import import_logs
from tests.conftest import REPO
from tests.seedlogs import SEED, write_seed, write_seed_logs

PLAYBOOK = REPO / "playbooks" / "lerobot-loop-lag.yml"


@pytest.fixture(scope="module")
def seed_runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("seed")
    pb = load_playbook(PLAYBOOK)
    import_logs(write_seed(base / "logs"), pb, base / "runs", log=lambda m: None)
    return pb, load_runs(base / "runs", pb.name)


def test_seed_metrics(seed_runs):
    _, runs = seed_runs
    by = {r.experiment: r.metrics for r in runs}
    assert {k: by[k]["warnings"] for k in by} == {k: len(v[0]) for k, v in SEED.items()}
    assert by["exp1"]["min_hz"] == 9.6 and by["exp2b"]["min_hz"] == 15.6
    assert by["exp3"]["min_hz"] == 16.0 and by["exp4"]["min_hz"] == 15.8
    assert by["exp5"]["min_hz"] == 15.5
    for m in by.values():
        assert m["hw_codec"] is True and m["all_cores_saturated_share"] == 0.0
        assert m["warnings_single_core_saturated_share"] == 1.0
        assert 25 < m["cpu_mean_pct"] < 40 and m["cpu_peak_pct"] >= 90


def test_seed_verdicts_match_the_hand_written_report(seed_runs):
    pb, runs = seed_runs
    verdicts = {h.id: judge(h, runs) for h in pb.model.hypotheses}
    assert {k: v.verdict for k, v in verdicts.items()} == {
        "H1": "refuted",
        "H2": "supported",
        "H3": "supported",
        "H4": "refuted",
        "H5": "refuted",
        "H6": "inconclusive",  # exp8 (profiled) is not in the seed's logs
        "H7": "inconclusive",
        "H8": "inconclusive",  # exp9 (runq) is not in the seed's logs either
    }
    h2 = verdicts["H2"].evidence
    assert "exp2b 1 vs exp1 11" in h2 and "-91%" in h2 and "-50%" in h2
    assert "exp4 8 vs exp1 11, -27%" in verdicts["H4"].evidence
    assert "hw_codec = True on all 5 runs" in verdicts["H1"].evidence
    # 11 + 5 + 8 + 11 = 35 warnings in 4 one-minute runs at 30 fps: 8.75/min. One run per
    # experiment, so the runs' own spread counts: Pearson chi2 (2.25² · 2 + 3.75² + 0.75²)
    # / 8.75 = 2.829 on 3 df, phi 0.943 -- below Poisson's 1, so Poisson's: the exact
    # interval of 35 events in 4 min, chi2(0.025, 70) / 8 = 6.09 to chi2(0.975, 72) / 8 =
    # 12.2, above 0 (phi 0.943 taken as is gave 5.19 to 14.8 on 3 df)
    assert (
        "warnings_per_min over exp1, exp3, exp4, exp5: 8.75/min pooled over 4 runs (4 min "
        "recorded), 95 % CI 6.09 to 12.2: > 0/min" in verdicts["H1"].evidence
    )
    # every check names its method: the codec check each run's value, the rate its interval's
    codec, rate = verdicts["H1"].checks
    assert codec.method.startswith("each run's own value against the condition")
    assert rate.method.startswith("exact Poisson interval of the total count")
    assert rate.as_json()["method"] == rate.method


def test_one_short_quiet_run_cannot_flip_the_pooled_rate(tmp_path):
    """The issue's case: a quiet short run beside runs that leave no doubt."""
    pb = load_playbook(PLAYBOOK)
    logs = tmp_path / "logs"
    for i, n in enumerate([11, 9, 0]):
        write_seed_logs(logs / f"a{i}", "exp1", [20.0 + k for k in range(n)])
    for sub in sorted(logs.iterdir()):
        import_logs(sub, pb, tmp_path / "runs", log=lambda m: None)
    runs = load_runs(tmp_path / "runs", pb.name)
    [h1] = [h for h in pb.model.hypotheses if h.id == "H1"]
    rate = judge(h1, runs).checks[1]
    assert rate.outcome == "refutes"  # warnings persist: the rate's interval is above 0
    assert "20/min" not in rate.evidence and "6.67/min pooled over 3 runs" in rate.evidence


def test_a_rate_check_needs_a_comparison_with_a_number():
    with pytest.raises(ValueError, match="a rate check needs op"):
        Check(kind="rate", metric="warnings_per_min", op="eq", value=0)


def test_overlapping_repeats_and_missing_runs_stay_inconclusive(tmp_path):
    pb = load_playbook(PLAYBOOK)
    logs = tmp_path / "logs"
    # exp1 repeats 11 and 4 warnings, exp2b repeats 5 and 1: a -60% mean effect, overlapping
    for i, n in enumerate([11, 4]):
        write_seed_logs(logs / f"a{i}", "exp1", [20.0 + k for k in range(n)])
    for i, n in enumerate([5, 1]):
        write_seed_logs(logs / f"b{i}", "exp2b", [15.0 + k for k in range(n)], target=20)
    for sub in sorted(logs.iterdir()):
        import_logs(sub, pb, tmp_path / "runs", log=lambda m: None)
    runs = load_runs(tmp_path / "runs", pb.name)
    h = {x.id: x for x in pb.model.hypotheses}
    v2 = judge(h["H2"], runs)
    assert v2.verdict == "inconclusive"
    # exp1's rate (11 and 4 per minute) is not told apart from 0 at this spread: Fieller's
    # interval is unbounded above, and stops at -100 % below (a rate is never negative)
    # ... said in words, never as ∞
    assert (
        "95 % CI -100% or more, no upper bound (the baseline is not clearly above 0 at the "
        "spread seen)" in v2.evidence
    )
    assert "straddles the -50%" in v2.evidence and "∞" not in v2.evidence
    v3 = judge(h["H3"], runs)  # no exp3 run at all
    assert v3.verdict == "inconclusive" and "no complete run of exp3" in v3.evidence


def test_one_undecided_check_leaves_the_hypothesis_undecided(tmp_path):
    """H1 needs both: a hardware codec and warnings anyway. A run with no warnings refutes
    nothing, so H1 stays inconclusive although its codec check decides."""
    pb = load_playbook(PLAYBOOK)
    write_seed_logs(tmp_path / "logs", "exp1", [])
    import_logs(tmp_path / "logs", pb, tmp_path / "runs", log=lambda m: None)
    h1 = next(h for h in pb.model.hypotheses if h.id == "H1")
    v = judge(h1, load_runs(tmp_path / "runs", pb.name))
    assert [c.outcome for c in v.checks] == ["refutes", "inconclusive"]
    assert v.verdict == "inconclusive"
    assert "hw_codec = True on the 1 run of exp1" in v.evidence
    # no warning in one minute: the exact Poisson interval 0 to chi2(0.975, 2)/2 = 3.69
    assert "0/min pooled over 1 runs (1 min recorded), 95 % CI 0 to 3.69" in v.evidence
    assert "the interval straddles 0/min" in v.evidence


def test_runs_without_warnings_are_left_out_of_per_warning_checks(tmp_path):
    """H5 asks where the warnings happen: a run with none says nothing about that."""
    pb = load_playbook(PLAYBOOK)
    write_seed_logs(tmp_path / "logs", "exp1", [20.0, 21.0])
    write_seed_logs(tmp_path / "logs", "exp2b", [], target=20)
    import_logs(tmp_path / "logs", pb, tmp_path / "runs", log=lambda m: None)
    runs = load_runs(tmp_path / "runs", pb.name)
    h5 = next(h for h in pb.model.hypotheses if h.id == "H5")
    v = judge(h5, runs)
    assert v.verdict == "refuted", v.evidence
    assert "(1 run(s) without warnings left out)" in v.checks[1].evidence
    only_quiet = [r for r in runs if r.experiment == "exp2b"]
    assert judge(h5, only_quiet).checks[1].outcome == "inconclusive"
