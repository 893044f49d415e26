"""The report's figures of a workload's late events (``slow_loop``: LeRobot's slow-loop
warnings), drawn from the parsed logs with matplotlib's non-interactive backend.

What they plot is the workload's to say (``Late``): the rate its changes are ranked by,
its count of late events, their floor, the words that name them (``Workload.late_words``).
Each function writes one PNG and returns a ``Figure`` record with the alt text the Markdown
embeds; the alt text carries the plotted numbers so the figure is readable without seeing it.
A figure with nothing to show (no late events anywhere, no tegrastats) is skipped, not drawn
empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from labkit.analysis.effects import floor_metric  # noqa: E402
from labkit.analysis.experiments import target_hz  # noqa: E402
from labkit.analysis.runs import RunData, WarnedRates  # noqa: E402
from labkit.core.metrics import Metric  # noqa: E402
from labkit.probes.tegrastats.compute import core_loads  # noqa: E402
from labkit.registry import workload_of  # noqa: E402
from labkit.workloads.base import LateWords, Workload  # noqa: E402

MAX_HEATMAPS = 8
MAX_POINTS = 1000  # warnings drawn one dot each per experiment in the rate distribution
MAX_LINES = 12  # runs drawn one line each in the loop-rate figure (else the lowest per experiment)


@dataclass
class Figure:
    file: str  # relative to the report's folder
    title: str
    alt: str


@dataclass(frozen=True)
class Late:
    """What the figures plot of the workload's late events, from its declarations."""

    words: LateWords
    rate: str  # their rate per minute, the changes' ranking (LeRobot: warnings_per_min)
    count: str | None  # a run's count of them (``Workload.late_count``: warnings)
    floor: str | None  # the lowest loop rate among them (``Metric.is_floor``: min_hz)

    @classmethod
    def of(cls, workload: Workload, metrics: dict[str, Metric], rate: str) -> Late:
        return cls(workload.late_words, rate, workload.late_count(), floor_metric(metrics))

    def count_text(self, n) -> str:
        n = n or 0
        return f"{n} {self.words.one if n == 1 else self.words.many}"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _warned(run: RunData):
    """(seconds since the recording started, Hz) of the run's slow-loop warnings: stored
    with its metrics, else from its record log."""
    stored = run.warned
    if stored is None:  # read from its log by its workload (LeRobot's warnings)
        stored = workload_of(run.manifest).late_timeline(run.events)
    return stored if stored is not None else (np.array([]), np.array([]))


def _rates(run: RunData) -> WarnedRates:
    """The run's warned rates as counts: held since the runs were loaded, else from its
    record log."""
    return run.warned_rates if run.warned_rates is not None else WarnedRates.of(_warned(run)[1])


def _drawn(runs: list[RunData], late: Late, order: list[str] | None = None) -> list[RunData]:
    """The runs a per-run figure draws: all of a small store; of a larger one, per
    experiment the run with the lowest warned rate (the lowest of all among them), so
    the figure stays readable and only those runs' logs are read."""
    if len(runs) <= MAX_LINES:
        return runs
    names = order or sorted({r.experiment for r in runs})
    picked = []
    for name in names:
        rated = [
            r
            for r in runs
            if r.experiment == name and late.floor and r.metrics.get(late.floor) is not None
        ]
        if rated:
            picked.append(min(rated, key=lambda r: r.metrics[late.floor]))
    return picked[:MAX_HEATMAPS] if picked else runs[:MAX_LINES]


