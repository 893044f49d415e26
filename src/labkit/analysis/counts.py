"""Counts over exposure: the statistics of event counts (slow-loop warnings, a workload's
events) recorded over runs of different lengths.

An experiment's rate is its total count over its total recorded time, so a 60 s run weighs
six times a 10 s run. Its interval comes from a count model:

- one run: the exact Poisson interval of the count (``scipy.stats.chi2``, Garwood);
- repeats: a quasi-Poisson model (``statsmodels`` GLM, Poisson family, offset
  ``log(exposure)``) whose scale phi is Pearson's chi2 over its residual degrees of freedom
  -- the run-to-run spread seen in the repeats, relative to Poisson's -- floored at 1.
  Events that arrive at random spread at least as much as Poisson's counts, and a handful
  of repeats that agree better than that is no evidence of anything steadier (Pearson's
  chi2 on 2 df falls below 0.2 one time in ten by chance); so phi = max(phi, 1), and at
  the floor the spread is Poisson's, known from the rate itself: the exact Poisson
  interval of the total count. The dispersion may be pooled over the batch's experiments
  (``dispersion``), which gains degrees of freedom when each experiment has few repeats.

A comparison of two experiments is the ratio of their rates. With repeats, each side's
rate carries its own quasi-Poisson variance (phi x rate / exposure, phi = max(Pearson
chi2 / df, 1) from that side's runs; a side of one run borrows the dispersion pooled over
the batch's experiments), and Welch's test of rate_v = ratio x rate_b decides, its
interval the ratios it does not reject (Fieller's). A side above the floor spends its
runs' degrees of freedom on its spread; a side at the floor has Poisson's, known, and
spends none (Satterthwaite's degrees of freedom count only estimated spreads; both at the
floor: the normal quantile). With equal run lengths and over-dispersed repeats on both
sides this is exactly Welch's test of the per-minute rates; with mixed lengths each run
weighs its recorded time. When a side has no event at all, the
exact conditional test decides (the variant's share of all events is binomial:
``scipy.stats.binomtest``, Clopper-Pearson), on counts deflated by the dispersion. Every
interval is a ratio of non-negative rates: it never leaves [0, ∞).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.rates import power_poisson_ratio_2indep

from labkit.analysis.stats import (
    ALPHA,
    MAX_RUNS_NEEDED,
    POWER,
    Comparison,
    open_why,
    outcome_of,
    ratio_bound,
    straddles,
)

EXACT = (
    "exact conditional Poisson rate ratio (scipy.stats.binomtest, Clopper-Pearson), on counts "
    "divided by the dispersion seen ({phi:.2g})"
)
WELCH_COUNTS = (
    "rate ratio over recorded time, each side's spread from its own repeats and never below "
    "Poisson's (quasi-Poisson GLM per side, statsmodels, phi = max(Pearson chi2/df, 1)); "
    "Welch's test of rate_v = ratio x rate_b (scipy.stats.t, Satterthwaite degrees of "
    "freedom of the spreads estimated; a side at Poisson's spread has it known), 95 % "
    "interval by inverting it (Fieller's), never below 0"
)
POINT_RATE = (
    "single run per side: the point estimate of the rate ratio decides (no run-to-run spread "
    "is known); the interval shown is the exact Poisson one (scipy.stats.binomtest)"
)


@dataclass(frozen=True)
class Counts:
    """One experiment's runs: the events of each run and the time it recorded (in the rate's
    unit: minutes for a per-minute rate)."""

    counts: tuple[float, ...]
    exposures: tuple[float, ...]

    @classmethod
    def of(cls, counts: Iterable[float], exposures: Iterable[float]) -> Counts:
        return cls(tuple(float(c) for c in counts), tuple(float(e) for e in exposures))

    @property
    def n(self) -> int:
        return len(self.counts)

    @property
    def total(self) -> float:
        return float(sum(self.counts))

    @property
    def exposure(self) -> float:
        return float(sum(self.exposures))

    @property
    def rate(self) -> float:
        return self.total / self.exposure if self.exposure > 0 else math.nan

    def problem(self) -> str:
        """What makes these runs unusable for a count model ('' when none)."""
        if not self.n or len(self.exposures) != self.n:
            return "no runs"
        if not all(math.isfinite(c) and c >= 0 for c in self.counts):
            return "a count is negative or not a number"
        if not all(math.isfinite(e) and e > 0 for e in self.exposures):
            return "a run has no recorded time (duration_s)"
        return ""


@dataclass(frozen=True)
class Dispersion:
    """The run-to-run spread relative to Poisson: variance = phi x mean, estimated on ``df``
    residual degrees of freedom (0: none, Poisson assumed). ``seen``: Pearson's chi2 / df
    as the runs gave it; ``phi`` is that floored at Poisson's 1."""

    phi: float = 1.0
    df: int = 0
    runs: int = 0
    experiments: int = 0
    seen: float = 1.0

    @property
    def pooled(self) -> bool:
        return self.experiments > 2

    @property
    def poisson(self) -> bool:
        """No spread beyond Poisson's was seen (or none could be): Poisson's is used, known
        from the rate, with no degrees of freedom spent on estimating it."""
        return self.df < 1 or self.seen <= 1.0


