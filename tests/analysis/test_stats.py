"""The one statistical rule, on hand-computed cases (tests/data/stats/*.yaml)."""

from __future__ import annotations

import math

import pytest
import yaml

from labkit.analysis.stats import POINT, WELCH, compare, mean_ci
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


@pytest.mark.parametrize("case", MEANS, ids=[str(c["values"]) for c in MEANS])
def test_mean_ci_matches_the_hand_computed_case(case):
    m = mean_ci(case["values"])
    assert m.mean == pytest.approx(case["mean"])
    if case["ci"] is None:
        assert math.isnan(m.lo) and math.isnan(m.hi)
    else:
        assert [m.lo, m.hi] == pytest.approx(case["ci"], abs=1e-3)
