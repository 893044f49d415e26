"""The figures a workload asks for by name (``Workload.report_figures``): a plug-in
declares them as data and never imports the drawing code."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from labkit.report.events import draw_events, valued_events
from labkit.report.plots import Figure, Late, draw_all, figure_notes

# name -> (the report's context, the output folder) -> (figures, notes on missing ones)
Drawer = Callable[[dict[str, Any], Path], tuple[list[Figure], list[str]]]


def _slow_loop(ctx: dict[str, Any], folder: Path) -> tuple[list[Figure], list[str]]:
    """The workload's late events (LeRobot's slow-loop warnings) per experiment, over time,
    their loop rates, and the CPU heat maps with them marked; none without a ranking rate."""
    if not ctx["cause_metric"]:
        return [], []
    late = Late.of(ctx["workload"], ctx["metrics"], ctx["cause_metric"])
    figures = draw_all(ctx["rows"], ctx["judged"], list(ctx["pb"].experiments), folder, late)
    return figures, figure_notes(ctx["rows"], figures, late)


def _event_values(ctx: dict[str, Any], folder: Path) -> tuple[list[Figure], list[str]]:
    """One box plot per event that carries a value, in its unit."""
    workload = ctx["workload"]
    units = getattr(workload, "event_units", {})
    order = list(ctx["pb"].experiments)
    return draw_events(ctx["judged"], order, valued_events(workload), folder, units), []


FIGURES: dict[str, Drawer] = {"slow_loop": _slow_loop, "event_values": _event_values}


def draw(names: tuple[str, ...], ctx: dict[str, Any], folder: Path) -> tuple[list, list[str]]:
    """Every figure the workload names that has something to show, and the notes."""
    figures: list[Figure] = []
    notes: list[str] = []
    for name in names:
        drawn, said = FIGURES[name](ctx, folder)
        figures += drawn
        notes += said
    return figures, notes
