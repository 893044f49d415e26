"""``invoke batch --until-decided``: rounds of the playbook's experiments until every
``compare`` check they can reach is decided, or the budget is spent.

Round k brings every selected experiment to k runs (the batch is resumable: runs already in
the store count), interleaved as a batch orders them. From two runs a side, every round is
a look at the reachable checks. Stopping when the data look decided would inflate false
verdicts if each look used the full 5 %; each look uses the share of 5 % that
O'Brien-Fleming-type spending allows it (``labkit.analysis.stats.look_alpha``: little at
two or three runs a side, most of it at the last looks), the shares adding up to 5 %, which
keeps the chance of any false verdict at 5 % or less (tests/analysis/test_calibration.py
simulates it). The report built afterwards judges the same runs at the ordinary 95 %.

The looks count the runs already in the store: a batch that starts over n runs a side
(an earlier ``--until-decided`` stopped, or was interrupted) takes the looks at 2 .. n-1
runs as made -- their shares stay spent -- and looks at the n runs at the share of the
look at n (``look_level``: the same look an earlier batch made there, the same level, so
nothing more is spent), then goes on with the schedule. The schedule is that of
``--max-runs``: keep it the same across batches that extend one comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from labkit.analysis.configs import group_runs
from labkit.analysis.hypotheses import CheckResult, compare_check
from labkit.analysis.runs import RunData, load_runs
from labkit.analysis.stats import FIRST_LOOK, effect_text, look_alpha, look_level
from labkit.config.playbook import Check, Playbook
from labkit.errors import LabkitError

MIN_RUNS = FIRST_LOOK  # a look needs a spread on each side: one run per side decides nothing


@dataclass
class Look:
    """What one round left decided and open."""

    runs: int  # runs per experiment after the round (the fewest of the selected)
    alpha: float = 0.0  # the level this look was judged at (its share of 5 %)
    decided: list[str] = field(default_factory=list)
    open: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return not self.open


def reachable(pb: Playbook, names: list[str]) -> list[tuple[str, Check]]:
    """(hypothesis id, check) of every compare check between two of ``names``."""
    return [
        (h.id, c)
        for h in pb.model.hypotheses
        for c in h.checks
        if c.kind == "compare" and c.baseline in names and c.variant in names
    ]


def latest_runs(runs: list[RunData], pb: Playbook, names: list[str]) -> list[RunData]:
    """Per experiment, the runs of the configuration its newest run was made in (the one
    this batch is adding to), so configurations are never pooled. ``runs``: oldest first."""
    position = {id(r): i for i, r in enumerate(runs)}
    groups = group_runs([r for r in runs if r.experiment in names], pb)
    out: list[RunData] = []
    for name in names:
        mine = [g for g in groups if g.experiment == name]
        if mine:
            out += max(mine, key=lambda g: max(position[id(r)] for r in g.runs)).runs
    return out


def _line(hid: str, check: Check, result: CheckResult, level: str) -> str:
    what = f"{hid} {check.metric} {check.variant} vs {check.baseline}"
    c = result.comparison
    if c is None:
        return f"{what}: not yet — {result.evidence}"
    ci = c.interval_text(f"{level} CI")
    effect = effect_text(c.effect)
    if result.outcome == "inconclusive" or c.single:
        return f"{what}: not yet — effect {effect}, {ci} straddles its threshold"
    return f"{what}: decided, {result.outcome} (effect {effect}, {ci})"


def _level(alpha: float) -> str:
    """A look's confidence level as printed: 99.93 %."""
    return f"{(1 - alpha) * 100:.4g} %"


def schedule(max_runs: int) -> list[tuple[int, float]]:
    """(runs per side, level) of each look when every round adds a run a side."""
    return [(n, look_level(n, max_runs)) for n in range(MIN_RUNS, max_runs + 1)]


