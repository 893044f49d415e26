"""The report's "Where the loop's time goes" section: stage shares overall and during
late events, per-camera capture cost, a per-thread CPU figure and the stages around the
worst late event -- for the runs that had the ``threads`` / ``pyspy`` probes, by the stages
of the workload's own stage map (``Workload.stage_map``).
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
from labkit.analysis.unknown import why_unknown  # noqa: E402
from labkit.core.observed import StageMap  # noqa: E402
from labkit.probes.threads.probe import METRICS as THREADS  # noqa: E402
from labkit.report.plots import Figure  # noqa: E402

# the stages' colours in the map's order; the loop waiting (its sleep stage) and "other"
# keep theirs whatever the map
PALETTE = ("#dd8452", "#4c72b0", "#55a868", "#c44e52", "#8172b3", "#da8bc3", "#ccb974",
           "#64b5cd", "#8c8c8c")  # fmt: skip
SLEEP_COLOR, OTHER_COLOR = "#cccccc", "#937860"
STAGE_SHARE = "main_thread_stage_share_"


def colors(stages: StageMap) -> dict[str, str]:
    """A colour per stage of the map (the palette repeats past its length)."""
    rest = [s for s in stages.stages if s not in (stages.sleep, "other")]
    out = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(rest)}
    return {**out, stages.sleep: SLEEP_COLOR, "other": OTHER_COLOR}


# the threads probe's pegged-thread share, shown (or why it is unknown) per experiment
SATURATED = "warnings_single_thread_saturated_share"


def _profiled(runs: list[RunData]) -> list[RunData]:
    return [
        r for r in runs
        if any(k.startswith(STAGE_SHARE) and v is not None for k, v in r.metrics.items())
        or r.metrics.get(SATURATED) is not None
    ]  # fmt: skip


def context(
    rows: list[dict[str, Any]], runs: list[RunData], stage_map: StageMap
) -> dict[str, Any] | None:
    """Rows for the section's tables (the stages of ``stage_map``: the workload's), or None
    when no run was profiled."""
    stages = stage_map.stages
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
        mine = [p for p in profiled if p.experiment == row["experiment"]]
        stage_rows.append(
            {
                "experiment": row["experiment"],
                "runs": row["runs"],
                "overall": {s: row.get(f"{STAGE_SHARE}{s}") for s in stages},
                "warn": {s: row.get(f"warn_stage_share_{s}") for s in stages},
                "matched": row.get("warnings_matched_share"),
                "saturated": row.get(SATURATED),
                "saturated_why": why_unknown(mine[0], THREADS[SATURATED]),
                "camera_top": row.get("warn_camera_top"),
                "probe_cpu": row.get("probe_cpu_pct"),
            }
        )
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
        for name, p in r.manifest.probes.items():
            if name in ("threads", "pyspy") and p.skipped:
                notes.append(f"`{r.experiment}` {r.dir.name}: probe {name} skipped — {p.skipped}")
        if r.metrics.get("profile_note"):
            notes.append(f"`{r.experiment}` {r.dir.name}: {r.metrics['profile_note']}")
    return {
        "notes": notes,
        "stages": stages,
        "stage_rows": stage_rows,
        "camera_rows": camera_rows,
        "stage_header": "| Experiment | Runs | when | " + " | ".join(stages) + " |",
        "stage_rule": "|---|---:|---|" + "---:|" * len(stages),
    }


def _rows(table) -> int:
    return 0 if table is None else len(table)


def _late_times(run: RunData) -> pd.Series:
    """The run's late events' known times (the workload's late event: LeRobot's slow-loop
    warnings)."""
    late = run.late
    return pd.Series(dtype="datetime64[ns]") if late is None else late["time"].dropna()


def _worst(runs: list[RunData]) -> tuple[RunData, pd.Timestamp, float] | None:
    """The profiled run's late event at the lowest rate (the first one when no rate is
    known): (run, its time, Hz or NaN)."""
    best = None
    for r in runs:
        loop = (r.deep or {}).get("loop")
        if loop is None or loop.empty or r.late is None:
            continue
        late = r.late.dropna(subset=["time"])
        if late.empty:
            continue
        hz = late["hz"].astype(float)
        i = hz.idxmin() if hz.notna().any() else late.index[0]
        cand = (r, late.loc[i, "time"], float(late.loc[i, "hz"]))
        rank = cand[2] if cand[2] == cand[2] else float("inf")
        if best is None or rank < (best[2] if best[2] == best[2] else float("inf")):
            best = cand
    return best


MAX_THREADS = 4  # the threads a reader can take in at a glance, one panel each


def thread_cpu_figure(runs: list[RunData], out: Path) -> Figure | None:
    """Per-thread CPU over time for the profiled run with the most late events: the few
    busiest threads, one panel each on a shared time axis with the late events marked, the
    rest summed in a last panel."""
    cands = [
        r for r in runs if (r.deep or {}).get("threads") is not None and len(r.deep["threads"])
    ]
    if not cands:
        return None
    run = max(cands, key=lambda r: len(_late_times(r)))
    th = run.deep["threads"]
    mean = th.groupby("name")["cpu_pct"].mean().sort_values(ascending=False)
    top = mean.head(MAX_THREADS)
    rest = mean.index[MAX_THREADS:]
    panels = [(n, th[th["name"] == n]) for n in top.index]
    if len(rest):
        panels.append((f"the other {len(rest)} threads, summed", th[th["name"].isin(rest)]))
    t0 = th["time"].min()
    slow = (_late_times(run) - t0).dt.total_seconds()
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
    axes[-1, 0].set_xlabel("seconds since the threads probe's first sample (red: late events)")
    fig.supylabel("CPU % of one core", fontsize=8)
    fig.suptitle(f"Per-thread CPU — {run.experiment}, run {run.dir.name}", fontsize=9)
    fig.savefig(out / "thread-cpu.png", dpi=100)
    plt.close(fig)
    listed = ", ".join(f"{n} {v:.0f}%" for n, v in top.items())
    others = f"; {len(rest)} other threads {mean[rest].sum():.0f}% together" if len(rest) else ""
    return Figure(
        "thread-cpu.png",
        "Per-thread CPU with late events marked",
        f"One panel per busy thread of {run.experiment} ({run.dir.name}), CPU over time with "
        f"red lines at the {len(slow)} late events; mean CPU: {listed}{others}",
    )


def stages_figure(runs: list[RunData], out: Path, stage_map: StageMap) -> Figure | None:
    """The loop thread's stages, stacked per 50 ms, over 2 s around the worst late event."""
    worst = _worst(runs)
    if worst is None:
        return None
    run, when, hz = worst
    loop = run.deep["loop"]
    stages, color = stage_map.stages, colors(stage_map)
    lo, hi = when - pd.Timedelta(seconds=1), when + pd.Timedelta(seconds=2)
    # a run recorded under another stage map (an edited playbook) has stages this one lacks
    near = loop[(loop["end"] > lo) & (loop["start"] < hi) & loop["stage"].isin(stages)]
    if near.empty:
        return None
    edges = pd.date_range(lo, hi, freq="50ms")
    share = {s: np.zeros(len(edges) - 1) for s in stages}
    for row in near.itertuples():
        for i in range(len(edges) - 1):
            overlap = (min(row.end, edges[i + 1]) - max(row.start, edges[i])).total_seconds()
            if overlap > 0:
                share[row.stage][i] += overlap / 0.05
    x = ((edges[:-1] - when).total_seconds()).to_numpy()
    fig, ax = plt.subplots(figsize=(8, 3.6), layout="constrained")
    bottom = np.zeros(len(x))
    for s in stages:
        ax.bar(x, share[s], width=0.05, bottom=bottom, align="edge", color=color[s], label=s)
        bottom += share[s]
    ax.axvline(0, color="black", linewidth=0.8)
    rate = f"{hz:.1f} Hz" if hz == hz else "its rate not logged"
    ax.set_xlabel(f"seconds from the worst late event's logged time ({rate})")
    ax.set_ylabel("share of each 50 ms")
    ax.set_title(f"Loop thread's stages around the worst late event — {run.experiment}, run "
                 f"{run.dir.name}", fontsize=9)  # fmt: skip
    ax.legend(fontsize=6, ncol=4)
    fig.savefig(out / "stages-worst-warning.png", dpi=100)
    plt.close(fig)
    totals = {s: float(share[s].sum()) for s in stages if s != stage_map.sleep}
    top = max(totals, key=totals.get)
    return Figure(
        "stages-worst-warning.png",
        "Where the loop's time went around the worst late event",
        f"Stacked bars of the loop thread's stages per 50 ms from 1 s before to 2 s after "
        f"the late event ({rate}) in {run.experiment} ({run.dir.name}); the busiest stage "
        f"apart from {stage_map.sleep} is {top}",
    )


def figures(runs: list[RunData], out: Path, stage_map: StageMap) -> list[Figure]:
    profiled = _profiled(runs)
    got = [thread_cpu_figure(profiled, out), stages_figure(profiled, out, stage_map)]
    return [f for f in got if f is not None]


__all__ = ["colors", "context", "figures"]
