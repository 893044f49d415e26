"""Counts over exposure, on hand-computed cases (tests/data/stats/counts.yaml), and the
intervals that must stay in their metric's domain whatever the input."""

from __future__ import annotations

import math

import pytest
import yaml

from labkit.analysis.counts import (
    EXACT,
    POINT_RATE,
    WELCH_COUNTS,
    Counts,
    compare_counts,
    dispersion,
    rate_interval,
)
from labkit.analysis.stats import compare, compare_log, effect_text, mean_ci
from tests.conftest import REPO

CASES = yaml.safe_load((REPO / "tests/data/stats/counts.yaml").read_text())


def side(d: dict) -> Counts:
    return Counts.of(d["counts"], d["minutes"])


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_rate_ratio_matches_the_hand_computed_case(case):
    c = compare_counts(
        side(case["baseline"]), side(case["variant"]), case["expect"], case["min_effect"]
    )
    assert c.outcome == case["outcome"]
    assert c.effect == pytest.approx(case["effect"], abs=1e-4)
    assert list(c.effect_ci) == pytest.approx(case["effect_ci"], abs=1e-3)
    assert c.effect_ci[0] >= -1.0  # a ratio of rates is never negative
    method = {"single": POINT_RATE, "exact": EXACT.split("(")[0], "welch": WELCH_COUNTS}
    assert c.method.startswith(method[case["method"]])
    assert c.single is (case["method"] == "single")


def test_the_seed_counts_alone_would_not_decide_so_the_point_rule_is_named():
    """11 vs 1 warnings in one minute each: the exact interval reaches -37 %, short of the
    -50 % H2 asks; the single-run rule decides on the point and says so."""
    c = compare_counts(Counts.of([11], [1]), Counts.of([1], [1]), "lower", 0.5)
    assert c.outcome == "holds" and c.single and "point estimate" in c.method
    assert c.effect_ci[1] > -0.5


def test_dispersion_is_pearson_chi2_over_df_floored_at_poisson_and_pools_experiments():
    a, b = Counts.of([10, 11, 12], [1, 1, 1]), Counts.of([2, 3, 4], [1, 1, 1])
    assert dispersion([a]).seen == pytest.approx(2 / 11 / 2)
    assert dispersion([a]).phi == 1.0 and dispersion([a]).poisson  # never below Poisson's
    both = dispersion([a, b, Counts.of([5], [1])])
    assert (both.df, both.experiments) == (4, 3) and both.pooled
    assert both.seen == pytest.approx((2 / 11 + 2 / 3) / 4) and both.phi == 1.0
    wide = dispersion([Counts.of([20, 30, 40], [1, 1, 1])])  # chi2 200 / 30 on 2 df
    assert wide.phi == wide.seen == pytest.approx(10 / 3) and not wide.poisson
    assert dispersion([Counts.of([0, 0], [1, 1])]).df == 0  # no event: says nothing


def test_repeats_that_agree_better_than_poisson_get_poissons_spread():
    """The reviewer's case: 6 vs 2 events in two minutes a side, the repeats identical.
    Taken as is, phi 0 gave a zero-width interval and a cut of at least 50 % 'held'. With
    Poisson's spread (V_b = 3/2, V_v = 1/2, known: z = 1.96), Fieller's quadratic
    rho² (9 - 3.8415 · 1.5) - 6 rho + (1 - 3.8415 · 0.5) = 0 has roots -0.142 and 1.996:
    cut at 0, the ratio lies in [0, 2.0], and nothing is decided."""
    c = compare_counts(Counts.of([3, 3], [1, 1]), Counts.of([1, 1], [1, 1]), "lower", 0.5)
    assert c.outcome == "inconclusive"
    assert list(c.effect_ci) == pytest.approx([-1.0, 0.9956], abs=1e-3)


def test_a_rate_over_repeats_steadier_than_poisson_has_the_exact_poisson_interval():
    # 11, 5, 8, 11 in four minutes: phi 0.943 < 1, so Poisson's: Garwood on 35 events,
    # chi2(0.025, 70) / 8 = 6.095, chi2(0.975, 72) / 8 = 12.169 (the t interval on 3 df
    # at phi 0.943 was wider, 5.19 to 14.8, and narrower at a phi near 0)
    four = Counts.of([11, 5, 8, 11], [1, 1, 1, 1])
    ci = rate_interval(four)
    assert (ci.rate, ci.lo, ci.hi) == pytest.approx((8.75, 6.0947, 12.1691), abs=1e-3)
    assert ci.method.startswith("exact Poisson interval of the total count")
    # over-dispersed, phi 10/3: quasi-Poisson, 30 exp(± t(0.975, 2) sqrt(phi / 90)) =
    # 13.11 to 68.67 (the exact interval of 90 events in 3 min would be 24.1 to 36.9)
    over = rate_interval(Counts.of([20, 30, 40], [1, 1, 1]))
    assert (over.rate, over.lo, over.hi) == pytest.approx((30.0, 13.107, 68.665), abs=1e-2)
    assert over.method.startswith("quasi-Poisson GLM") and "phi 3.33 on 2 df" in over.method