def _glm(sides: Sequence[Counts]):
    """The Poisson GLM with one rate per side and the exposure offset (statsmodels)."""
    y = np.concatenate([np.asarray(s.counts, float) for s in sides])
    t = np.concatenate([np.asarray(s.exposures, float) for s in sides])
    x = np.zeros((len(y), len(sides)))
    row = 0
    for j, s in enumerate(sides):
        x[row : row + s.n, j] = 1.0
        row += s.n
    return sm.GLM(y, x, family=sm.families.Poisson(), offset=np.log(t))


def dispersion(sides: Iterable[Counts]) -> Dispersion:
    """Pearson chi2 / df of the one-rate-per-experiment Poisson GLM over ``sides``.
    Experiments without any event say nothing of the spread and are left out."""
    used = [s for s in sides if not s.problem() and s.total > 0]
    runs = sum(s.n for s in used)
    df = runs - len(used)
    if df < 1:
        return Dispersion(1.0, 0, runs, len(used))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = _glm(used).fit()
        except (ValueError, np.linalg.LinAlgError):  # no fit: no spread estimated
            return Dispersion(1.0, 0, runs, len(used))
    seen = float(res.pearson_chi2) / df
    seen = seen if math.isfinite(seen) else 1.0
    return Dispersion(max(seen, 1.0), int(df), runs, len(used), seen)


@dataclass(frozen=True)
class RatioCI:
    """The rate ratio variant / baseline with its 95 % interval and two-sided p-value of 1."""

    ratio: float
    lo: float
    hi: float
    p_value: float
    method: str


def exact_ratio(base: Counts, var: Counts, phi: float = 1.0, alpha: float = ALPHA) -> RatioCI:
    """Exact conditional interval of the rate ratio: given all N events, the variant's
    share is binomial with p = r E_v / (r E_v + E_b); Clopper-Pearson bounds on p map to
    bounds on r. Counts are divided by ``phi`` (rounded down) to count the spread."""
    kv = math.floor(var.total / phi + 1e-9)
    kb = math.floor(base.total / phi + 1e-9)
    n = kv + kb
    ev, eb = var.exposure, base.exposure
    ratio = (var.total / ev) / (base.total / eb) if base.total else math.inf
    if not var.total and not base.total:
        ratio = math.nan
    if n == 0:
        return RatioCI(ratio, 0.0, math.inf, 1.0, EXACT.format(phi=phi))
    test = stats.binomtest(kv, n, p=ev / (ev + eb))
    ci = test.proportion_ci(confidence_level=1 - alpha, method="exact")

    def to_ratio(p: float) -> float:
        return math.inf if p >= 1 else p / (1 - p) * eb / ev

    lo, hi = to_ratio(ci.low), to_ratio(ci.high)
    return RatioCI(ratio, lo, hi, float(test.pvalue), EXACT.format(phi=phi))


@dataclass(frozen=True)
class SideFit:
    """One side's rate from its intercept-only Poisson GLM (statsmodels), the variance of
    that rate at the spread its own runs show (quasi-Poisson: phi x rate / exposure, phi
    never below 1), and the degrees of freedom of that spread (infinite at Poisson's:
    known, not estimated)."""

    rate: float
    variance: float
    df: float