def warnings_per_experiment(rows: list[dict[str, Any]], runs: list[RunData], out: Path, late: Late):
    """Bars: late events per minute over each experiment's runs; error bars: its 95 %
    interval; dots: each run."""
    rate, words = late.rate, late.words
    rated = [r for r in rows if r.get(rate) is not None]
    if not rated or not any(r[rate] for r in rated):
        return None  # nothing late: the report says so instead of an empty axis
    names = [r["experiment"] for r in rated]
    means = np.array([r[rate] for r in rated], dtype=float)
    lo = np.array([_or_nan(r.get(f"{rate}_ci_lo")) for r in rated])
    hi = np.array([_or_nan(r.get(f"{rate}_ci_hi")) for r in rated])
    fig, ax = plt.subplots(figsize=(7, 3.8))
    ax.bar(names, means, color="#4c72b0", label="rate over its runs")
    has_ci = ~np.isnan(lo) & ~np.isnan(hi)
    if has_ci.any():
        idx = np.flatnonzero(has_ci)
        # a tight interval of many runs can sit a rounding error off its estimate
        err = np.clip(np.vstack([means[idx] - lo[idx], hi[idx] - means[idx]]), 0, None)
        ax.errorbar(
            idx,
            means[idx],
            yerr=err,
            fmt="none",
            ecolor="black",
            capsize=4,
            label="95 % confidence interval",
        )
    data_top = float(np.nanmax(means))
    for i, name in enumerate(names):
        each = [
            r.metrics[rate]
            for r in runs
            if r.experiment == name and r.metrics.get(rate) is not None
        ]
        data_top = max([data_top, *each])
        if len(each) > 1:
            ax.scatter(
                [i] * len(each),
                each,
                color="#dd8452",
                s=12,
                zorder=3,
                label="one run" if i == 0 or "one run" not in _labels(ax) else None,
            )
    # an interval of a few very different runs can reach 1e8/min: it would flatten every
    # bar, so the axis stops at twice the data and such an interval's end is written
    cap = 2.0 * data_top
    if has_ci.any() and np.nanmax(hi) > cap:
        ax.set_ylim(0, cap)
        for i in np.flatnonzero(has_ci & (hi > cap)):
            ax.annotate(f"CI to {hi[i]:.3g} ↑", (i, cap), xytext=(0, -12),
                        textcoords="offset points", ha="center", fontsize=7)  # fmt: skip
    else:
        ax.set_ylim(bottom=0)
    ax.set_ylabel(f"{words.full} per minute")
    ax.set_title(f"{_capital(words.full)} per minute of recording")
    ax.legend(fontsize=7)
    file = f"{words.many.replace(' ', '-')}.png"
    _save(fig, out / file)
    listed = ", ".join(
        f"{n} {m:.3g}" + (f" (CI {a:.3g}–{b:.3g})" if ok else "")
        for n, m, a, b, ok in zip(names, means, lo, hi, has_ci, strict=True)
    )
    return Figure(
        file,
        f"{_capital(words.many)} per experiment",
        f"Bar chart of {words.full} per minute by experiment, the rate over its runs "
        f"(total {words.many} over total recorded time) with its 95 % confidence interval "
        f"(CI; exact Poisson for one run, quasi-Poisson over repeats): {listed}",
    )


def _or_nan(v) -> float:
    return float("nan") if v is None else float(v)


def _labels(ax) -> list[str]:
    return ax.get_legend_handles_labels()[1]


def _target_line(ax, t: float, x0: float = 0, x1: float = 1, coords: str = "axes") -> None:
    """A dashed line at the loop's target rate, labelled at its right end."""
    if coords == "axes":
        ax.axhline(t, color="grey", linestyle="--", linewidth=0.8)
        xy, xycoords = (1, t), ("axes fraction", "data")
    else:
        ax.hlines(t, x0, x1, color="grey", linestyle="--", linewidth=0.9)
        xy, xycoords = (x1, t), "data"
    ax.annotate(f"target {t:g} Hz", xy=xy, xycoords=xycoords, xytext=(-2, 3),
                textcoords="offset points", ha="right", fontsize=7, color="dimgrey")  # fmt: skip


def hz_over_time(runs: list[RunData], out: Path, late: Late, order: list[str] | None = None):
    """Each late event as a point (its loop rate, its time): between them the loop ran at
    its target, so no line joins them as if the rate had sagged there."""
    words = late.words
    series = [(r, *_warned(r)) for r in _drawn(runs, late, order)]
    series = [s for s in series if len(s[1])]
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(8, 4))
    colors = {n: f"C{i % 10}" for i, n in enumerate(dict.fromkeys(s[0].experiment for s in series))}
    markers = "os^Dvx*"
    seen: dict[str, int] = {}
    for run, secs, hz in series:
        seen[run.experiment] = seen.get(run.experiment, 0) + 1
        n = seen[run.experiment]
        ax.scatter(secs, hz, s=14, color=colors[run.experiment], marker=markers[(n - 1) % 7],
                   alpha=0.8, label=f"{run.experiment} #{n}")  # fmt: skip
    targets = {t for r, _, _ in series if (t := target_hz(r)) is not None}
    for t in sorted(targets):
        _target_line(ax, t)
    top = max([*targets, *(s[2].max() for s in series)])
    ax.set_ylim(0, top * 1.12)
    ax.set_xlabel("seconds since the recording started")
    ax.set_ylabel(f"loop rate at {words.at} (Hz)")
    ax.set_title(f"{_capital(words.full)} over time (one point each; at its target in between)")
    if len(series) <= 12:
        ax.legend(fontsize=7, ncol=3, loc="lower right")
    _save(fig, out / "hz-over-time.png")
    low = min(series, key=lambda s: s[2].min())
    total = sum(len(s[1]) for s in series)
    return Figure(
        "hz-over-time.png",
        f"{_capital(words.full)} over time",
        f"Scatter of {total} {words.full} from {len(series)} runs, each at the loop rate "
        f"it reported against the time it came (targets: "
        f"{', '.join(f'{t:g} Hz' for t in sorted(targets)) or 'unknown'}); "
        f"the lowest is {low[2].min():.1f} Hz in {low[0].experiment} at "
        f"{low[1][low[2].argmin()]:.0f} s",
    )


