"""Runs of workloads other than lerobot-record: their metrics from the workload's events
and the probes' samples, and per-experiment rows of those metrics for the report.

The workload is rebuilt from the run record (``labkit.workloads.workload_of``) and every
probe the record names parses its own files, so a report needs neither the playbook that
made a run nor the kind's code to have stayed the same. Runs of one experiment combine as
the metric registry says (``labkit.metric_names``: mean, lowest, highest), with the 95 %
interval of the mean (``labkit.analysis.stats.mean_ci``) for counts and rates.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from labkit.analysis.configs import Group
from labkit.analysis.stats import mean_ci
from labkit.core.metrics import Metric


def _combine(metric: Metric, values: list[Any]) -> Any:
    known = [v for v in values if v is not None]
    if not known or len(known) < len(values):
        return None  # one run without the metric: the aggregate would hide it
    if metric.aggregate == "min":
        return min(known)
    if metric.aggregate == "max":
        return max(known)
    if metric.aggregate == "categorical":
        distinct = sorted({str(v) for v in known})
        return known[0] if len(distinct) == 1 else "mixed: " + ", ".join(distinct)
    return statistics.fmean(known)


def event_rows(
    groups: list[Group], order: list[str], metrics: dict[str, Metric], main: bool = True
) -> list[dict]:
    """One row per experiment in its playbook configuration (``main``; else one per other
    configuration, never pooled with it): every metric in ``metrics`` combined over its
    runs; ``<metric>_ci_lo``/``_ci_hi`` for means of several runs."""
    rank = {n: i for i, n in enumerate(order)}
    rows = []
    mine = [g for g in groups if g.main == main]
    for g in sorted(mine, key=lambda g: (rank.get(g.experiment, 1e9), g.configuration)):
        row: dict[str, Any] = {"experiment": g.experiment, "runs": len(g.runs)}
        row |= {"label": g.label, "reproduce": g.reproduce()}
        for name, metric in metrics.items():
            values = [r.metrics.get(name) for r in g.runs]
            row[name] = _combine(metric, values)
            if metric.aggregate == "mean" and len(values) > 1 and None not in values:
                ci = mean_ci([float(v) for v in values])
                row[f"{name}_ci_lo"], row[f"{name}_ci_hi"] = ci.lo, ci.hi
            else:
                row[f"{name}_ci_lo"] = row[f"{name}_ci_hi"] = math.nan
        rows.append(row)
    return rows


def valued_events(workload) -> list[str]:
    """The workload's events that carry a value (one figure each)."""
    patterns = getattr(workload, "patterns", {})
    return [name for name, pat in patterns.items() if "value" in pat.groupindex]
