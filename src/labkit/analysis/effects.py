"""What each tested change did, measured against the baseline experiment, and ranked.

An experiment differs from the baseline by its configuration (``labkit.analysis.configs``;
run length never counts as a change). Its effect is the relative change of the workload's
late events per minute (``ranking_metric``: LeRobot's slow-loop warnings per minute),
judged by the same rule as every hypothesis check (``labkit.analysis.stats.compare``): a
change is *primary* when its cut is confirmed to be at least half (the largest such),
*contributing* when confirmed to be at least a fifth, *not primary* when confirmed to be
less, and *undecided* when the 95 % interval straddles a fifth. Where a hypothesis check
names the change (a ``compare`` of that rate against the same baseline) and asks for more
than half, primary needs that much, so a change is never called primary while its own
check is undecided or refuted; contributing stays a fifth, the weaker claim the seed made
of the encoder ("affects severity, but is not the root driver"). The recommendation is
the configuration with the lowest rate among the baseline and the changes whose cut is
confirmed, with the hypotheses about it that were not supported named beside it.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from labkit.analysis.configs import Group
from labkit.analysis.decide import compare_runs, metric_of, pooled_dispersion
from labkit.analysis.stats import Comparison
from labkit.config.playbook import Playbook
from labkit.core.metrics import Metric
from labkit.metric_names import REGISTRY

PRIMARY = 0.5  # a confirmed cut of at least half of the warnings: a primary cause
CONTRIBUTING = 0.2  # a confirmed cut of at least a fifth contributes


def ranking_metric(metrics: dict[str, Metric], headline: list[str]) -> str | None:
    """What changes are ranked by: the first of the workload's headline metrics that is
    a per-minute rate of events where lower is better (LeRobot: ``warnings_per_min``;
    a command: its late event's ``<event>_per_min``); None when it has none."""
    for name in headline:
        m = metrics.get(name)
        if m is not None and m.kind == "rate" and m.count_of and m.better == "lower":
            return name
    return None


def label(metric: str, metrics: dict[str, Metric] | None = None) -> str:
    """How the report names the ranking metric in a sentence: as its plug-in declares
    (``Metric.label``: LeRobot's "warnings per minute"), else by its name."""
    return metric_of(metric, metrics).label or metric


def short_label(metric: str, metrics: dict[str, Metric] | None = None) -> str:
    """The same in a list's few words: "warnings/min" for "warnings per minute"."""
    long = label(metric, metrics)
    return long.removesuffix(" per minute") + "/min" if long.endswith(" per minute") else long


def floor_metric(metrics: dict[str, Metric]) -> str | None:
    """The lowest rate the loop ran at in a late event (LeRobot: ``min_hz``), when the
    workload declares one: a frequency that describes its late events, combined as the
    lowest of any run."""
    return next((name for name, m in metrics.items() if m.is_floor), None)


def baseline_of(playbook: Playbook) -> str:
    """The experiment the hypotheses compare against most often, else the first one."""
    named = Counter(c.baseline for h in playbook.model.hypotheses for c in h.checks if c.baseline)
    return named.most_common(1)[0][0] if named else next(iter(playbook.experiments))


def _show(value: Any) -> str:
    if isinstance(value, list):
        return str(len(value))
    if isinstance(value, bool):
        return "on" if value else "off"
    return "unset" if value is None else str(value)


def describe_change(key: str, before: Any, after: Any) -> str:
    """``lowering dataset.fps 30→20``, ``turning dataset.streaming_encoding off``, ..."""
    if isinstance(after, bool) and isinstance(before, bool):
        return f"turning {key} {_show(after)}"
    if isinstance(before, list) and isinstance(after, list):
        verb = "fewer" if len(after) < len(before) else "more"
        return f"{verb} {key} {len(before)}→{len(after)}"
    numeric = isinstance(before, int | float) and isinstance(after, int | float)
    if numeric:
        verb = "lowering" if after < before else "raising"
        return f"{verb} {key} {before:g}→{after:g}"
    if before is None:
        return f"setting {key}={_show(after)}"
    return f"changing {key} {_show(before)}→{_show(after)}"


def diff(base: dict[str, Any], other: dict[str, Any]) -> list[str]:
    keys = [k for k in {**base, **other} if base.get(k) != other.get(k)]
    return [describe_change(k, base.get(k), other.get(k)) for k in keys]


def _rated(group: Group, metric: str) -> bool:
    return bool(group.runs) and all(r.metrics.get(metric) is not None for r in group.runs)


def _floor(group: Group, floor: str | None) -> float | None:
    """The lowest of the group's runs' ``floor`` metric (``floor_metric``), if any."""
    floors = [r.metrics[floor] for r in group.runs if floor and r.metrics.get(floor) is not None]
    return min(floors) if floors else None


@dataclass
class Effect:
    """One experiment against the baseline: its changes and what they did."""

    experiment: str
    changes: list[str]
    cut: Comparison  # against CONTRIBUTING: is it a cut of at least a fifth?
    major: Comparison  # against PRIMARY: is it a cut of at least half?
    metric: str  # what the cut is of
    what: str  # how a sentence names it (``label``)
    # the lowest rate a late event of the baseline's / its runs ran at (``floor_metric``)
    base_floor: float | None
    floor: float | None
    floor_unit: str = ""
    rank: str = ""  # primary | contributing | not primary | undecided
    # the hypothesis check's own comparison of this change (its bar), when one names it:
    # its runs-needed figure is the one shown, the same as in the check
    check: Comparison | None = None

    @property
    def runs(self) -> int:
        return self.cut.n_variant

    @property
    def base_rate(self) -> float:
        return self.cut.mean_baseline

    @property
    def rate(self) -> float:
        return self.cut.mean_variant

    @property
    def relative(self) -> float:
        return self.cut.effect

    @property
    def runs_needed(self) -> int | None:
        """The one runs-needed figure of this comparison: its check's, else its cut's."""
        return (self.check or self.cut).runs_needed

    @property
    def change_text(self) -> str:
        return " and ".join(self.changes) if self.changes else "no configuration change"

    def sentence(self) -> str:
        rel, c = self.relative, self.cut
        what = self.what
        if math.isinf(rel):
            moved = f"raised {what} from none"
        elif abs(rel) < 0.005:
            moved = f"left {what} unchanged"
        else:
            moved = f"{'cut' if rel < 0 else 'raised'} {what} by {abs(rel):.0%}"
        text = f"{self.change_text} ({self.experiment}) {moved} ({c.mean_baseline:.3g} → "
        text += f"{c.mean_variant:.3g}/min"
        if c.n_baseline == c.n_variant == 1:
            text += "; single run per side — no spread"
        elif c.single:
            text += "; a single run on one side — no spread"
        elif not math.isnan(c.effect_ci[0]):
            text += f"; {c.interval_text('95 % CI')} over {c.n_variant} and {c.n_baseline} runs"
        if self.floor is not None and self.base_floor is not None:
            text += f"; lowest warned rate {self.base_floor:.1f} → {self.floor:.1f} "
            text += self.floor_unit
        text += ")"
        if self.rank == "undecided":
            text += (
                f"; its 95 % interval straddles a cut of {CONTRIBUTING:.0%}, so it is within "
                "run-to-run noise so far"
            )
            if self.runs_needed:
                text += (
                    f" (at the spread seen, about {self.runs_needed} runs per side would "
                    "decide at 80 % power)"
                )
        elif self.rank == "not primary" and c.reason:
            text += f"; {c.reason}"
        return text


def check_bars(playbook: Playbook, baseline: str, metric: str) -> dict[str, float]:
    """Variant -> the largest cut of ``metric`` a hypothesis check asks of it against
    ``baseline``."""
    bars: dict[str, float] = {}
    for h in playbook.model.hypotheses:
        for c in h.checks:
            if (c.kind, c.metric, c.baseline, c.expect) == ("compare", metric, baseline, "lower"):
                bars[c.variant] = max(bars.get(c.variant, 0.0), float(c.min_effect))
    return bars


def effects(
    groups: list[Group],
    baseline: str,
    ranked_by: str,
    bars: dict[str, float] | None = None,
    metrics: dict[str, Metric] | None = None,
) -> list[Effect]:
    """Every main configuration with rated runs against ``baseline``, largest cut of
    ``ranked_by`` (``ranking_metric``) first; ``metrics``: the playbook's declarations
    (default the built-in set); ``bars`` (variant -> cut) replaces the contributing bar
    where a check sets one."""
    bars = bars or {}
    declared = metrics if metrics is not None else REGISTRY
    floor = floor_metric(declared)
    unit = declared[floor].unit if floor else ""
    mains = {g.experiment: g for g in groups if g.main}
    base = mains.get(baseline)
    if base is None or not _rated(base, ranked_by):
        return []
    metric = metric_of(ranked_by, metrics)
    pooled = pooled_dispersion(metric, [g.runs for g in mains.values() if _rated(g, ranked_by)])
    out = []
    for name, g in mains.items():
        if name == baseline or not _rated(g, ranked_by):
            continue
        if not diff(base.config, g.config):  # it only observes (its probes): not a cause
            continue

        def rule(bar: float, g: Group = g) -> Comparison | None:
            c = compare_runs(metric, base.runs, g.runs, "lower", bar, pooled)
            return c if isinstance(c, Comparison) else None

        cut, major = rule(CONTRIBUTING), rule(max(PRIMARY, bars.get(name, 0.0)))
        if cut is None or major is None:
            continue
        out.append(
            Effect(
                experiment=name,
                changes=diff(base.config, g.config),
                cut=cut,
                major=major,
                check=rule(bars[name]) if name in bars else None,
                metric=ranked_by,
                what=label(ranked_by, metrics),
                base_floor=_floor(base, floor),
                floor=_floor(g, floor),
                floor_unit=unit,
            )
        )
    out.sort(key=lambda e: (e.relative, -(e.floor or 0)))
    primary_taken = False
    for e in out:
        if e.major.outcome == "holds" and not primary_taken:
            e.rank, primary_taken = "primary", True
        elif e.cut.outcome == "holds":
            e.rank = "contributing"
        elif e.cut.outcome == "fails":
            e.rank = "not primary"
        else:
            e.rank = "undecided"
    return out


def best(
    rows: list[dict[str, Any]],
    ranked: list[Effect],
    baseline: str,
    ranked_by: str,
    metrics: dict[str, Metric] | None = None,
) -> dict | None:
    """The tested main configuration with the lowest ``ranked_by`` (then the best floor:
    the slowest late iteration nearest its target, ``floor_metric`` over ``target_hz``;
    a configuration without late events first) among the baseline and the changes whose
    cut is confirmed; a change that only looks better (undecided) is never recommended.
    ``metrics``: the playbook's declarations (default the built-in set)."""
    declared = metrics if metrics is not None else REGISTRY
    count = metric_of(ranked_by, metrics).count_of
    floor = floor_metric(declared)
    confirmed = {e.experiment for e in ranked if e.rank in ("primary", "contributing")}
    rated = [
        r
        for r in rows
        if r.get("main")
        and r.get(ranked_by) is not None
        and (r["experiment"] == baseline or r["experiment"] in confirmed)
    ]
    if not rated:
        return None

    def floor_share(r: dict[str, Any]) -> float:
        if not r.get(count or ""):
            return 1.0  # no late event (or none counted)
        if floor is None or r.get(floor) is None or not r.get("target_hz"):
            return 0.0
        return r[floor] / r["target_hz"]

    return min(rated, key=lambda r: (r[ranked_by], -floor_share(r), -r["runs"]))
