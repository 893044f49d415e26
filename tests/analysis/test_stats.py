"""The one statistical rule, on hand-computed cases (tests/data/stats/*.yaml)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from scipy import stats

from labkit.analysis.stats import POINT, WELCH, compare, json_number, look_alpha, mean_ci, spent
from tests.conftest import REPO

DATA = REPO / "tests" / "data" / "stats"
COMPARE = yaml.safe_load((DATA / "compare.yaml").read_text())
MEANS = yaml.safe_load((DATA / "mean_ci.yaml").read_text())


@pytest.mark.parametrize("case", COMPARE, ids=[c["name"] for c in COMPARE])
def test_compare_matches_the_hand_computed_case(case):
    c = compare(case["baseline"], case["variant"], case["expect"], case["min_effect"])
    assert c.outcome == case["outcome"]
    if math.isinf(case["effect"]):
        assert c.effect == case["effect"]
    else:
        assert c.effect == pytest.approx(case["effect"], abs=1e-4)
    if case["effect_ci"] is None:
        assert math.isnan(c.effect_ci[0]) and math.isnan(c.effect_ci[1])
    else:
        assert list(c.effect_ci) == pytest.approx(case["effect_ci"], abs=1e-3)
    assert c.single is bool(case.get("single"))
    assert c.method == (POINT if case.get("single") else WELCH)
    # a p-value exists exactly when an interval does
    assert math.isnan(c.p_value) == (case["effect_ci"] is None)
    assert c.runs_needed == case.get("runs_needed")


FIELLER = [c for c in COMPARE if c["effect_ci"] and all(map(math.isfinite, c["effect_ci"]))]
FIELLER = [c for c in FIELLER if c["effect_ci"][0] != c["effect_ci"][1]]


@pytest.mark.parametrize("case", FIELLER, ids=[c["name"] for c in FIELLER])
def test_the_effect_interval_is_where_welchs_test_stops_rejecting(case):
    """Each end of the interval is a ratio that Welch's test rejects at exactly 5 %."""
    c = compare(case["baseline"], case["variant"], case["expect"], case["min_effect"])
    base, var = np.asarray(case["baseline"], float), np.asarray(case["variant"], float)
    for end in c.effect_ci:
        p = stats.ttest_ind(var, (1 + end) * base, equal_var=False).pvalue
        assert p == pytest.approx(0.05, abs=1e-4)


@pytest.mark.parametrize("case", MEANS, ids=[str(c["values"]) for c in MEANS])
def test_mean_ci_matches_the_hand_computed_case(case):
    m = mean_ci(case["values"])
    assert m.mean == pytest.approx(case["mean"])
    if case["ci"] is None:
        assert math.isnan(m.lo) and math.isnan(m.hi)
    else:
        assert [m.lo, m.hi] == pytest.approx(case["ci"], abs=1e-3)


def test_the_looks_of_a_study_that_stops_when_decided_spend_at_most_5_percent():
    """O'Brien-Fleming-type spending over looks at 2..6 runs a side of at most 6: by hand,
    2 - 2 Phi(1.95996 / sqrt(n / 6)) spent by n runs, each look the increase since the last."""
    levels = [look_alpha(n, n - 1 if n > 2 else 0, 6) for n in range(2, 7)]
    expected = [0.000687, 0.004888, 0.010800, 0.015416, 0.018209]
    assert levels == pytest.approx(expected, abs=1e-6)
    assert sum(levels) == pytest.approx(0.05, abs=1e-12)
    assert spent(1.0) == pytest.approx(0.05) and spent(0.0) == 0.0


def test_a_look_without_new_runs_spends_nothing():
    assert look_alpha(3, 3, 6) == 0.0
    assert look_alpha(2, 0, 2) == pytest.approx(0.05)  # one look: all of it


def test_json_numbers_keep_six_significant_digits_of_a_tiny_p_value():
    # a p-value the report prints as 1.9e-08 was written to hypotheses.json as 0.0
    assert json_number(1.9e-08) == 1.9e-08
    assert json_number(2 / 3) == 0.666667
    assert json_number(float("nan")) is None and json_number(float("-inf")) == "-inf"
