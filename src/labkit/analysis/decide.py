"""Which rule decides a comparison, from what the compared metric measures.

Counts and per-minute rates are counts over the time recorded (``labkit.analysis.counts``:
the rate ratio from a count model); a positive quantity (a frequency, a duration) is
compared on the log scale, anything else by Welch's test of the means
(``labkit.analysis.stats``), with an interval that never leaves what the metric can be.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from labkit.analysis.counts import Counts, Dispersion, compare_counts, dispersion, rate_interval
from labkit.analysis.stats import ALPHA, Comparison, compare, compare_log, mean_ci
from labkit.analysis.unknown import unknown_sentence
from labkit.core.metrics import Metric
from labkit.metric_names import REGISTRY

RULES = (
    "counts and per-minute rates are compared by the ratio of their rates (total count over "
    "total recorded time), each side's run-to-run spread from a quasi-Poisson model of its "
    "repeats, by Welch's test of that ratio (a side of one run borrows the spread pooled "
    "over the experiments; the exact conditional Poisson test when a side has no event); "
    "frequencies and durations by Welch's test on their logs (the ratio of geometric "
    "means); other values by Welch's test of the means with Fieller's interval"
)
EXPOSURE = "duration_s"
PER_MINUTE = 60.0


def metric_of(name: str, metrics: dict[str, Metric] | None = None) -> Metric:
    """The declaration of ``name`` (the playbook's metrics, else the built-in registry);
    an undeclared one (a host fact) is a plain value."""
    for table in (metrics or {}, REGISTRY):
        if name in table:
            return table[name]
    return Metric(name, "")


def is_count(metric: Metric) -> bool:
    return metric.kind == "count" or (metric.kind == "rate" and bool(metric.count_of))


def counts_of(metric: Metric, runs: Iterable[Any]) -> Counts:
    """The runs' events (the metric itself, or the count a rate is of) over the minutes
    each recorded (``duration_s``); unknown values become NaN (``Counts.problem`` says)."""
    name = metric.count_of if metric.kind == "rate" and metric.count_of else metric.name
    counts, minutes = [], []
    for r in runs:
        c, t = r.metrics.get(name), r.metrics.get(EXPOSURE)
        counts.append(float(c) if isinstance(c, int | float) else math.nan)
        minutes.append(float(t) / PER_MINUTE if isinstance(t, int | float) else math.nan)
    return Counts.of(counts, minutes)


def pooled_dispersion(metric: Metric, by_experiment: Iterable[Iterable[Any]]) -> Dispersion:
    """The run-to-run spread of ``metric``'s counts beyond Poisson, pooled over the
    experiments given (their repeats)."""
    return dispersion(counts_of(metric, runs) for runs in by_experiment)


def _value(run: Any, name: str) -> Any:
    return run.fact(name) if name.startswith("fact.") else run.metrics.get(name)


def missing(metric: Metric, runs: list[Any]) -> str:
    """'' when every run has what ``metric``'s rule needs (a count's events and recorded
    time); else why not, in one sentence naming the runs."""
    if is_count(metric):
        counted = metric.count_of if metric.kind == "rate" and metric.count_of else metric.name
        needs = [metric if counted == metric.name else metric_of(counted), metric_of(EXPOSURE)]
    else:
        needs = [metric]
    for m in needs:
        gone = [r for r in runs if _value(r, m.name) is None]
        if gone:
            return unknown_sentence(m, gone, of=len(runs))
    return ""


def compare_runs(
    metric: Metric,
    base: list[Any],
    var: list[Any],
    expect: str,
    min_effect: float,
    pooled: Dispersion | None = None,
    alpha: float = ALPHA,
) -> Comparison | str:
    """The comparison of ``metric`` between two experiments' runs by the rule its kind
    calls for, or why it cannot be made (one sentence)."""
    lacking = missing(metric, [*base, *var])
    if lacking:
        return lacking
    if is_count(metric):
        c = compare_counts(
            counts_of(metric, base),
            counts_of(metric, var),
            expect,
            min_effect,
            pooled,
            alpha=alpha,
        )  # per minute: the exposure is in minutes
        return c if c.method else f"{metric.name}: {c.reason}"
    values = []
    for side in (base, var):
        vals = [_value(r, metric.name) for r in side]
        ok = [float(v) for v in vals if isinstance(v, int | float) and math.isfinite(float(v))]
        if len(ok) < len(vals):
            bad = ", ".join(
                f"{r.experiment} {r.dir.name}"
                for r, v in zip(side, vals, strict=True)
                if not (isinstance(v, int | float) and math.isfinite(float(v)))
            )
            return f"{metric.name} is not a finite number on runs {bad}"
        values.append(ok)
    if metric.kind in ("frequency", "duration") and min(min(values[0]), min(values[1])) > 0:
        return compare_log(values[0], values[1], expect, min_effect, alpha)
    return compare(values[0], values[1], expect, min_effect, metric.bounds[0] == 0, alpha=alpha)


def experiment_interval(metric: Metric, runs: list[Any], value: Any) -> tuple[Any, float, float]:
    """(value, lo, hi) of one experiment's row: a rate is its total count over its total
    time (exact Poisson interval for one run, quasi-Poisson over repeats); any other mean
    keeps ``value`` with a 95 % interval in the metric's domain (NaN with one run)."""
    if metric.kind == "rate" and metric.count_of:
        counts = counts_of(metric, runs)
        if not counts.problem():
            ci = rate_interval(counts)  # per minute: the exposure is in minutes
            return ci.rate, ci.lo, ci.hi
    values = [_value(r, metric.name) for r in runs]
    known = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    ci = mean_ci(known, metric.bounds)
    if ci.n < 2:
        return value, math.nan, math.nan
    return value, ci.lo, ci.hi
