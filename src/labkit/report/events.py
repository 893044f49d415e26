"""Figures of a command workload's events: per event with a value, the values of every
run of each experiment (box plot, one box per experiment in playbook order). The alt
text carries the medians and counts, so the figure is readable without seeing it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from labkit.analysis.runs import RunData
from labkit.report.plots import Figure, _save, plt


def event_values(runs: list[RunData], order: list[str], event: str, out: Path) -> Figure | None:
    """Box plot of ``event``'s values per experiment; None when no run has any."""
    series = []
    for name in order:
        values = []
        for r in runs:
            ev = r.workload_events
            if r.experiment != name or ev is None or not len(ev):
                continue
            mine = ev.loc[ev["event"] == event, "value"].to_numpy(dtype=float)
            values.extend(mine[np.isfinite(mine)].tolist())
        if values:
            series.append((name, np.array(values)))
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(series) + 2), 4))
    ax.boxplot([v for _, v in series], showfliers=True)
    ax.set_xticks(range(1, len(series) + 1), [n for n, _ in series], rotation=30, ha="right")
    ax.set_ylabel(f"{event} value")
    ax.set_title(f"{event}: values per experiment (all runs)")
    file = f"event-{event}.png"
    _save(fig, out / file)
    parts = [f"{n} median {np.median(v):.3g} over {len(v)} events" for n, v in series]
    return Figure(
        file, f"Values of '{event}' events", "Box plot per experiment: " + "; ".join(parts)
    )


def draw_events(runs: list[RunData], order: list[str], events: list[str], out: Path):
    figures = [event_values(runs, order, e, out) for e in events]
    return [f for f in figures if f is not None]
