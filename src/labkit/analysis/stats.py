"""The one statistical rule behind every comparison labkit makes.

Hypothesis checks, the root-cause ranking and the recommendation all ask the same question
-- did the variant move a metric by at least ``min_effect`` relative to the baseline? -- and
all answer it here, with scipy.stats:

- a per-experiment mean carries a 95 % Student-t interval (``scipy.stats.t.interval``);
- the effect of a variant is ``(mean_variant - mean_baseline) / mean_baseline``; its 95 %
  interval is the set of ratios of the means that Welch's test (``scipy.stats.ttest_ind``,
  unequal variances) of ``variant = ratio x baseline`` does not reject (Fieller's interval,
  so the baseline's own spread counts); the p-value is Welch's test of no change;
- a comparison *holds* when the whole interval lies beyond ``min_effect`` in the expected
  direction (Welch's test of the threshold ratio rejects it on the far side), *fails* when
  the whole interval lies short of it, and is *inconclusive* otherwise, with an estimate of
  the runs per side that would decide at the spread seen; a baseline that never moved off
  0 has nothing to cut (``lower`` fails);
- with a single run on either side there is no spread: the point estimate decides, as a
  hand-run investigation would, and the result says so.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

LEVEL = 0.95
ALPHA = 1 - LEVEL
MAX_RUNS_NEEDED = 50
MEAN_METHOD = "mean with a 95 % Student-t interval (scipy.stats.t.interval)"
WELCH = (
    "Welch's t-test (scipy.stats.ttest_ind, unequal variances) of mean(variant) = "
    "(1 + threshold) x mean(baseline); effect interval: the ratios of the means that test "
    "does not reject at 95 % (Fieller's interval, by inverting the test)"
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


def _welch_ratio(base: np.ndarray, var: np.ndarray, ratio: float):
    """Welch's test of mean(variant) = ratio * mean(baseline): the baseline runs scaled by
    ``ratio`` carry their own spread, so the baseline's uncertainty is counted too."""
    with warnings.catch_warnings():  # identical repeats: scipy warns, the answer is exact
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.ttest_ind(var, ratio * base, equal_var=False)
        ci = res.confidence_interval(LEVEL)
    return float(res.pvalue), float(ci.low), float(ci.high)


def _ratio_bound(base: np.ndarray, var: np.ndarray, center: float, step: float) -> float:
    """Where Welch's p-value of ``var = rho * base`` falls to ALPHA walking from ``center``
    in the direction of ``step``: one end of the ratio's 95 % interval (Fieller's, found by
    inverting scipy's test); infinite when no ratio that way is rejected."""

    def gap(rho: float) -> float:
        p = _welch_ratio(base, var, rho)[0]
        return (1.0 if math.isnan(p) else p) - ALPHA

    far = center + step
    for _ in range(60):
        if gap(far) < 0:
            return float(optimize.brentq(gap, center, far, xtol=1e-9)) if far != center else far
        step *= 2
        far = center + step
    return math.copysign(math.inf, step)


def _runs_needed(base: np.ndarray, var: np.ndarray, ratio: float) -> int | None:
    """Runs per side for Welch's test of mean(variant) = ratio * mean(baseline) to reject at
    the means and spread seen (a precision-based estimate: about even odds of deciding), or
    None when even ``MAX_RUNS_NEEDED`` would not do."""
    sb, sv = float(np.std(base, ddof=1)), float(np.std(var, ddof=1))
    for n in range(max(len(base), len(var), 2) + 1, MAX_RUNS_NEEDED + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            p = stats.ttest_ind_from_stats(
                float(var.mean()),
                sv,
                n,
                ratio * float(base.mean()),
                ratio * sb,
                n,
                equal_var=False,
            ).pvalue
        if p < ALPHA:
            return n
    return None


def compare(
    baseline: Sequence[float], variant: Sequence[float], expect: str, min_effect: float
) -> Comparison:
    """Decide whether ``variant`` moved the mean by at least ``min_effect`` (a fraction of
    the baseline mean) in the ``expect`` direction (``lower`` or ``higher``).

    The decision is Welch's test of mean(variant) = (1 + target) * mean(baseline), whose 95 %
    interval of that difference lies wholly on one side of 0 or straddles it; the effect's
    interval shown beside it is the set of ratios that same test does not reject, so the
    interval lies beyond the threshold exactly when the check holds."""
    base, var = np.asarray(baseline, dtype=float), np.asarray(variant, dtype=float)
    if base.size == 0 or var.size == 0:
        raise ValueError("compare needs at least one run on each side")
    mb, mv = float(base.mean()), float(var.mean())
    sign = -1.0 if expect == "lower" else 1.0
    target = sign * min_effect  # the relative change the check asks for
    ratio0 = 1 + target  # ... as a ratio of the means
    single = min(base.size, var.size) < 2
    common = {"n_baseline": int(base.size), "n_variant": int(var.size)}
    common |= {"mean_baseline": mb, "mean_variant": mv, "method": POINT if single else WELCH}
    nan2 = (math.nan, math.nan)
    if mb == 0:
        effect = 0.0 if mv == 0 else math.copysign(math.inf, mv)
        if expect == "lower" or mv <= 0:  # no run of the baseline warned: nothing to cut
            why = "the baseline mean is 0: there is nothing to cut"
            if expect == "higher":
                why = "the baseline mean is 0 and the variant is no higher"
            return Comparison(
                **common,
                effect=effect,
                effect_ci=nan2,
                p_value=math.nan,
                outcome="fails",
                reason=why,
            )
    effect = (mv - mb) / mb if mb else math.inf
    if single:
        holds = sign * effect >= min_effect
        return Comparison(
            **common,
            effect=effect,
            effect_ci=nan2,
            p_value=math.nan,
            outcome="holds" if holds else "fails",
        )
    p, dlo, dhi = _welch_ratio(base, var, ratio0)  # mean_v - ratio0 * mean_b
    if sign * dlo > 0 and sign * dhi > 0:
        outcome = "holds"
    elif sign * dlo < 0 and sign * dhi < 0:
        outcome = "fails"
    else:
        outcome = "inconclusive"
    if mb == 0:  # from nothing to something: only the direction can be told
        lo = hi = math.inf
        if outcome != "holds":
            lo = -math.inf
    elif float(np.var(base)) == 0 and float(np.var(var)) == 0:
        lo = hi = effect  # identical repeats on both sides: no spread, the point is exact
    else:
        rho = mv / mb
        scale = max(abs(rho), 1.0) * 0.01
        lo = _ratio_bound(base, var, rho, -scale) - 1
        hi = _ratio_bound(base, var, rho, scale) - 1
    reason, needed = "", None
    if outcome == "inconclusive":
        reason = (
            f"the 95 % interval of the effect ({pct(lo)} to {pct(hi)}) straddles the "
            f"{target:+.0%} this check needs"
        )
        needed = _runs_needed(base, var, ratio0) if mb else None
    return Comparison(
        **common,
        effect=effect,
        effect_ci=(lo, hi),
        p_value=_welch_ratio(base, var, 1.0)[0],
        outcome=outcome,
        reason=reason,
        runs_needed=needed,
    )


def pct(v: float) -> str:
    """A relative change as the report writes it: ``-71%``, ``+∞``, ``n/a`` (NaN)."""
    if math.isnan(v):
        return "n/a"
    return ("+∞" if v > 0 else "−∞") if math.isinf(v) else f"{v:+.0%}"
