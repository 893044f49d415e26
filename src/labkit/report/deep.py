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
        if r.events is None or (r.deep or {}).get("segments") is None:
            continue
        slow = r.events[(r.events["kind"] == "slow_loop") & r.events["time"].notna()]
        if slow.empty:
            continue
        i = slow["hz"].astype(float).idxmin()
        cand = (r, slow.loc[i, "time"], float(slow.loc[i, "hz"]))
        if best is None or cand[2] < best[2]:
            best = cand
    return best


def thread_cpu_figure(runs: list[RunData], out: Path) -> Figure | None:
    """Per-thread CPU over time for the profiled run with the most warnings."""
    cands = [
        r for r in runs if (r.deep or {}).get("threads") is not None and len(r.deep["threads"])
    ]
    if not cands:
        return None
    run = max(cands, key=lambda r: r.metrics.get("warnings") or 0)
    th = run.deep["threads"]
    top = th.groupby("name")["cpu_pct"].mean().sort_values(ascending=False).head(8)
    fig, ax = plt.subplots(figsize=(8, 3.8), layout="constrained")
    t0 = th["time"].min()
    for name in top.index:
        mine = th[th["name"] == name].groupby("time")["cpu_pct"].sum()
        ax.plot((mine.index - t0).total_seconds(), mine.to_numpy(), linewidth=1, label=name)
    if run.events is not None:
        slow = run.events.loc[run.events["kind"] == "slow_loop", "time"].dropna()
        for i, sec in enumerate((slow - t0).dt.total_seconds()):
            ax.axvline(sec, color="red", linewidth=0.6, alpha=0.5,
                       label="slow-loop warning" if i == 0 else None)  # fmt: skip
    ax.set_xlabel("seconds since the threads probe's first sample")
    ax.set_ylabel("CPU % of one core")
    ax.set_title(f"Per-thread CPU — {run.experiment}, run {run.dir.name}", fontsize=9)
    ax.legend(fontsize=6, ncol=2)
    fig.savefig(out / "thread-cpu.png", dpi=100)
    plt.close(fig)
    listed = ", ".join(f"{n} {v:.0f}%" for n, v in top.items())
    return Figure(
        "thread-cpu.png",
        "Per-thread CPU with warnings marked",
        f"Line chart of per-thread CPU over time in {run.experiment} ({run.dir.name}), red "
        f"lines at the slow-loop warnings; mean CPU: {listed}",
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
