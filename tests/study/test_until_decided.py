"""``batch --until-decided``: rounds until the reachable compare checks are decided, each
look at its share of 5 %. The rounds here import seed-shaped runs (the real importer,
store and analysis); the simulated Jetson end to end is measured in docs/report.md."""

from __future__ import annotations

import io

import pytest

from labkit.cli import batch
from labkit.config.playbook import load_playbook
from labkit.errors import LabkitError
from labkit.study.importer import import_logs
from labkit.study.until_decided import until_decided
from tests.conftest import REPO
from tests.seedlogs import write_seed_logs

PLAYBOOK = REPO / "playbooks" / "lerobot-loop-lag.yml"
pytestmark = pytest.mark.slow  # each round imports runs and judges them: 15-30 s a test


def rounds(tmp_path, counts: dict[str, list[int]]):
    """A ``run_round`` that brings each experiment to k runs from ``counts`` (warnings per
    60 s run), recording the rounds it was asked for."""
    pb = load_playbook(PLAYBOOK)
    asked: list[int] = []

    def run_round(k: int) -> None:
        asked.append(k)
        for name, per_run in counts.items():
            n = per_run[k - 1]
            folder = tmp_path / f"logs-{name}-{k}"
            hz = [12.0 + 0.1 * i + 0.01 * k for i in range(n)]
            write_seed_logs(folder, name, hz, 20 if name == "exp2b" else 30)
            import_logs(folder, pb, tmp_path / "runs", log=lambda m: None)

    return pb, asked, run_round


def study(tmp_path, counts: dict[str, list[int]], budget: int):
    """(final look, rounds asked for, what it printed) of exp1 vs exp2b."""
    pb, asked, run_round = rounds(tmp_path, counts)
    out = io.StringIO()
    state = until_decided(pb, tmp_path / "runs", ["exp1", "exp2b"], budget, run_round, out)
    return state, asked, out.getvalue()


def test_stops_as_soon_as_the_check_is_decided(tmp_path):
    counts = {"exp1": [11, 12, 10, 11, 12, 11], "exp2b": [1, 2, 1, 2, 1, 2]}
    state, asked, text = study(tmp_path, counts, 6)
    # round 1 has no spread; at 99.93 % two runs a side (11, 12 vs 1, 2) are not enough yet
    assert state.done and asked == [1, 2, 3]
    assert "1 run(s) each: no look before 2 runs a side" in text
    assert "spending: 99.93 % at 2, 99.51 % at 3, 98.92 % at 4, 98.46 % at 5, 98.18 % at 6" in text
    first = text.split("round 3")[0]
    assert "H2 warnings_per_min exp2b vs exp1: not yet — effect" in first
    assert "99.93 % CI" in first
    assert "H2 warnings_per_min exp2b vs exp1: decided, supports" in text
    assert "99.51 % CI" in text and state.alpha == pytest.approx(0.0048877, abs=1e-6)
    assert "decided after 3 runs per experiment (budget 6): stopping" in text


def test_an_effect_near_the_threshold_spends_the_budget_and_says_so(tmp_path):
    counts = {"exp1": [10, 14, 9, 13, 11, 12], "exp2b": [5, 8, 4, 7, 6, 5]}
    state, asked, text = study(tmp_path, counts, 3)
    assert not state.done and asked == [1, 2, 3]
    assert "H2 warnings_per_min exp2b vs exp1: not yet" in text
    assert "budget spent (3 runs per experiment): 1 check(s) still undecided" in text


def test_a_round_that_adds_no_run_a_side_spends_nothing(tmp_path):
    """A round whose exp2b run failed adds nothing to compare: no look, no level spent, so
    the looks' levels still add up to at most 5 %."""
    pb, asked, run_round = rounds(
        tmp_path, {"exp1": [10, 14, 9, 13, 11, 12], "exp2b": [5, 8, 4, 7, 6, 5]}
    )

    def failing_third(k: int) -> None:
        if k != 3:
            run_round(k)

    out = io.StringIO()
    state = until_decided(pb, tmp_path / "runs", ["exp1", "exp2b"], 4, failing_third, out)
    text = out.getvalue()
    assert (
        "round 3 of at most 4\n  still 2 run(s) each: a run of round 3 did not complete, so "
        "no new look (nothing spent)" in text
    )
    assert asked == [1, 2, 4] and state.runs == 3
    # the look at 3 runs a side takes what the spending allows from 2 to 3 of 4 runs:
    # (2 - 2 Phi(1.95996 / sqrt(3/4))) - (2 - 2 Phi(1.95996 / sqrt(2/4))) = 0.023625 - 0.005575
    assert state.alpha == pytest.approx(0.018051, abs=1e-6)


def test_a_second_batch_continues_the_looks_over_the_runs_in_the_store(tmp_path):
    """A batch interrupted after 3 rounds, then `--until-decided` again over the same
    store: the runs there count as the looks at 2 and 3 runs a side, so the second batch
    starts at round 3, looks at those runs at the share of the look at 3 (not the whole
    5 % spent from 0 again) and goes on with the schedule; no round says it added nothing."""
    counts = {"exp1": [10, 14, 9, 13, 11, 12], "exp2b": [5, 8, 4, 7, 6, 5]}
    pb, asked, run_round = rounds(tmp_path, counts)

    def interrupted(k: int) -> None:
        if k > 3:
            raise LabkitError("interrupted")
        run_round(k)

    store, names = tmp_path / "runs", ["exp1", "exp2b"]
    with pytest.raises(LabkitError, match="interrupted"):
        until_decided(pb, store, names, 6, interrupted, io.StringIO())
    out = io.StringIO()
    state = until_decided(pb, store, names, 6, run_round, out)
    text = out.getvalue()
    assert asked == [1, 2, 3, 3, 4, 5, 6]  # round 3 again adds nothing: its runs are there
    assert "3 run(s) each of exp1, exp2b already in the store" in text
    assert "the looks at 2..2 runs a side count as made" in text
    # the share of each look: spent(n/6) - spent((n-1)/6), O'Brien-Fleming-type
    assert "look 2 of 5 (3 runs a side, at 99.51 %)" in text
    assert "look 3 of 5 (4 runs a side, at 98.92 %)" in text
    assert "look 5 of 5 (6 runs a side, at 98.18 %)" in text
    assert "no new look" not in text and "look 1 of 5" not in text
    # the last look's level: (2 - 2 Phi(1.95996)) - (2 - 2 Phi(1.95996 / sqrt(5/6)))
    assert state.alpha == pytest.approx(0.05 - 0.031793, abs=1e-4)


def test_experiments_no_check_compares_are_refused(tmp_path):
    pb = load_playbook(PLAYBOOK)
    with pytest.raises(LabkitError, match="no compare check of lerobot-loop-lag compares two"):
        until_decided(pb, tmp_path, ["exp5"], 4, lambda k: None, io.StringIO())


def test_repeat_and_until_decided_do_not_mix(tmp_path):
    with pytest.raises(LabkitError, match="drop --repeat"):
        batch(str(PLAYBOOK), runs=str(tmp_path), repeat=3, until_decided=True)
    with pytest.raises(LabkitError, match="--max-runs goes with --until-decided"):
        batch(str(PLAYBOOK), runs=str(tmp_path), max_runs=3)
