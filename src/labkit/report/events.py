"""Figures of a command workload's events: per event with a value, the values of every
run of each experiment (box plot, one box per experiment in playbook order). The alt
text carries the medians and counts, so the figure is readable without seeing it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labkit.analysis.runs import RunData
from labkit.report.plots import Figure, _save, plt


def event_values(
    runs: list[RunData], order: list[str], event: str, out: Path, unit: str = ""
) -> Figure | None:
    """Box plot of ``event``'s values per experiment (in ``unit``); None when no run has
    any."""
    series = []
    for name in order:
        values, runs_with = [], 0
        for r in runs:
            ev = r.workload_events
            if r.experiment != name or ev is None or not len(ev):
                continue
            mine = ev.loc[ev["event"] == event, "value"].to_numpy(dtype=float)
            mine = mine[np.isfinite(mine)]
            values.extend(mine.tolist())
            runs_with += bool(len(mine))
        if values:
            series.append((name, np.array(values), runs_with))
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(series) + 2), 4))
    # a box over two runs or more; one run's values as points (no spread of runs to show)
    boxed = [(i, v) for i, (_, v, k) in enumerate(series, start=1) if k >= 2]
    if boxed:
        ax.boxplot([v for _, v in boxed], positions=[i for i, _ in boxed], showfliers=True)
    for i, (_, v, k) in enumerate(series, start=1):
        if k < 2:
            jitter = np.linspace(-0.15, 0.15, len(v)) if len(v) > 1 else np.zeros(1)
            ax.scatter(i + jitter, v, s=8, color="#dd8452", zorder=3)
    ax.set_xlim(0.4, len(series) + 0.6)
    ax.set_xticks(range(1, len(series) + 1), [n for n, *_ in series], rotation=30, ha="right")
    ax.set_ylabel(f"{event} value" + (f" [{unit}]" if unit else ""))
    ax.set_title(f"{event}: values per experiment (all runs)")
    file = f"event-{event}.png"
    _save(fig, out / file)
    u = f" {unit}" if unit else ""
    parts = [
        f"{n} median {np.median(v):.3g}{u} over {len(v)} events from {k} run{'s' * (k != 1)}"
        for n, v, k in series
    ]
    return Figure(
        file,
        f"Values of '{event}' events",
        "Per experiment (a box over two runs or more, else points): " + "; ".join(parts),
    )


def draw_events(
    runs: list[RunData], order: list[str], events: list[str], out: Path, units: dict | None = None
):
    figures = [event_values(runs, order, e, out, (units or {}).get(e, "")) for e in events]
    return [f for f in figures if f is not None]


def valued_events(workload) -> list[str]:
    """The workload's events that carry a value (one figure each)."""
    patterns = getattr(workload, "patterns", {})
    return [name for name, pat in patterns.items() if "value" in pat.groupindex]
