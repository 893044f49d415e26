"""The runs a report is made of: what each run holds in memory."""

from __future__ import annotations

import numpy as np

from labkit.analysis.runs import WarnedRates


def test_warned_rates_of_several_runs_merge_into_counts():
    a = WarnedRates.of([12.0, 9.5, 12.0])
    b = WarnedRates.of([9.5, 7.25])
    merged = WarnedRates.merged([a, b])
    assert merged.hz.tolist() == [7.25, 9.5, 12.0]
    assert merged.counts.tolist() == [1, 2, 2]
    assert merged.expanded().tolist() == sorted([12.0, 9.5, 12.0, 9.5, 7.25])
    assert WarnedRates.merged([]).total == 0


def test_warned_rates_keep_a_rate_that_is_not_a_number():
    rates = WarnedRates.of([np.nan, 10.0, np.nan])
    assert rates.total == 3
    assert np.isnan(rates.expanded()).sum() == 2
