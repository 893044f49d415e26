"""The threads probe's own metrics (declared in ``probe``), for any workload: the loop
thread's CPU overall and over its late events, and the sampler's CPU."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def loop_rows(table: pd.DataFrame, loop_thread: str | None) -> pd.DataFrame:
    """The loop thread's intervals: the busiest thread of the name the workload gives (the
    kernel keeps 15 characters of it), else the main thread of the workload's own process
    (the first process the sampler saw)."""
    if loop_thread:
        named = table[table["name"].isin({loop_thread, loop_thread[:15]})]
        if named.empty:
            return named
        busiest = named.groupby("tid")["cpu_pct"].sum().idxmax()
        return named[named["tid"] == busiest]
    root = table.sort_values("time", kind="stable")["pid"].iloc[0]
    return table[table["tid"] == root]


def run_metrics(table: pd.DataFrame, windows: list[tuple], loop_thread: str | None) -> dict:
    """``windows``: (start, end) of the workload's late events."""
    out: dict[str, Any] = {}
    loop = loop_rows(table, loop_thread)
    if len(loop):
        out["loop_thread_cpu_pct"] = float(loop["cpu_pct"].mean())
        if windows:
            interval = loop["time"].diff().dt.total_seconds().median()
            step = pd.Timedelta(seconds=float(interval) if interval == interval else 0.1)
            ends = loop["time"].to_numpy()
            starts = (loop["time"] - step).to_numpy()
            hit = np.zeros(len(loop), dtype=bool)
            for lo, hi in windows:
                hit |= (starts <= np.datetime64(hi)) & (ends >= np.datetime64(lo))
            if hit.any():
                out["late_loop_thread_cpu_pct"] = float(loop.loc[hit, "cpu_pct"].mean())
    cpu = table.attrs.get("self_cpu_s")
    span = (table["time"].max() - table["time"].min()).total_seconds()
    if cpu is not None and span > 0:
        out["probe_cpu_pct"] = float(cpu) / span * 100
    return out
