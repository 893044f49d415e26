"""The report's "Where the loop's time goes" section: stage shares overall and during
warnings, per-camera capture cost, a per-thread CPU figure and the stages around the worst
warning -- for the runs that had the ``threads`` / ``pyspy`` probes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from labkit.analysis.runs import RunData  # noqa: E402
from labkit.analysis.stages import STAGES, camera_devices, loop_segments  # noqa: E402
from labkit.report.plots import Figure  # noqa: E402

COLORS = {
    "camera_read": "#dd8452",
    "robot_io": "#4c72b0",
    "teleop": "#55a868",
    "dataset": "#c44e52",
    "processors": "#8172b3",
    "sleep": "#cccccc",
    "other": "#937860",
}


def _profiled(runs: list[RunData]) -> list[RunData]:
    return [r for r in runs if r.metrics.get("main_thread_stage_share_sleep") is not None
            or r.metrics.get("warnings_single_thread_saturated_share") is not None]  # fmt: skip


def context(rows: list[dict[str, Any]], runs: list[RunData]) -> dict[str, Any] | None:
    """Rows for the section's tables, or None when no run was profiled."""
    profiled = _profiled(runs)
    if not profiled:
        return None
    names = [
        r["experiment"] for r in rows if any(p.experiment == r["experiment"] for p in profiled)
    ]
    stage_rows, camera_rows = [], []
    for row in rows:
        if row["experiment"] not in names:
            continue
        stage_rows.append(
            {
                "experiment": row["experiment"],
                "runs": row["runs"],
                "overall": {s: row.get(f"main_thread_stage_share_{s}") for s in STAGES},
                "warn": {s: row.get(f"warn_stage_share_{s}") for s in STAGES},
                "matched": row.get("warnings_matched_share"),
                "saturated": row.get("warnings_single_thread_saturated_share"),
                "camera_top": row.get("warn_camera_top"),
                "probe_cpu": row.get("probe_cpu_pct"),
            }
        )
        mine = [p for p in profiled if p.experiment == row["experiment"]]
        cams = sorted(
            {k.removeprefix("camera_read_ms_p50_") for p in mine for k in p.metrics
             if k.startswith("camera_read_ms_p50_")}
        )  # fmt: skip
        for cam in cams:

            def mean(key: str, runs_=mine) -> float | None:
                vals = [p.metrics.get(key) for p in runs_ if p.metrics.get(key) is not None]
                return float(np.mean(vals)) if vals else None

            camera_rows.append(
                {
                    "experiment": row["experiment"],
                    "camera": cam,
                    "p50": mean(f"camera_read_ms_p50_{cam}"),
                    "p95": mean(f"camera_read_ms_p95_{cam}"),
                    "max": max(
                        (
                            p.metrics[f"camera_read_ms_max_{cam}"]
                            for p in mine
                            if p.metrics.get(f"camera_read_ms_max_{cam}") is not None
                        ),
                        default=None,
                    ),  # fmt: skip
                    "cpu": mean(f"camera_read_thread_cpu_pct_{cam}"),
                    "warn_share": mean(f"warn_camera_share_{cam}"),
                }
            )
    notes = []
    for r in runs:
        for name, p in (
            (r.manifest.get("probes") or {}) if isinstance(r.manifest.get("probes"), dict) else {}
        ).items():
            if name in ("threads", "pyspy") and isinstance(p, dict) and p.get("skipped"):
                notes.append(
                    f"`{r.experiment}` {r.dir.name}: probe {name} skipped — {p['skipped']}"
                )
        if r.metrics.get("profile_note"):
            notes.append(f"`{r.experiment}` {r.dir.name}: {r.metrics['profile_note']}")
    return {
        "notes": notes,
        "stages": STAGES,
        "stage_rows": stage_rows,
        "camera_rows": camera_rows,
        "stage_header": "| Experiment | Runs | when | " + " | ".join(STAGES) + " |",
        "stage_rule": "|---|---:|---|" + "---:|" * len(STAGES),
    }


def _rows(table) -> int:
    return 0 if table is None else len(table)


def _worst(runs: list[RunData]) -> tuple[RunData, pd.Timestamp, float] | None:
    """The profiled run's lowest warned rate: (run, its time, Hz)."""
    best = None
    for r in runs:
        if (r.deep or {}).get("segments") is None or r.events is None:
            continue
        slow = r.events[(r.events["kind"] == "slow_loop") & r.events["time"].notna()]
        if slow.empty:
            continue
        i = slow["hz"].astype(float).idxmin()
        cand = (r, slow.loc[i, "time"], float(slow.loc[i, "hz"]))
        if best is None or cand[2] < best[2]:
            best = cand
    return best


MAX_THREADS = 4  # the threads a reader can take in at a glance, one panel each


