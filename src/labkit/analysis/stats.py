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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats
from statsmodels.stats.power import tt_ind_solve_power

LEVEL = 0.95
ALPHA = 1 - LEVEL
MAX_RUNS_NEEDED = 50
MEAN_METHOD = (
    "rates: total count over total recorded time, with an exact Poisson interval for one run "
    "and a quasi-Poisson one over repeats; other values: the mean with a 95 % Student-t "
    "interval, on the log scale for quantities that cannot be negative and the logit scale "
    "for shares and percentages, so no interval leaves what its metric can be"
)
WELCH = (
    "Welch's t-test (scipy.stats.ttest_ind, unequal variances) of mean(variant) = "
    "(1 + threshold) x mean(baseline); effect interval: the ratios of the means that test "
    "does not reject at 95 % (Fieller's interval, by inverting the test)"
)
POINT = "single run per side: no spread, point estimate only"
LOG_WELCH = (
    "Welch's t-test (scipy.stats.ttest_ind) on the logs: the ratio of geometric means, its "
    "95 % interval exp(the interval of the mean log difference), never below 0"
)
POWER = 0.8


@dataclass(frozen=True)
class MeanCI:
    """A sample mean and its 95 % t-interval (NaN bounds with fewer than two values)."""

    n: int
    mean: float
    lo: float
    hi: float


