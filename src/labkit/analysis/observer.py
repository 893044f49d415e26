"""The probes' observer effect: an experiment that only adds probes to another (exp8 adds
threads and py-spy to exp1) measured against the one it observes.

Such an experiment is the same configuration (``labkit.analysis.configs``), so it is never
ranked as a cause or recommended; what its probes cost the workload is still worth
knowing. It is compared on the workload's headline metrics (``Workload.headline_metrics``:
LeRobot's warnings per minute and warned loop rate) by the rule every comparison uses
(``labkit.analysis.decide.compare_runs``), as a two-sided question: did the probes make
the metric worse, better, or can the runs not tell?
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from labkit.analysis.configs import Group, same_configuration
from labkit.analysis.decide import compare_runs, is_count, metric_of, pooled_dispersion
from labkit.analysis.stats import Comparison, effect_text, json_number
from labkit.core.metrics import Metric


def probes_of(group: Group, declared: list[str] | None = None) -> frozenset[str]:
    """The probes that observed a group's runs: every probe a run record names and did not
    skip; ``declared`` (the playbook's list for the experiment) when no record names any."""
    seen: set[str] = set()
    for run in group.runs:
        seen |= {n for n, p in run.manifest.probes.items() if not p.skipped}
    return frozenset(seen or declared or ())


@dataclass
class MetricEffect:
    """One headline metric, observed against observing: the comparison or why none."""

    metric: Metric
    comparison: Comparison | None
    reason: str = ""

    @property
    def verdict(self) -> str:
        """``worse`` / ``better``: the whole 95 % interval on one side of no change;
        ``no effect shown``: it straddles no change; ``single run``: no spread to tell;
        ``not compared``: see ``reason``."""
        c = self.comparison
        if c is None:
            return "not compared"
        if c.single:
            return "single run"
        return {"holds": "worse", "fails": "better"}.get(c.outcome, "no effect shown")

    def text(self) -> str:
        """``warnings_per_min 1.2 → 1.5 [1/min], +25 % (95 % CI −3 % to +61 %): no effect
        shown``."""
        m, c = self.metric, self.comparison
        if c is None:
            return f"{m.name}: not compared ({self.reason})"
        unit = f" {m.unit}" if m.unit else ""
        head = (
            f"{m.name} {c.mean_baseline:.3g} → {c.mean_variant:.3g}{unit}, {effect_text(c.effect)}"
        )
        lo, hi = c.effect_ci
        if not (math.isnan(lo) or math.isnan(hi)):
            head += f" ({c.interval_text('95 % CI')})"
        said = {
            "worse": "the probes made it worse (the whole interval is on the worse side)",
            "better": "better with the probes (the whole interval is on the better side)",
            "no effect shown": "no effect shown (the interval straddles no change)",
            "single run": "a single run on a side: no spread to tell an effect from noise",
        }[self.verdict]
        return f"{head}: {said}"

    def as_json(self) -> dict[str, Any]:
        c = self.comparison
        out: dict[str, Any] = {"metric": self.metric.name, "unit": self.metric.unit}
        out["verdict"] = self.verdict
        if c is None:
            return out | {"reason": self.reason}
        return out | {
            "n_observed": c.n_baseline,
            "n_observing": c.n_variant,
            "mean_observed": json_number(c.mean_baseline),
            "mean_observing": json_number(c.mean_variant),
            "effect": json_number(c.effect),
            "effect_ci": [json_number(c.effect_ci[0]), json_number(c.effect_ci[1])],
            "p_value": json_number(c.p_value),
            "method": c.method,
        }


@dataclass
class ObserverEffect:
    """An observing experiment against the experiment it observes."""

    experiment: str  # the observing one (exp8)
    observed: str  # the one it observes (exp1)
    probes: list[str]  # the probes it adds
    runs: int
    observed_runs: int
    metrics: list[MetricEffect] = field(default_factory=list)

    def sentence(self) -> str:
        """One line: which probes, what they did to each headline metric, runs a side."""
        which = "+".join(self.probes)
        noun = "probe" if len(self.probes) == 1 else "probes"
        parts = "; ".join(m.text() for m in self.metrics) or "no headline metric to compare"
        return (
            f"the {which} {noun} (`{self.experiment}` against `{self.observed}`): {parts}; "
            f"{self.runs} and {self.observed_runs} runs"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment,
            "observed": self.observed,
            "probes": self.probes,
            "runs": self.runs,
            "observed_runs": self.observed_runs,
            "metrics": [m.as_json() for m in self.metrics],
        }


def observed_pairs(
    groups: list[Group], order: list[str], declared: dict[str, list[str]] | None = None
) -> list[tuple[Group, Group, list[str]]]:
    """(observing, observed, added probes) among the main configurations: the observed one
    is the same configuration with a strict subset of the probes (of several, the one with
    the fewest probes, then the first in playbook ``order``)."""
    declared = declared or {}
    rank = {n: i for i, n in enumerate(order)}
    mains = [g for g in groups if g.main]
    probes = {id(g): probes_of(g, declared.get(g.experiment)) for g in mains}
    pairs = []
    for g in sorted(mains, key=lambda g: (rank.get(g.experiment, len(rank)), g.experiment)):
        mine = probes[id(g)]
        under = [
            h
            for h in mains
            if h is not g and same_configuration(h.config, g.config) and probes[id(h)] < mine
        ]
        if not under:
            continue
        base = min(under, key=lambda h: (len(probes[id(h)]), rank.get(h.experiment, len(rank))))
        pairs.append((g, base, sorted(mine - probes[id(base)])))
    return pairs


def _effect(metric: Metric, base: Group, var: Group, pooled) -> MetricEffect:
    chosen = []
    for g in (base, var):
        runs = g.runs
        if metric.per_warning:  # a warned rate says nothing of a run without late events
            runs = [r for r in runs if r.metrics.get(metric.name) is not None]
        if not runs:
            return MetricEffect(metric, None, f"no run of {g.experiment} has it")
        chosen.append(runs)
    worse = "lower" if metric.better == "higher" else "higher"
    c = compare_runs(metric, chosen[0], chosen[1], worse, 0.0, pooled if is_count(metric) else None)
    if isinstance(c, str):
        return MetricEffect(metric, None, c)
    return MetricEffect(metric, c)


def observer_effects(
    groups: list[Group],
    headline: list[str],
    metrics: dict[str, Metric],
    order: list[str],
    declared: dict[str, list[str]] | None = None,
) -> list[ObserverEffect]:
    """Every observing experiment against the one it observes, on the ``headline``
    metrics; counts borrow the spread pooled over every main configuration, as checks do."""
    out = []
    mains = [g.runs for g in groups if g.main]
    for var, base, added in observed_pairs(groups, order, declared):
        effects = []
        for name in headline:
            metric = metric_of(name, metrics)
            pooled = pooled_dispersion(metric, mains) if is_count(metric) else None
            effects.append(_effect(metric, base, var, pooled))
        out.append(
            ObserverEffect(var.experiment, base.experiment, added, len(var.runs), len(base.runs),
                           effects)
        )  # fmt: skip
    return out
