"""Simulated studies of labkit's own rule: how often a ``compare`` check holds, fails or
stays undecided when the truth is known.

A study is ``runs`` runs a side of ``minutes`` each; every run draws its own rate (a gamma
with a coefficient of variation ``spread``: run-to-run spread on top of Poisson noise), then
a Poisson count at that rate. The variant's mean rate is ``ratio`` x the baseline's. The
count rule (``labkit.analysis.counts.compare_counts``) and the per-run Welch rule of the
previous release (``labkit.analysis.stats.compare`` on per-minute rates) decide each study;
the test suite and ``bench/calibration.py`` read the tallies.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from labkit.analysis.counts import Counts, compare_counts
from labkit.analysis.stats import ALPHA, compare, look_level

OUTCOMES = ("holds", "fails", "inconclusive")


@dataclass(frozen=True)
class Scenario:
    """A known truth: the variant's rate is ``ratio`` x the baseline's ``rate`` per minute."""

    name: str
    ratio: float
    runs: int
    rate: float = 10.0
    minutes: float = 1.0
    spread: float = 0.5  # run-to-run coefficient of variation of the rate
    expect: str = "lower"
    min_effect: float = 0.5


def draw(rng: np.random.Generator, rate: float, runs: int, minutes: float, spread: float):
    """Counts of ``runs`` runs: a gamma rate per run (mean ``rate``, CV ``spread``), then
    Poisson noise over ``minutes``."""
    shape = 1 / spread**2
    rates = rng.gamma(shape, rate / shape, size=runs) if spread > 0 else np.full(runs, rate)
    return rng.poisson(rates * minutes)


def count_rule(s: Scenario, base: np.ndarray, var: np.ndarray) -> str:
    minutes = [s.minutes] * s.runs
    return compare_counts(
        Counts.of(base, minutes), Counts.of(var, minutes), s.expect, s.min_effect, plan=False
    ).outcome


def welch_rule(s: Scenario, base: np.ndarray, var: np.ndarray) -> str:
    """The previous release's rule: Welch/Fieller on the per-run rates per minute."""
    return compare(
        base / s.minutes, var / s.minutes, s.expect, s.min_effect, outcome_only=True
    ).outcome


Rule = Callable[[Scenario, np.ndarray, np.ndarray], str]


def simulate(
    s: Scenario, studies: int, seed: int, rules: dict[str, Rule] | None = None
) -> dict[str, dict[str, float]]:
    """Rule name -> outcome -> share of ``studies`` simulated studies (seeded)."""
    rules = rules or {"counts": count_rule, "welch": welch_rule}
    rng = np.random.default_rng(seed)
    tally = {name: Counter() for name in rules}
    for _ in range(studies):
        base = draw(rng, s.rate, s.runs, s.minutes, s.spread)
        var = draw(rng, s.rate * s.ratio, s.runs, s.minutes, s.spread)
        for name, rule in rules.items():
            tally[name][rule(s, base, var)] += 1
    return {name: {o: t[o] / studies for o in OUTCOMES} for name, t in tally.items()}


STOPPING = {
    "spending": "O'Brien-Fleming-type spending (labkit)",
    "bonferroni": "5 % / looks (Bonferroni, the previous release)",
    "naive": "5 % each (naive)",
}


def stopping_alpha(rule: str, runs: int, max_runs: int) -> float:
    """The level of the look at ``runs`` runs a side (looks at 2, 3, ..., ``max_runs``)
    under a stopping ``rule`` of ``STOPPING``."""
    if rule == "spending":
        return look_level(runs, max_runs)
    if rule == "bonferroni":
        return ALPHA / max(max_runs - 1, 1)
    return ALPHA


def sequential(
    s: Scenario, max_runs: int, studies: int, seed: int, rule: str = "spending"
) -> dict[str, float]:
    """Outcome -> share of studies that add one run a side per round and stop at the first
    decided look (at least 2 runs a side), each look at the level ``rule`` gives it
    (``STOPPING``), and ``runs``: the mean runs per side a study took."""
    rng = np.random.default_rng(seed)
    tally: Counter = Counter()
    used = 0
    for _ in range(studies):
        base = draw(rng, s.rate, max_runs, s.minutes, s.spread)
        var = draw(rng, s.rate * s.ratio, max_runs, s.minutes, s.spread)
        outcome, k = "inconclusive", max_runs
        for n in range(2, max_runs + 1):
            minutes = [s.minutes] * n
            outcome = compare_counts(
                Counts.of(base[:n], minutes), Counts.of(var[:n], minutes), s.expect,
                s.min_effect, plan=False, alpha=stopping_alpha(rule, n, max_runs),
            ).outcome  # fmt: skip
            if outcome != "inconclusive":
                k = n
                break
        tally[outcome] += 1
        used += k
    return {o: tally[o] / studies for o in OUTCOMES} | {"runs": used / studies}