def side_fit(side: Counts, fallback: Dispersion) -> SideFit:
    """``side`` fitted alone; a side of one run borrows the ``fallback`` dispersion."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = _glm([side]).fit()
    rate = math.exp(float(res.params[0]))
    own = side.n - 1
    disp = fallback
    if own > 0:
        seen = float(res.pearson_chi2) / own
        disp = Dispersion(max(seen, 1.0), own, side.n, 1, seen)
    df = math.inf if disp.poisson else float(disp.df)
    return SideFit(rate, rate * rate * float(res.bse[0]) ** 2 * disp.phi, df)


def welch_p(var: SideFit, base: SideFit, rho: float) -> float:
    """Two-sided p-value of Welch's test of rate_v = rho x rate_b from the sides' rates and
    variances: Satterthwaite's degrees of freedom over the spreads that were estimated (a
    side at Poisson's spread adds none; both there: the normal distribution,
    ``scipy.stats.t`` with infinite df). ``scipy.stats.ttest_ind_from_stats`` takes a
    sample size per side, so it cannot say that a variance is known."""
    vv, vb = var.variance, rho * rho * base.variance
    se2 = vv + vb
    if not se2 > 0:
        return 0.0 if var.rate != rho * base.rate else 1.0
    per_df = vv * vv / var.df + vb * vb / base.df  # 0 where a spread is known
    df = se2 * se2 / per_df if per_df > 0 else math.inf
    t = (var.rate - rho * base.rate) / math.sqrt(se2)
    return float(2 * stats.t.sf(abs(t), df))


def welch_counts(base: Counts, var: Counts, fallback: Dispersion, alpha: float = ALPHA) -> RatioCI:
    """The rate ratio with each side's own run-to-run spread (quasi-Poisson per side, never
    below Poisson's): Welch's test (``welch_p``) of rate_v = rho x rate_b, whose variances
    are the sides' quasi-Poisson ones; the 95 % interval is the set of ratios it does not
    reject (Fieller's), cut at 0. With equal run lengths and over-dispersed repeats it is
    Welch's test of the per-minute rates; with mixed lengths each run weighs its recorded
    time."""
    fb, fv = side_fit(base, fallback), side_fit(var, fallback)

    def pvalue(rho: float) -> float:
        return welch_p(fv, fb, rho)

    ratio = fv.rate / fb.rate
    step = max(ratio, 1.0) * 0.01
    lo = max(ratio_bound(pvalue, ratio, -step, alpha), 0.0)
    hi = ratio_bound(pvalue, ratio, step, alpha)
    pooled = (
        f" (a single-run side borrows the spread pooled over {fallback.experiments} experiments)"
    )
    method = WELCH_COUNTS + (pooled if min(base.n, var.n) < 2 else "")
    return RatioCI(ratio, lo, hi, pvalue(1.0), method)


def runs_needed(base: Counts, var: Counts, ratio0: float, phi: float) -> int | None:
    """Runs per side (of the mean length seen; more than either side has) for a one-sided
    2.5 % test against
    ``ratio0`` to decide at 80 % power, if the rates are as seen and the spread is ``phi``
    (statsmodels ``power_poisson_ratio_2indep``); None when the rates sit on the threshold
    or more than ``MAX_RUNS_NEEDED`` would be needed."""
    rb, rv = base.rate, var.rate
    if not (rb > 0 and rv > 0) or not math.isfinite(rb) or not math.isfinite(rv):
        return None
    ratio = rv / rb
    if not math.isfinite(ratio) or abs(math.log(ratio / ratio0)) < 1e-9:
        return None
    alternative = "smaller" if ratio < ratio0 else "larger"
    exposure = (base.exposure + var.exposure) / (base.n + var.n)

    def enough(n: int) -> bool:
        power = power_poisson_ratio_2indep(
            rv, rb, n, exposure=exposure, value=ratio0, alpha=ALPHA / 2,
            dispersion=max(phi, 1e-3), alternative=alternative, return_results=False,
        )  # fmt: skip
        return bool(power >= POWER)

    low, high = max(base.n, var.n) + 1, MAX_RUNS_NEEDED
    if low > high or not enough(high):
        return None
    while low < high:  # power grows with n: the fewest runs that reach it
        mid = (low + high) // 2
        low, high = (low, mid) if enough(mid) else (mid + 1, high)
    return low


EXACT_RATE = (
    "exact Poisson interval of the total count over the total time (Garwood, scipy.stats.chi2)"
)
EXACT_RATE_SPREAD = (
    EXACT_RATE + ", the count divided by the spread beyond Poisson's seen in the repeats "
    "(phi {phi:.3g} on {df} df)"
)
QUASI_RATE = (
    "quasi-Poisson GLM of the runs with their recorded time as offset (statsmodels), the "
    "spread beyond Poisson's from the repeats (phi {phi:.3g} on {df} df); t interval of the "
    "log rate"
)


@dataclass(frozen=True)
class RateCI:
    """An experiment's (or a pooled) rate with its 95 % interval and the method that gave
    it, as a report names it."""

    rate: float
    lo: float
    hi: float
    method: str = ""


def rate_interval(side: Counts, disp: Dispersion | None = None) -> RateCI:
    """The total over the total time with its 95 % interval: exact Poisson (Garwood,
    ``scipy.stats.chi2``) for one run or when the repeats spread no more than Poisson's,
    quasi-Poisson over the repeats otherwise (``disp``: a dispersion pooled over
    experiments, used when it has degrees of freedom)."""
    if side.problem():
        return RateCI(math.nan, math.nan, math.nan)
    rate = side.rate
    own = disp if disp is not None and disp.df > 0 else dispersion([side])
    if own.poisson or side.total == 0:  # no event: the counts deflated by the spread seen
        k = side.total / own.phi
        lo = 0.0 if k <= 0 else float(stats.chi2.ppf(ALPHA / 2, 2 * k)) / 2
        hi = float(stats.chi2.ppf(1 - ALPHA / 2, 2 * k + 2)) / 2
        scale = own.phi / side.exposure
        method = EXACT_RATE if own.poisson else EXACT_RATE_SPREAD.format(phi=own.phi, df=own.df)
        return RateCI(rate, lo * scale, hi * scale, method)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = _glm([side]).fit()
    b, se = float(res.params[0]), float(res.bse[0]) * math.sqrt(own.phi)
    q = float(stats.t.ppf(1 - ALPHA / 2, own.df))
    method = QUASI_RATE.format(phi=own.phi, df=own.df)
    return RateCI(rate, math.exp(b - q * se), math.exp(b + q * se), method)


def compare_counts(
    base: Counts,
    var: Counts,
    expect: str,
    min_effect: float,
    pooled: Dispersion | None = None,
    per: float = 1.0,
    plan: bool = True,
    alpha: float = ALPHA,
) -> Comparison:
    """Did the variant's rate move by at least ``min_effect`` (a fraction of the
    baseline's) in the ``expect`` direction? Decided on the rate ratio's 95 % interval:
    *holds* when it lies wholly beyond ``1 ± min_effect``, *fails* when wholly short of it.

    The model: quasi-Poisson over the repeats (``pooled``: the dispersion over the batch's
    experiments, when it has degrees of freedom); the exact conditional test when a side
    has no event; with one run per side and no spread known anywhere, the point estimate
    decides, as a hand-run investigation would (the exact Poisson interval is shown beside
    it). Rates are shown per ``per`` units of exposure; ``plan``: work out the runs
    needed to decide (a simulation of many studies does without); ``alpha``: 1 - the
    interval's level (a sequential look uses its share of the 5 %)."""
    sign = -1.0 if expect == "lower" else 1.0
    target = sign * min_effect
    ratio0 = 1 + target
    common = {"n_baseline": base.n, "n_variant": var.n}
    common |= {"mean_baseline": base.rate * per, "mean_variant": var.rate * per}
    nan2 = (math.nan, math.nan)
    why = base.problem() or var.problem()
    if why:
        return Comparison(
            **common, effect=math.nan, effect_ci=nan2, p_value=math.nan, method="",
            outcome="inconclusive", reason=why,
        )  # fmt: skip
    rb, rv = base.rate, var.rate
    effect = rv / rb - 1 if rb > 0 else (0.0 if rv == 0 else math.inf)
    disp = pooled if pooled is not None and pooled.df > 0 else dispersion([base, var])
    point = base.n == var.n == 1 and disp.df == 0
    if point or base.total == 0 or var.total == 0:
        est = exact_ratio(base, var, 1.0 if point else disp.phi, alpha)
        method = POINT_RATE if point else est.method
    else:
        est = welch_counts(base, var, disp, alpha)
        method = est.method
    ci = (est.lo - 1, est.hi - 1)
    if base.total == 0 and (expect == "lower" or var.total == 0):
        reason = "the baseline has no events: there is nothing to cut"
        if expect == "higher":
            reason = "neither side has any event"
        return Comparison(
            **common, effect=effect, effect_ci=ci, p_value=est.p_value, method=method,
            outcome="fails", reason=reason, point=point,
        )  # fmt: skip
    if point:
        outcome = "holds" if sign * effect >= min_effect else "fails"
    else:
        outcome = outcome_of(est.lo, est.hi, ratio0, sign)
    reason, needed = "", None
    if outcome == "inconclusive":
        reason = straddles(ci[0], ci[1], target, open_why(rb))
    if plan and (outcome == "inconclusive" or point):
        needed = runs_needed(base, var, ratio0, disp.phi) if ratio0 > 0 else None
    return Comparison(
        **common, effect=effect, effect_ci=ci, p_value=est.p_value, method=method,
        outcome=outcome, reason=reason, runs_needed=needed, point=point,
    )  # fmt: skip