def cpu_heatmaps(runs: list[RunData], order: list[str], out: Path, late: Late):
    """Per experiment, the run with the most late events: cores x time on one shared time
    axis, late events as lines (only those inside the sampled span)."""
    words, count = late.words, late.count
    picked = []
    for name in order:
        # runs with CPU samples, most warnings first; only the one drawn is read
        mine = [
            r for r in runs if r.experiment == name and r.metrics.get("cpu_mean_pct") is not None
        ]
        for run in sorted(mine, key=lambda r: -((count and r.metrics.get(count)) or 0)):
            if run.teg is not None and len(run.teg) and core_loads(run.teg).shape[1]:
                picked.append(run)
                break
    picked = picked[:MAX_HEATMAPS]
    if not picked:
        return None
    fig, axes = plt.subplots(
        len(picked),
        1,
        figsize=(8, 1.4 + 1.5 * len(picked)),
        squeeze=False,
        sharex=True,
        layout="constrained",
    )
    image, longest = None, 1.0
    for ax, run in zip(axes[:, 0], picked, strict=True):
        loads = core_loads(run.teg).to_numpy(dtype=float).T
        times = run.teg["time"]
        t0 = times.dropna().min() if times.notna().any() else None
        span = (times.dropna().max() - t0).total_seconds() if t0 is not None else loads.shape[1] - 1
        span = max(span, 1.0)
        longest = max(longest, span)
        image = ax.imshow(
            np.ma.masked_invalid(loads),
            aspect="auto",
            cmap="magma",
            vmin=0,
            vmax=100,
            extent=(0, span, loads.shape[0] - 0.5, -0.5),
            interpolation="nearest",
        )
        events = workload_of(run.manifest).late_events(run.events)
        if t0 is not None and events is not None:
            slow = events["time"].dropna()
            secs = (slow - t0).dt.total_seconds().to_numpy()
            # a warning before the first sample has no load beside it; one collection of
            # lines, not one artist per warning (an hour-long run warns hundreds of times)
            ax.vlines(secs[(secs >= 0) & (secs <= span)], 0, 1, color="cyan", linewidth=0.9,
                      transform=ax.get_xaxis_transform())  # fmt: skip
        ncores = loads.shape[0]
        step = max(1, int(np.ceil(ncores / 8)))
        ax.set_yticks(range(0, ncores, step))
        ax.set_ylabel("core", fontsize=8)
        ax.set_title(
            f"{run.experiment} — run {run.dir.name} ({late.count_text(_counted(run, count))})",
            fontsize=8,
            loc="left",
        )
        ax.tick_params(labelsize=7)
    axes[0, 0].set_xlim(0, longest)
    axes[-1, 0].set_xlabel(f"seconds since the first sample (cyan lines: {words.full})")
    fig.colorbar(image, ax=axes[:, 0].tolist(), label="core load %", shrink=0.8)
    fig.suptitle("Per-core CPU load, one run per experiment")
    fig.savefig(out / "cpu-heatmap.png", dpi=100)
    plt.close(fig)
    parts = [
        f"{r.experiment} ({r.dir.name}) peak {r.metrics.get('cpu_peak_pct') or 0:.0f}% / mean "
        f"{r.metrics.get('cpu_mean_pct') or 0:.0f}%, {late.count_text(_counted(r, count))}"
        for r in picked
    ]
    return Figure(
        "cpu-heatmap.png",
        f"Per-core CPU load with {words.many} marked",
        f"Heatmap of per-core CPU load over time with {words.full} as vertical lines: "
        + "; ".join(parts),
    )


