"""Per-experiment numbers: every run metric aggregated over the experiment's repeats.

Counts and rates are means over runs (so experiments with different repeat counts stay
comparable), a floor is the lowest of any run, a peak the highest; what describes warnings
(the warned rates) is taken over the runs that warned; with several runs the
spread (lowest and highest run) of the headline numbers is kept beside the mean, and the
mean of each per-run value carries its 95 % interval (``labkit.analysis.stats.mean_ci``).
Rows are per configuration (``labkit.analysis.configs``): runs that measured different
things are never pooled.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any

from labkit.analysis.configs import Group
from labkit.analysis.decide import experiment_interval
from labkit.analysis.runs import RunData, without_late_events
from labkit.core.metrics import Metric
from labkit.metric_names import REGISTRY
from labkit.registry import workload_of


def has_interval(metric: Metric) -> bool:
    """Whether an experiment's row carries the 95 % interval of ``metric``: every number
    its runs average, and the late events' floor (``Metric.is_floor``: of the per-run
    floors)."""
    numeric = metric.kind not in ("category", "flag")
    return metric.is_floor or (metric.aggregate == "mean" and numeric)


# the columns of summary.csv, in order (the spread columns follow their metric)
COLUMNS = ["experiment", "configuration", "host", "runs", "target_hz", "description"]


def _how(metric: str, known: list[Any], metrics: dict[str, Metric]) -> str:
    """How runs combine, from the metric's declaration; a metric beyond them (a probe's
    per-thread one) is a mean, or one word when its values are words."""
    if metric in metrics:
        return metrics[metric].aggregate
    return "categorical" if any(isinstance(v, str | bool) for v in known) else "mean"


def _combine(metric: str, values: list[Any], metrics: dict[str, Metric] = REGISTRY) -> Any:
    known = [v for v in values if v is not None]
    if not known or len(known) < len(values):
        return None  # no run has it, or one run lacks it: the aggregate would hide that
    how = _how(metric, known, metrics)
    if how == "categorical":
        distinct = sorted({str(v) for v in known})
        if len(distinct) == 1:
            return known[0]
        return "mixed: " + ", ".join(distinct)
    if how == "min":
        return min(known)
    if how == "max":
        return max(known)
    mean = statistics.fmean(known)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in known) and mean.is_integer():
        return int(mean)
    return mean


def target_hz(run: RunData) -> float | None:
    """The loop target of a run, as its workload reads it from the run's resolved
    parameters (``Workload.target_hz``; None for a kind without one)."""
    return workload_of(run.manifest).target_hz(run.manifest.params)


def aggregate(
    runs: list[RunData], experiment: str, host: str = "", metrics: dict[str, Metric] | None = None
) -> dict[str, Any]:
    """One row: the experiment's metrics over ``runs`` (all of that experiment);
    ``metrics``: the playbook's (its workload's and probes'), default the built-in set."""
    metrics = REGISTRY if metrics is None else metrics
    row: dict[str, Any] = {"experiment": experiment, "host": host, "runs": len(runs)}
    targets = {target_hz(r) for r in runs}
    row["target_hz"] = targets.pop() if len(targets) == 1 else None
    late = [r for r in runs if not without_late_events(r)]
    for metric, declared in metrics.items():
        # a warned rate says nothing of a run without late events: those runs are left out
        chosen = late if declared.per_warning else runs
        values = [r.metrics.get(metric) for r in chosen]
        row[metric] = _combine(metric, values, metrics)
        if declared.spread:
            known = [v for v in values if v is not None]
            row[f"{metric}_lo"] = min(known) if len(known) > 1 else None
            row[f"{metric}_hi"] = max(known) if len(known) > 1 else None
        if has_interval(declared):
            row[metric], row[f"{metric}_ci_lo"], row[f"{metric}_ci_hi"] = experiment_interval(
                declared, chosen, row[metric]
            )
    # metrics beyond the built-in set (probes such as threads / pyspy): over the runs that
    # have them (a profiled run beside unprofiled ones of the same experiment); keys that
    # are no metric (``_unknown``: why some were left unknown) stay out
    found = {k for r in runs for k in r.metrics if not k.startswith("_")}
    extra = sorted(found - set(metrics) - set(row))
    for metric in extra:
        row[metric] = _combine(
            metric, [r.metrics[metric] for r in runs if r.metrics.get(metric) is not None], metrics
        )
    return row


def group_rows(
    groups: Iterable[Group],
    order: Iterable[str],
    by_host: bool = False,
    metrics: dict[str, Metric] | None = None,
) -> list[dict[str, Any]]:
    """Rows for every group (experiments in playbook ``order``, unknown ones after; an
    experiment's main configuration before its others); one per (group, host) when
    ``by_host``; ``metrics``: the playbook's (default the built-in set)."""
    groups = list(groups)
    order = list(order)
    rank = {n: i for i, n in enumerate(order)}

    def key(g: Group):
        return (rank.get(g.experiment, len(rank)), g.experiment, not g.main, g.configuration)

    rows = []
    for g in sorted(groups, key=key):
        hosts = sorted({r.host for r in g.runs}) if by_host else [""]
        for host in hosts:
            chosen = [r for r in g.runs if not host or r.host == host]
            row = aggregate(chosen, g.experiment, host, metrics)
            row |= {"configuration": g.configuration, "label": g.label, "main": g.main}
            row["reproduce"] = g.reproduce()
            rows.append(row)
    return rows


def columns(metrics: dict[str, Metric] | None = None) -> list[str]:
    """The columns of summary.csv: exactly the metrics of the playbook's workload and
    probes (``metrics``; default the built-in set), each with its spread and interval."""
    out = list(COLUMNS)
    for metric, declared in (REGISTRY if metrics is None else metrics).items():
        out.append(metric)
        if declared.spread:
            out += [f"{metric}_lo", f"{metric}_hi"]
        if has_interval(declared):
            out += [f"{metric}_ci_lo", f"{metric}_ci_hi"]
    return out


COMPANIONS = ("_ci_lo", "_ci_hi", "_lo", "_hi")


def column_header(column: str, metrics: dict[str, Metric] | None = None) -> str:
    """A summary.csv column as its header shows it: a metric's (and its spread's and
    interval's) name with the metric's unit, ``warnings_per_min_ci_lo [1/min]``."""
    metrics = REGISTRY if metrics is None else metrics
    base = column
    if column not in metrics:
        base = next((column[: -len(s)] for s in COMPANIONS if column.endswith(s)), column)
    declared = metrics.get(base)
    return f"{column} [{declared.unit}]" if declared is not None and declared.unit else column