def thread_cpu_figure(runs: list[RunData], out: Path) -> Figure | None:
    """Per-thread CPU over time for the profiled run with the most warnings: the few
    busiest threads, one panel each on a shared time axis with the warnings marked, the
    rest summed in a last panel."""
    cands = [
        r for r in runs if (r.deep or {}).get("threads") is not None and len(r.deep["threads"])
    ]
    if not cands:
        return None
    run = max(cands, key=lambda r: r.metrics.get("warnings") or 0)
    th = run.deep["threads"]
    mean = th.groupby("name")["cpu_pct"].mean().sort_values(ascending=False)
    top = mean.head(MAX_THREADS)
    rest = mean.index[MAX_THREADS:]
    panels = [(n, th[th["name"] == n]) for n in top.index]
    if len(rest):
        panels.append((f"the other {len(rest)} threads, summed", th[th["name"].isin(rest)]))
    t0 = th["time"].min()
    slow = pd.Series(dtype=float)
    if run.events is not None:
        warned = run.events.loc[run.events["kind"] == "slow_loop", "time"].dropna()
        slow = (warned - t0).dt.total_seconds()
    sums = [(name, mine.groupby("time")["cpu_pct"].sum()) for name, mine in panels]
    top_pct = max([100.0] + [float(s.max()) for _, s in sums if len(s)])
    fig, axes = plt.subplots(
        len(sums), 1, figsize=(8, 1.25 * len(sums) + 0.9), sharex=True, layout="constrained",
        squeeze=False,
    )  # fmt: skip
    for ax, (name, series) in zip(axes[:, 0], sums, strict=True):
        ax.fill_between((series.index - t0).total_seconds(), series.to_numpy(), step="mid",
                        color="#4c72b0", alpha=0.7, linewidth=0)  # fmt: skip
        for sec in slow:
            ax.axvline(sec, color="red", linewidth=0.6, alpha=0.6)
        ax.set_title(name, fontsize=8, loc="left", pad=2)
        ax.tick_params(labelsize=7)
        ax.set_ylim(0, top_pct * 1.05)
    axes[-1, 0].set_xlabel(
        "seconds since the threads probe's first sample (red: slow-loop warnings)"
    )
    fig.supylabel("CPU % of one core", fontsize=8)
    fig.suptitle(f"Per-thread CPU — {run.experiment}, run {run.dir.name}", fontsize=9)
    fig.savefig(out / "thread-cpu.png", dpi=100)
    plt.close(fig)
    listed = ", ".join(f"{n} {v:.0f}%" for n, v in top.items())
    others = f"; {len(rest)} other threads {mean[rest].sum():.0f}% together" if len(rest) else ""
    return Figure(
        "thread-cpu.png",
        "Per-thread CPU with warnings marked",
        f"One panel per busy thread of {run.experiment} ({run.dir.name}), CPU over time with "
        f"red lines at the {len(slow)} slow-loop warnings; mean CPU: {listed}{others}",
    )


def stages_figure(runs: list[RunData], out: Path) -> Figure | None:
    """The loop thread's stages, stacked per 50 ms, over 2 s around the worst warning."""
    worst = _worst(runs)
    if worst is None:
        return None
    run, when, hz = worst
    loop = loop_segments(run.deep["segments"])
    if loop.empty:
        return None
    lo, hi = when - pd.Timedelta(seconds=1), when + pd.Timedelta(seconds=2)
    near = loop[(loop["end"] > lo) & (loop["start"] < hi)]
    if near.empty:
        return None
    edges = pd.date_range(lo, hi, freq="50ms")
    share = {s: np.zeros(len(edges) - 1) for s in STAGES}
    for row in near.itertuples():
        for i in range(len(edges) - 1):
            overlap = (min(row.end, edges[i + 1]) - max(row.start, edges[i])).total_seconds()
            if overlap > 0:
                share[row.stage][i] += overlap / 0.05
    x = ((edges[:-1] - when).total_seconds()).to_numpy()
    fig, ax = plt.subplots(figsize=(8, 3.6), layout="constrained")
    bottom = np.zeros(len(x))
    for s in STAGES:
        ax.bar(x, share[s], width=0.05, bottom=bottom, align="edge", color=COLORS[s], label=s)
        bottom += share[s]
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel(f"seconds from the worst warning's logged second ({hz:.1f} Hz)")
    ax.set_ylabel("share of each 50 ms")
    ax.set_title(f"Loop thread's stages around the worst warning — {run.experiment}, run "
                 f"{run.dir.name}", fontsize=9)  # fmt: skip
    ax.legend(fontsize=6, ncol=4)
    fig.savefig(out / "stages-worst-warning.png", dpi=100)
    plt.close(fig)
    totals = {s: float(share[s].sum()) for s in STAGES if s != "sleep"}
    top = max(totals, key=totals.get)
    return Figure(
        "stages-worst-warning.png",
        "Where the loop's time went around the worst warning",
        f"Stacked bars of the loop thread's stages per 50 ms from 1 s before to 2 s after "
        f"the {hz:.1f} Hz warning in {run.experiment} ({run.dir.name}); the busiest stage "
        f"apart from sleep is {top}",
    )


def figures(runs: list[RunData], out: Path) -> list[Figure]:
    profiled = _profiled(runs)
    got = [thread_cpu_figure(profiled, out), stages_figure(profiled, out)]
    return [f for f in got if f is not None]


__all__ = ["context", "figures", "camera_devices"]