def mean_ci(
    values: Sequence[float], bounds: tuple[float | None, float | None] = (None, None)
) -> MeanCI:
    """The mean of ``values`` with its 95 % Student-t interval, kept in the metric's domain
    ``bounds``: a quantity >= 0 gets its interval on the log scale, one within [0, U] (a
    share, a percentage) on the logit scale (the t interval of the transformed mean, by the
    delta method), so it never leaves what the metric can be."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return MeanCI(0, math.nan, math.nan, math.nan)
    mean = float(x.mean())
    if x.size < 2:
        return MeanCI(1, mean, math.nan, math.nan)
    sem = float(stats.sem(x))
    if sem == 0 or no_spread(x):
        return MeanCI(int(x.size), mean, mean, mean)
    q = float(stats.t.ppf(1 - ALPHA / 2, x.size - 1))
    low, high = bounds
    if low == 0 and high is not None and high > 0:  # logit scale within [0, high]
        m = mean / high
        if m <= 0 or m >= 1:
            return MeanCI(int(x.size), mean, mean, mean)
        half = q * sem / high / (m * (1 - m))
        lo = float(special.expit(special.logit(m) - half)) * high
        hi = float(special.expit(special.logit(m) + half)) * high
        return MeanCI(int(x.size), mean, lo, hi)
    if low == 0:  # log scale: a non-negative quantity
        if mean <= 0:
            return MeanCI(int(x.size), mean, 0.0, 0.0)
        half = q * sem / mean
        return MeanCI(int(x.size), mean, mean * math.exp(-half), mean * math.exp(half))
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
    runs_needed: int | None = None  # per side, to decide at 80 % power at the spread seen
    # decided by the point estimate (no spread to estimate); None: a single run on a side
    point: bool | None = None

    @property
    def single(self) -> bool:
        if self.point is not None:
            return self.point
        return min(self.n_baseline, self.n_variant) < 2

    def interval_text(self, level: str = "") -> str:
        """The effect's interval as the report writes it (``interval_text``), an open end
        said in words with why it is open."""
        return interval_text(*self.effect_ci, open_why(self.mean_baseline), level)


def open_why(mean_baseline: float) -> str:
    """Why a ratio's interval has no upper end: a baseline that saw nothing, or one whose
    rate or mean is not clearly above 0 at the spread seen (Fieller's interval opens)."""
    if mean_baseline == 0:
        return "the baseline saw no events"
    return "the baseline is not clearly above 0 at the spread seen"


def interval_text(lo: float, hi: float, why: str = "", level: str = "") -> str:
    """``-71% to -20%``; an end the interval does not have is said in words, never as ∞:
    ``+44% or more, no upper bound (the baseline saw no events)``. ``level``: written
    before the interval (``95 % CI``)."""
    head = f"{level} " if level else ""
    because = f" ({why})" if why else ""
    if math.isinf(hi) and math.isinf(lo):
        return f"{head}unbounded either way{because}"
    if math.isinf(hi):
        return f"{head}{pct(lo)} or more, no upper bound{because}"
    if math.isinf(lo):
        return f"{head}{pct(hi)} or less, no lower bound{because}"
    return f"{head}{pct(lo)} to {pct(hi)}"


def effect_text(v: float) -> str:
    """The effect as the report writes it: ``-71%``; from a baseline of none, in words."""
    if math.isinf(v):
        return "up from none" if v > 0 else "down to none"
    return pct(v)


def _welch_ratio(base: np.ndarray, var: np.ndarray, ratio: float, alpha: float = ALPHA):
    """Welch's test of mean(variant) = ratio * mean(baseline): the baseline runs scaled by
    ``ratio`` carry their own spread, so the baseline's uncertainty is counted too."""
    with warnings.catch_warnings():  # identical repeats: scipy warns, the answer is exact
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.ttest_ind(var, ratio * base, equal_var=False)
        ci = res.confidence_interval(1 - alpha)
    return float(res.pvalue), float(ci.low), float(ci.high)


def ratio_bound(
    pvalue: Callable[[float], float], center: float, step: float, alpha: float = ALPHA
) -> float:
    """Where the p-value of ``variant = rho x baseline`` falls to ALPHA walking from
    ``center`` in the direction of ``step``: one end of the ratio's 95 % interval (Fieller's,
    found by inverting the test); infinite when no ratio that way is rejected."""

    def gap(rho: float) -> float:
        p = pvalue(rho)
        return (1.0 if math.isnan(p) else p) - alpha

    if gap(center) <= 0:  # spread below what the test can resolve: the point is the bound
        return center
    far = center + step
    for _ in range(60):
        if gap(far) < 0:
            return float(optimize.brentq(gap, center, far, xtol=1e-9)) if far != center else far
        step *= 2
        far = center + step
    return math.copysign(math.inf, step)


def _runs_needed(base: np.ndarray, var: np.ndarray, ratio: float) -> int | None:
    """Runs per side for Welch's test of mean(variant) = ratio * mean(baseline) to decide
    at 80 % power if the means and spread are as seen (statsmodels ``tt_ind_solve_power``,
    one-sided 2.5 %, the gap over the two sides' average variance), or None when even
    ``MAX_RUNS_NEEDED`` would not do."""
    sb, sv = float(np.std(base, ddof=1)), float(np.std(var, ddof=1))
    sd = math.sqrt((sv * sv + (ratio * sb) ** 2) / 2)
    gap = float(var.mean()) - ratio * float(base.mean())
    return _power_n(gap, sd, max(len(base), len(var)) + 1)


def _power_n(gap: float, sd: float, least: int) -> int | None:
    """Runs per side for a two-sample t test to find ``gap`` at spread ``sd`` with 80 %
    power (statsmodels ``tt_ind_solve_power``, one-sided 2.5 %), at least ``least``; None
    when nothing finite or more than ``MAX_RUNS_NEEDED``."""
    if not math.isfinite(sd) or sd == 0 or abs(gap) < 1e-12:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            n = tt_ind_solve_power(
                effect_size=abs(gap) / sd, alpha=ALPHA / 2, power=POWER, alternative="larger"
            )
        except (ValueError, RuntimeError):
            return None
    if n is None or not math.isfinite(float(np.squeeze(n))):
        return None
    n = max(math.ceil(float(np.squeeze(n))), least)
    return n if n <= MAX_RUNS_NEEDED else None


def spent(fraction: float, alpha: float = ALPHA) -> float:
    """The part of ``alpha`` a study that stops when decided may have spent by ``fraction``
    of its runs: O'Brien-Fleming-type spending (Lan and DeMets), 2 - 2 Phi(z_{alpha/2} /
    sqrt(fraction)) -- little at the first looks, where two or three runs a side leave wide
    intervals anyway, most of it where the runs are."""
    if fraction <= 0:
        return 0.0
    z = float(stats.norm.isf(alpha / 2))
    return float(2 * stats.norm.sf(z / math.sqrt(min(fraction, 1.0))))


def look_alpha(runs: int, previous: int, max_runs: int, alpha: float = ALPHA) -> float:
    """The level of a look at ``runs`` runs per side after a look at ``previous`` (0: the
    first look) of a batch that stops when decided, at most ``max_runs`` runs per side: what
    the spending allows between the two (``spent``). The levels of all looks add up to at
    most ``alpha`` (none when no run was added), so -- by the union bound, whatever the
    looks' correlation -- stopping on the data keeps the chance of any false verdict at
    ``alpha`` or less."""
    if runs <= previous:
        return 0.0
    return spent(runs / max_runs, alpha) - spent(previous / max_runs, alpha)


FIRST_LOOK = 2  # runs a side of a stopping batch's first look: one run shows no spread


def look_level(runs: int, max_runs: int, alpha: float = ALPHA) -> float:
    """The level of the look at ``runs`` runs a side of a batch of at most ``max_runs``
    runs, the looks before it (at FIRST_LOOK, FIRST_LOOK + 1, ...) made: its own share of
    ``alpha``, whichever batch makes it -- a batch that extends an earlier one's runs
    continues the spending instead of starting it again."""
    return look_alpha(runs, runs - 1 if runs > FIRST_LOOK else 0, max_runs, alpha)


def outcome_of(lo: float, hi: float, at: float, sign: float) -> str:
    """*holds* when the interval [lo, hi] lies wholly beyond ``at`` in the direction
    ``sign`` (-1: below), *fails* when wholly short of it, else *inconclusive*."""
    if sign * (lo - at) > 0 and sign * (hi - at) > 0:
        return "holds"
    if sign * (lo - at) < 0 and sign * (hi - at) < 0:
        return "fails"
    return "inconclusive"


def straddles(lo: float, hi: float, target: float, why: str = "") -> str:
    """Why a comparison is undecided, in one sentence (``why``: why an end is open)."""
    return (
        f"the 95 % interval of the effect ({interval_text(lo, hi, why)}) straddles the "
        f"{target:+.0%} this check needs"
    )


def no_spread(x: np.ndarray) -> bool:
    """Repeats equal up to rounding (7.333333333333333 and 7.333333333333334): no spread a
    test could use."""
    return x.size < 2 or float(np.ptp(x)) <= 1e-9 * max(float(np.max(np.abs(x))), 1e-300)


def compare(
    baseline: Sequence[float],
    variant: Sequence[float],
    expect: str,
    min_effect: float,
    nonnegative: bool = False,
    outcome_only: bool = False,
    alpha: float = ALPHA,
) -> Comparison:
    """Decide whether ``variant`` moved the mean by at least ``min_effect`` (a fraction of
    the baseline mean) in the ``expect`` direction (``lower`` or ``higher``).

    The decision is Welch's test of mean(variant) = (1 + target) * mean(baseline), whose 95 %
    interval of that difference lies wholly on one side of 0 or straddles it; the effect's
    interval shown beside it is the set of ratios that same test does not reject, so the
    interval lies beyond the threshold exactly when the check holds. ``nonnegative``: the
    metric cannot go below 0, so neither can the ratio (the interval stops at -100 %).
    ``outcome_only``: the decision without the interval and runs needed (for simulations)."""
    base, var = np.asarray(baseline, dtype=float), np.asarray(variant, dtype=float)
    if base.size == 0 or var.size == 0:
        raise ValueError("compare needs at least one run on each side")
    if not (np.isfinite(base).all() and np.isfinite(var).all()):
        raise ValueError("compare needs finite values")
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
    if no_spread(base) and no_spread(var):  # identical repeats: the point is exact
        outcome = "holds" if sign * effect >= min_effect else "fails"
        return Comparison(
            **common, effect=effect, effect_ci=(effect, effect),
            p_value=0.0 if mv != mb else 1.0, outcome=outcome,
        )  # fmt: skip
    p, dlo, dhi = _welch_ratio(base, var, ratio0, alpha)  # mean_v - ratio0 * mean_b
    outcome = outcome_of(dlo, dhi, 0.0, sign)
    if outcome_only:  # a simulation of many studies needs the decision alone
        return Comparison(**common, effect=effect, effect_ci=nan2, p_value=p, outcome=outcome)
    if mb == 0:  # from nothing to something: only the direction can be told
        lo = hi = math.inf
        if outcome != "holds":
            lo = -math.inf
    else:
        rho = mv / mb
        scale = max(abs(rho), 1.0) * 0.01
        lo = ratio_bound(lambda r: _welch_ratio(base, var, r)[0], rho, -scale, alpha) - 1
        hi = ratio_bound(lambda r: _welch_ratio(base, var, r)[0], rho, scale, alpha) - 1
    if nonnegative:  # a ratio of non-negative means is never below 0
        lo, hi = max(lo, -1.0), max(hi, -1.0)
    reason, needed = "", None
    if outcome == "inconclusive":
        reason = straddles(lo, hi, target, open_why(mb))
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


def json_number(v: float | None) -> float | str | None:
    """JSON has no NaN or infinity: NaN is null, infinities are spelt out. Six significant
    digits, not six decimals: a p-value of 1.9e-08 must not become 0."""
    if v is None or math.isnan(v):
        return None
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return float(f"{float(v):.6g}")


def pct(v: float) -> str:
    """A relative change as the report writes it: ``-71%``, ``+∞``, ``n/a`` (NaN)."""
    if math.isnan(v):
        return "n/a"
    return ("+∞" if v > 0 else "−∞") if math.isinf(v) else f"{v:+.0%}"


def compare_log(
    baseline: Sequence[float],
    variant: Sequence[float],
    expect: str,
    min_effect: float,
    alpha: float = ALPHA,
) -> Comparison:
    """The rule for a positive quantity (a frequency, a duration): Welch's test on the logs
    of mean log(variant) - mean log(baseline) = log(1 + threshold); the effect is the ratio
    of geometric means, its interval exp(the t interval of the log difference) - 1, which
    can never fall below -100 %. Raises ``ValueError`` unless every value is > 0."""
    base, var = np.asarray(baseline, dtype=float), np.asarray(variant, dtype=float)
    if base.size == 0 or var.size == 0:
        raise ValueError("compare needs at least one run on each side")
    if not (np.isfinite(base).all() and np.isfinite(var).all()) or min(base.min(), var.min()) <= 0:
        raise ValueError("a log-scale comparison needs finite values above 0")
    lb, lv = np.log(base), np.log(var)
    sign = -1.0 if expect == "lower" else 1.0
    target = sign * min_effect
    gb, gv = float(np.exp(lb.mean())), float(np.exp(lv.mean()))
    effect = gv / gb - 1
    single = min(base.size, var.size) < 2
    common = {"n_baseline": int(base.size), "n_variant": int(var.size)}
    common |= {"mean_baseline": gb, "mean_variant": gv, "method": POINT if single else LOG_WELCH}
    if single or (no_spread(lb) and no_spread(lv)) or 1 + target <= 0:
        holds = sign * effect >= min_effect
        ci = (math.nan, math.nan) if single else (effect, effect)
        p = math.nan if single else (0.0 if gv != gb else 1.0)
        return Comparison(
            **common, effect=effect, effect_ci=ci, p_value=p,
            outcome="holds" if holds else "fails",
        )  # fmt: skip
    shift = math.log(1 + target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        at = stats.ttest_ind(lv, lb + shift, equal_var=False)
        dlo, dhi = (float(v) for v in at.confidence_interval(1 - alpha))
        plain = stats.ttest_ind(lv, lb, equal_var=False)
        lo, hi = (math.exp(float(v)) - 1 for v in plain.confidence_interval(1 - alpha))
    outcome = outcome_of(dlo, dhi, 0.0, sign)
    reason, needed = "", None
    if outcome == "inconclusive":
        reason = straddles(lo, hi, target)
        needed = _log_runs_needed(lb, lv, shift)
    return Comparison(
        **common, effect=effect, effect_ci=(lo, hi), p_value=float(plain.pvalue),
        outcome=outcome, reason=reason, runs_needed=needed,
    )  # fmt: skip


def _log_runs_needed(lb: np.ndarray, lv: np.ndarray, shift: float) -> int | None:
    """Runs per side for the log-scale test to decide at 80 % power at the spread seen."""
    sd = math.sqrt((float(np.var(lb, ddof=1)) + float(np.var(lv, ddof=1))) / 2)
    return _power_n(float(lv.mean() - lb.mean()) - shift, sd, 2)
