"""The one statistical rule behind every comparison labkit makes.

Hypothesis checks, the root-cause ranking and the recommendation all ask the same question
-- did the variant move a metric by at least ``min_effect`` relative to the baseline? -- and
all answer it here, with scipy.stats:

- a per-experiment mean carries a 95 % Student-t interval (``scipy.stats.t.interval``);
- the effect of a variant is ``(mean_variant - mean_baseline) / mean_baseline``; its 95 %
  interval is Welch's interval for the difference of means (``scipy.stats.ttest_ind`` with
  unequal variances) divided by the baseline mean, and the p-value is Welch's;
- a comparison *holds* when the whole interval lies beyond ``min_effect`` in the expected
  direction, *fails* when the whole interval lies short of it, and is *inconclusive*
  otherwise, with an estimate of the runs per side that would decide at the spread seen;
- with a single run on either side there is no spread: the point estimate decides, as a
  hand-run investigation would, and the result says so.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

LEVEL = 0.95
ALPHA = 1 - LEVEL
MAX_RUNS_NEEDED = 50
MEAN_METHOD = "mean with a 95 % Student-t interval (scipy.stats.t.interval)"
WELCH = (
    "Welch's t-test (scipy.stats.ttest_ind, unequal variances); effect interval = 95 % "
    "interval of the difference of means / baseline mean"
)
POINT = "single run per side: no spread, point estimate only"


@dataclass(frozen=True)
class MeanCI:
    """A sample mean and its 95 % t-interval (NaN bounds with fewer than two values)."""

    n: int
    mean: float
    lo: float
    hi: float


def mean_ci(values: Sequence[float]) -> MeanCI:
    """The mean of ``values`` with its 95 % Student-t interval."""
    x = np.asarray(values, dtype=float)
    if x.size == 0:
        return MeanCI(0, math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if x.size < 2:
        return MeanCI(1, mean, math.nan, math.nan)
    sem = float(stats.sem(x))
    if sem == 0:
        return MeanCI(int(x.size), mean, mean, mean)
    lo, hi = stats.t.interval(LEVEL, x.size - 1, loc=mean, scale=sem)
    return MeanCI(int(x.size), mean, float(lo), float(hi))


@dataclass(frozen=True)
class Comparison:
    """A variant against a baseline on one metric, decided against a threshold."""

    n_baseline: int
    n_variant: int
    mean_baseline: float
    mean_variant: float
    effect: float  # relative change of the means (signed; inf from a zero baseline)
    effect_ci: tuple[float, float]  # NaN bounds when there is no spread to estimate
    p_value: float  # Welch's two-sided p-value (NaN for single runs)
    method: str
    outcome: str  # holds | fails | inconclusive
    reason: str = ""  # why it is inconclusive, when it is
    runs_needed: int | None = None  # per side, to decide at the spread seen

    @property
    def single(self) -> bool:
        return min(self.n_baseline, self.n_variant) < 2


def _welch(base: np.ndarray, var: np.ndarray):
    with warnings.catch_warnings():  # identical repeats: scipy warns, the answer is exact
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.ttest_ind(var, base, equal_var=False)
        ci = res.confidence_interval(LEVEL)
    return float(res.pvalue), (float(ci.low), float(ci.high))


def _runs_needed(base: np.ndarray, var: np.ndarray, offset: float) -> int | None:
    """Runs per side for Welch's test against the threshold to reject at the spread and
    means seen (a precision-based estimate, about even odds of deciding), or None when
    even ``MAX_RUNS_NEEDED`` would not do."""
    sb, sv = float(np.std(base, ddof=1)), float(np.std(var, ddof=1))
    shift = float(var.mean()) - offset  # tests mean_variant - mean_baseline == offset
    for n in range(max(len(base), len(var), 2) + 1, MAX_RUNS_NEEDED + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            p = stats.ttest_ind_from_stats(
                shift, sv, n, float(base.mean()), sb, n, equal_var=False
            ).pvalue
        if p < ALPHA:
            return n
    return None


def compare(
    baseline: Sequence[float], variant: Sequence[float], expect: str, min_effect: float
) -> Comparison:
    """Decide whether ``variant`` moved the mean by at least ``min_effect`` (a fraction of
    the baseline mean) in the ``expect`` direction (``lower`` or ``higher``)."""
    base, var = np.asarray(baseline, dtype=float), np.asarray(variant, dtype=float)
    if base.size == 0 or var.size == 0:
        raise ValueError("compare needs at least one run on each side")
    mb, mv = float(base.mean()), float(var.mean())
    sign = -1.0 if expect == "lower" else 1.0
    target = sign * min_effect  # the relative change the check asks for
    common = {"n_baseline": int(base.size), "n_variant": int(var.size)}
    common |= {"mean_baseline": mb, "mean_variant": mv}
    if mb == 0:
        effect = 0.0 if mv == 0 else math.copysign(math.inf, mv)
        if expect == "lower" or mv <= 0:
            why = "the baseline mean is 0: there is nothing to cut, no relative change exists"
            if expect == "higher":
                why = "the baseline mean is 0 and the variant is no higher"
            return Comparison(
                **common,
                effect=effect,
                effect_ci=(math.nan, math.nan),
                p_value=math.nan,
                method=POINT if min(base.size, var.size) < 2 else WELCH,
                outcome="inconclusive",
                reason=why,
            )
    effect = (mv - mb) / mb if mb else math.inf
    if min(base.size, var.size) < 2:
        holds = sign * effect >= min_effect
        return Comparison(
            **common,
            effect=effect,
            effect_ci=(math.nan, math.nan),
            p_value=math.nan,
            method=POINT,
            outcome="holds" if holds else "fails",
        )
    p, (dlo, dhi) = _welch(base, var)
    if mb == 0:  # from nothing to something: the direction is what the interval can tell
        lo, hi = (math.copysign(math.inf, dlo), math.copysign(math.inf, dhi))
    else:
        lo, hi = sorted((dlo / mb, dhi / mb))
    if min(sign * lo, sign * hi) >= min_effect:
        outcome, reason, needed = "holds", "", None
    elif max(sign * lo, sign * hi) < min_effect:
        outcome, reason, needed = "fails", "", None
    else:
        outcome = "inconclusive"
        reason = (
            f"the 95 % interval of the effect ({lo:+.0%} to {hi:+.0%}) straddles the "
            f"{target:+.0%} this check needs"
        )
        needed = _runs_needed(base, var, mb * target) if mb else None
    return Comparison(
        **common,
        effect=effect,
        effect_ci=(lo, hi),
        p_value=p,
        method=WELCH,
        outcome=outcome,
        reason=reason,
        runs_needed=needed,
    )