def _counted(run: RunData, count: str | None):
    return run.metrics.get(count) if count else None


def hz_distribution(runs: list[RunData], order: list[str], out: Path, late: Late):
    """Late events' rates per experiment against its target: a box over two runs or more; with
    one run, its points alone (a box would claim a spread one run cannot show). Every
    run's rates are held as counts; one experiment's are spread out at a time for its box,
    and the dots, when few, are read again in the runs' order."""
    data = []
    for name in order:
        mine = [r for r in runs if r.experiment == name]
        rates = [_rates(r) for r in mine]
        merged = WarnedRates.merged(rates)
        if merged.total:
            targets = {t for r in mine if (t := target_hz(r)) is not None}
            target = targets.pop() if len(targets) == 1 else None
            warned_runs = [r for r, w in zip(mine, rates, strict=True) if w.total]
            data.append((name, merged, warned_runs, target))
    if not data:
        return None
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(data) + 2), 3.8))
    for i, (_, merged, warned_runs, _) in enumerate(data, start=1):
        if len(warned_runs) >= 2:
            ax.boxplot([merged.expanded()], positions=[i], whis=(0, 100), widths=0.5,
                       showfliers=False)  # fmt: skip
    for i, (_, merged, warned_runs, target) in enumerate(data, start=1):
        if merged.total <= MAX_POINTS:  # beyond, the box alone: thousands of dots say no more
            hz = np.concatenate([_warned(r)[1] for r in warned_runs])
            jitter = np.linspace(-0.12, 0.12, len(hz)) if len(hz) > 1 else np.zeros(1)
            ax.scatter(i + jitter, hz, s=10, color="#dd8452", zorder=3)
        if target is not None:
            _target_line(ax, target, i - 0.4, i + 0.4, coords="data")
    ax.set_xticks(range(1, len(data) + 1), [d[0] for d in data])
    ax.set_xlim(0.4, len(data) + 0.6)
    top = max([d[1].hz.max() for d in data] + [d[3] for d in data if d[3] is not None])
    ax.set_ylim(0, top * 1.15)
    words = late.words
    ax.set_ylabel(f"loop rate at {words.at} (Hz)")
    ax.set_title(f"{_capital(words.warned)} loop rates per experiment, against its target")
    _save(fig, out / "hz-distribution.png")
    parts = []
    for n, merged, warned_runs, target in data:
        h, k = merged.hz, len(warned_runs)
        at = f" (target {target:g} Hz)" if target is not None else ""
        runs_ = f"{k} run{'s' if k != 1 else ''}"
        if merged.total == 1:
            parts.append(f"{n}{at} 1 {words.one} at {h[0]:.1f} Hz")
        else:
            parts.append(
                f"{n}{at} {merged.total} {words.many} from {runs_}, {h.min():.1f}–{h.max():.1f} Hz"
            )
    return Figure(
        "hz-distribution.png",
        f"Distribution of {words.warned} loop rates",
        f"{_capital(words.warned)} loop rates per experiment (a box over two runs or more, "
        "else points): " + "; ".join(parts),
    )


def draw_all(rows, runs: list[RunData], order: list[str], out: Path, late: Late) -> list[Figure]:
    """Every figure that has something to show (see ``figure_notes`` for the others)."""
    figures = [
        warnings_per_experiment(rows, runs, out, late),
        hz_over_time(runs, out, late, order),
        cpu_heatmaps(runs, order, out, late),
        hz_distribution(runs, order, out, late),
    ]
    return [f for f in figures if f is not None]


def figure_notes(rows: list[dict[str, Any]], figures: list[Figure], late: Late) -> list[str]:
    """Why an expected figure is missing, in words, so the reader is not left guessing."""
    drawn = {f.file for f in figures}
    many = late.words.many
    rated = [r for r in rows if r.get(late.rate) is not None]
    notes = []
    if rated and not any(r[late.rate] for r in rated):
        notes.append(
            f"No {many} in any run ({sum(r['runs'] for r in rated)} runs): no {many}, "
            "loop-rate or rate-distribution figure to draw."
        )
    if "cpu-heatmap.png" not in drawn:
        notes.append("No run has tegrastats samples: no per-core CPU figure.")
    return notes