def _fewest(store: Path, pb: Playbook, names: list[str]) -> tuple[list[RunData], int]:
    """The runs a look compares (each experiment's configuration being added to) and the
    fewest runs any of ``names`` has."""
    complete = [r for r in load_runs(store, pb.name) if r.complete]
    runs = latest_runs(complete, pb, names)
    return runs, min((sum(r.experiment == n for r in runs) for n in names), default=0)


def look(pb: Playbook, runs: list[RunData], names: list[str], alpha: float, checks) -> Look:
    """The reachable checks judged on ``runs`` at the per-look level ``alpha``."""
    level = _level(alpha)
    counts = [sum(r.experiment == n for r in runs) for n in names]
    state = Look(min(counts) if counts else 0, alpha)
    for hid, check in checks:
        result = compare_check(check, runs, pb.metrics, alpha)
        line = _line(hid, check, result, level)
        c = result.comparison
        decided = result.outcome != "inconclusive" and c is not None and not c.single
        (state.decided if decided else state.open).append(line)
    return state


def until_decided(
    pb: Playbook,
    store: Path,
    names: list[str],
    max_runs: int,
    run_round: Callable[[int], Any],
    out: TextIO,
) -> Look:
    """Run rounds (``run_round(k)`` brings every experiment to k runs) until every
    reachable compare check is decided or ``max_runs`` runs per experiment are spent."""
    checks = reachable(pb, names)
    if not checks:
        raise LabkitError(
            f"--until-decided: no compare check of {pb.name} compares two of "
            f"{', '.join(names)}; pick experiments a check compares (e.g. --only "
            "exp1,exp2b)"
        )
    plan = ", ".join(f"{_level(a)} at {n}" for n, a in schedule(max_runs))
    print(
        f"until decided: {len(checks)} compare check(s), at most {max_runs} runs per "
        f"experiment; a look after each round from {MIN_RUNS} runs a side, each at its share "
        f"of 5 % (O'Brien-Fleming-type spending: {plan})",
        file=out,
    )
    state = Look(0, open=[f"{hid} {c.metric}" for hid, c in checks])
    _, stored = _fewest(store, pb, names)
    # the runs already in the store count as looked at up to the one before them
    previous = stored - 1 if stored > MIN_RUNS else 0
    if stored:
        print(
            f"{stored} run(s) each of {', '.join(names)} already in the store (their newest "
            f"configuration): the rounds start at {stored}"
            + (
                f"; the looks at {MIN_RUNS}..{stored - 1} runs a side count as made (their "
                "share of 5 % stays spent)"
                if stored > MIN_RUNS
                else ""
            ),
            file=out,
        )
    if stored > max_runs:
        print(
            f"budget spent before the first round: {stored} runs each, more than --max-runs "
            f"{max_runs}; a larger --max-runs starts another schedule (docs/report.md)",
            file=out,
        )
        return state
    looks = max_runs - MIN_RUNS + 1
    for k in range(max(stored, 1), max_runs + 1):
        print(f"round {k} of at most {max_runs}", file=out)
        run_round(k)
        runs, fewest = _fewest(store, pb, names)
        if fewest < MIN_RUNS:
            print(f"  {fewest} run(s) each: no look before {MIN_RUNS} runs a side", file=out)
            continue
        if fewest <= previous:
            print(
                f"  still {fewest} run(s) each: a run of round {k} did not complete, so no new "
                "look (nothing spent)",
                file=out,
            )
            continue
        alpha = look_alpha(fewest, previous, max_runs)
        print(
            f"  look {fewest - MIN_RUNS + 1} of {looks} ({fewest} runs a side, at {_level(alpha)})",
            file=out,
        )
        state = look(pb, runs, names, alpha, checks)
        previous = fewest
        for line in state.decided:
            print(f"  {line}", file=out)
        for line in state.open:
            print(f"  {line}", file=out)
        if state.done:
            print(
                f"every reachable check is decided after {state.runs} runs per experiment "
                f"(budget {max_runs}): stopping",
                file=out,
            )
            return state
    print(
        f"budget spent ({max_runs} runs per experiment): {len(state.open)} check(s) still "
        "undecided",
        file=out,
    )
    return state
