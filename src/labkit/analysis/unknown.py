"""Why a metric is unknown on a run, in one sentence: a check that cannot be computed says
what is missing and, where the data tell, what would decide it.

The reason a run's own computation recorded comes first (``core.metrics.UNKNOWN``: H6's
"no late stretch was two sampling intervals long; a `threads` interval of X ms would
decide it"); else the plug-in that computes the metric, which the run did not have or
whose log gave nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from labkit.core.metrics import UNKNOWN, Metric
from labkit.registry import PROBES


def why_unknown(run: Any, metric: Metric) -> str:
    """Why ``metric`` has no value on ``run`` (a ``RunData``), in one sentence."""
    recorded = (run.metrics.get(UNKNOWN) or {}).get(metric.name)
    if recorded:
        return str(recorded)
    source = metric.source
    probes = run.manifest.probes
    workload = run.manifest.workload.kind
    if source in PROBES:
        if source not in probes:
            return f"{run.experiment} ran without the `{source}` probe that computes it"
        skipped = probes[source].skipped
        if skipped:
            return f"the `{source}` probe was skipped on this run ({skipped})"
        return f"the `{source}` probe ran but its log gave no value for it"
    if source and workload and source != workload:
        return f"{run.experiment}'s workload ({workload}) does not compute it"
    if metric.name.startswith("fact."):
        return "the host facts gathered for the run do not include it"
    if metric.name == "duration_s":
        return "the run's log does not say how long it recorded"
    return "the run's logs do not give it"


def unknown_sentence(metric: Metric, runs: Iterable[Any], of: int | None = None) -> str:
    """One sentence for the runs where ``metric`` is unknown, grouped by reason:
    ``warnings_single_thread_saturated_share cannot be computed on 2 of 3 runs (exp8 a,
    exp8 b): <reason>``."""
    by_reason: dict[str, list[Any]] = {}
    for r in runs:
        by_reason.setdefault(why_unknown(r, metric), []).append(r)
    total = sum(len(v) for v in by_reason.values())
    on = f"{total} of {of} runs" if of is not None and of != total else f"{total} run(s)"
    head = f"{metric.name} cannot be computed on {on}"
    if len(by_reason) == 1:
        reason, mine = next(iter(by_reason.items()))
        return f"{head} ({_named(mine)}): {reason}"
    return f"{head}: " + "; ".join(f"{why} ({_named(rs)})" for why, rs in by_reason.items())


def _named(runs: list[Any], limit: int = 4) -> str:
    shown = ", ".join(f"{r.experiment} {r.dir.name}" for r in runs[:limit])
    return shown + (f", … {len(runs) - limit} more" if len(runs) > limit else "")