def test_rate_interval_single_run_is_exact_poisson():
    # 5 events in one minute: chi2(0.025, 10) / 2 = 1.6235, chi2(0.975, 12) / 2 = 11.668
    ci = rate_interval(Counts.of([5], [1]))
    assert (ci.rate, ci.lo, ci.hi) == pytest.approx((5.0, 1.6235, 11.668), abs=1e-3)
    # none in two minutes: [0, 3.689 / 2]
    ci = rate_interval(Counts.of([0], [2]))
    assert (ci.rate, ci.lo, ci.hi) == pytest.approx((0.0, 0.0, 1.8444), abs=1e-3)


@pytest.mark.parametrize(
    "counts,minutes",
    [
        ([7, 7], [1, 1]),
        ([0, 0, 0], [1, 1, 1]),
        ([1e9, 1e9 + 1], [1, 1]),
        ([3, 100], [0.1, 60]),
        ([math.nan, 3], [1, 1]),
        ([3, 4], [0, 1]),
        ([3, 4], [math.inf, 1]),
    ],
)
def test_degenerate_counts_give_an_answer_in_the_domain(counts, minutes):
    base = Counts.of(counts, minutes)
    c = compare_counts(Counts.of([5, 6], [1, 1]), base, "lower", 0.5)
    assert c.outcome in ("holds", "fails", "inconclusive")
    if c.method:
        assert c.effect_ci[0] >= -1.0 and not math.isnan(c.effect_ci[0])
    else:  # unusable input: inconclusive with its reason
        assert c.outcome == "inconclusive" and c.reason
    ci = rate_interval(base)
    if not base.problem():
        assert 0 <= ci.lo <= ci.rate <= ci.hi


def test_repeats_equal_up_to_the_last_bit_never_crash_the_fieller_bound():
    """The brentq crash of issue 21: 7.333333333333333 vs 7.333333333333334."""
    base = [7.333333333333333, 7.333333333333334] * 10
    var = [7.333333333333334, 7.333333333333333] * 10
    c = compare(base, var, "lower", 0.5, nonnegative=True)
    assert c.outcome == "fails" and c.effect_ci[0] >= -1.0
    c = compare([1.0, 1.0 + 1e-15, 1.0], [0.2, 0.9, 0.4], "lower", 0.5, nonnegative=True)
    assert c.outcome in ("holds", "fails", "inconclusive") and c.effect_ci[0] >= -1.0


def test_welch_intervals_of_a_non_negative_metric_stop_at_minus_100_percent():
    # exp1 11 and 4, exp2b 5 and 1: Fieller's interval is unbounded below without the domain
    c = compare([11, 4], [5, 1], "lower", 0.5, nonnegative=True)
    assert c.effect_ci[0] == -1.0 and c.outcome == "inconclusive"


def test_log_scale_comparison_of_a_frequency():
    # logs: base ln 10, 11, 12 -> mean 2.39513; variant ln 20, 21, 22 -> 3.04377;
    # ratio of geometric means exp(0.64864) = 1.91293
    c = compare_log([10, 11, 12], [20, 21, 22], "higher", 0.5)
    assert c.effect == pytest.approx(0.91293, abs=1e-4)
    assert c.outcome == "holds" and c.effect_ci[0] > 0.5 and "logs" in c.method
    with pytest.raises(ValueError):
        compare_log([0, 1], [1, 2], "higher", 0.5)


@pytest.mark.parametrize(
    "values,bounds",
    [
        ([0.01, 0.0, 0.02], (0.0, 1.0)),
        ([0.99, 1.0, 0.97], (0.0, 1.0)),
        ([1.0, 99.0], (0.0, 100.0)),
        ([0.1, 30.0, 0.2], (0.0, None)),
        ([0.0, 0.0], (0.0, None)),
    ],
)
def test_mean_intervals_stay_in_the_domain(values, bounds):
    ci = mean_ci(values, bounds)
    low, high = bounds
    assert low <= ci.lo <= ci.mean <= ci.hi
    assert high is None or ci.hi <= high


def test_mean_interval_on_the_log_scale_by_hand():
    # mean 11, sem 1/sqrt(3) = 0.5774, t(0.975, 2) = 4.303: 11 exp(± 0.2258)
    ci = mean_ci([10, 11, 12], (0.0, None))
    assert (ci.lo, ci.hi) == pytest.approx((8.776, 13.787), abs=1e-3)


def test_an_interval_without_an_upper_end_is_said_in_words():
    """0 events in the baseline, 3 and 4 in the variant: the ratio's interval (exact,
    k = 7 of 7) runs from 1.44 to no end; the report says so, never '+∞'."""
    c = compare_counts(Counts.of([0, 0], [1, 1]), Counts.of([3, 4], [1, 1]), "higher", 0.5)
    assert math.isinf(c.effect_ci[1])
    words = "+44% or more, no upper bound (the baseline saw no events)"
    assert c.interval_text("95 % CI") == f"95 % CI {words}"
    assert f"({words}) straddles the +50%" in c.reason and "∞" not in c.reason
    assert effect_text(c.effect) == "up from none"
