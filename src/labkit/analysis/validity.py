"""Threats to validity: what could make the report's comparisons wrong, computed per run.

Each threat names the runs it concerns, so a reader can re-run or discard them:

- single runs: a configuration measured once has no spread; its comparisons rest on a
  point estimate;
- thermal throttling: a busy core (>= 90 %) clocked well below the maximum the host was
  configured for (not judged on runs that set nvpmodel or jetson_clocks themselves: the
  facts hold the maximum from before), or temperatures near the throttle point;
- settings drift: the host's governor, clocks or power mode after a run differ from before
  it (labkit puts back what it changes, so a difference is someone else's);
- background load: processes other than labkit's busy on the host when the run started;
- order effects: within batches, the per-run metric trends with the run's position
  (Spearman's rank correlation, ``scipy.stats.spearmanr``, on deviations from each
  configuration's mean);
- imported runs without facts: nothing is known of the host they were recorded on;
- settings on a simulated host: a workload the simulator does not play
  (``Workload.simulated``) does not feel the simulator's governor or power mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from labkit.analysis.clocks import SLOW_BUSY
from labkit.analysis.clocks import slow_busy_share as busy_share_of
from labkit.analysis.configs import Group, repeat_command, set_args
from labkit.analysis.runs import RunData
from labkit.registry import workload_class_of, workload_of
from labkit.workloads import Workload

SLOW_SHARE = 0.1  # ... in at least this share of its busy samples
HOT_C = 90.0  # Jetson CPUs start throttling near 95-100 C; closer than this is a threat
BACKGROUND_PCT = 10.0  # one other process using at least this much CPU
ORDER_MIN_RUNS = 6


@dataclass
class Threat:
    kind: str  # single-run | thermal | settings-drift | background-load | order | no-facts
    title: str
    detail: str
    runs: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "title": self.title, "detail": self.detail, "runs": self.runs}


def _single(groups: list[Group]) -> Threat | None:
    lone = [g for g in groups if len(g.runs) == 1]
    if not lone:
        return None
    names = ", ".join(f"`{g.label}`" for g in lone)
    # one batch per configuration: the experiments measured once, with their --set values
    by_sets: dict[str, tuple[list[str], dict[str, Any]]] = {}
    for g in lone:
        sets = g.reproduce_sets
        mine = by_sets.setdefault(set_args(sets), ([], sets))[0]
        if g.experiment not in mine:
            mine.append(g.experiment)
    commands = "; ".join(f"`{repeat_command(n, sets)}`" for n, sets in by_sets.values())
    return Threat(
        "single-run",
        "Single runs",
        f"{names} {'was' if len(lone) == 1 else 'were'} measured once: no spread, so their "
        f"comparisons rest on point estimates ({commands} to confirm)",
        [g.runs[0].dir.name for g in lone],
    )


def slow_busy_share(run: RunData) -> float | None:
    """Share of busy-core samples whose clock is below 90 % of the configured maximum:
    stored with the run's metrics, else from its samples."""
    if SLOW_BUSY in run.metrics:
        return run.metrics[SLOW_BUSY]
    return busy_share_of(run.teg, run.manifest)


def _thermal(runs: list[RunData]) -> Threat | None:
    hit, parts = [], []
    for r in runs:
        share = slow_busy_share(r)
        temp = r.metrics.get("temp_max_c")
        why = []
        if share is not None and share >= SLOW_SHARE:
            why.append(f"{share:.0%} of busy-core samples below 90 % of the configured clock")
        if temp is not None and temp >= HOT_C:
            why.append(f"{temp:.0f} °C")
        if why:
            hit.append(r.dir.name)
            parts.append(f"{r.experiment} {r.dir.name}: {', '.join(why)}")
    if not hit:
        return None
    return Threat("thermal", "Thermal throttling", _some(parts), hit)


def _settings(facts: dict[str, Any] | None) -> dict[str, Any]:
    """The host state a run must leave as it found it."""
    facts = facts or {}
    cpus = (facts.get("cpu") or {}).get("cpus") or {}
    out: dict[str, Any] = {"nvpmodel": (facts.get("nvpmodel") or {}).get("name")}
    for i, c in cpus.items():
        if isinstance(c, dict):
            out[f"cpu{i} governor"] = c.get("governor")
            out[f"cpu{i} min"] = c.get("min_khz")
            out[f"cpu{i} max"] = c.get("max_khz")
            out[f"cpu{i} online"] = c.get("online")
    return out


def _drift(runs: list[RunData]) -> Threat | None:
    hit, parts = [], []
    for r in runs:
        before, after = r.manifest.facts, r.manifest.facts_after
        if not before or not after:
            continue
        a, b = _settings(before), _settings(after)
        changed = [f"{k} {a.get(k)}→{b.get(k)}" for k in sorted({**a, **b}) if a.get(k) != b.get(k)]
        if changed:
            hit.append(r.dir.name)
            shown = ", ".join(changed[:4]) + (", …" if len(changed) > 4 else "")
            parts.append(f"{r.experiment} {r.dir.name}: {shown}")
    if not hit:
        return None
    return Threat(
        "settings-drift",
        "Settings drift",
        "the host's state after the run differs from before it: " + _some(parts),
        hit,
    )


def _background(runs: list[RunData]) -> Threat | None:
    hit, parts = [], []
    for r in runs:
        procs = (r.manifest.facts or {}).get("top_processes") or []
        busy = [
            p for p in procs if isinstance(p, dict) and (p.get("cpu_pct") or 0) >= BACKGROUND_PCT
        ]
        if busy:
            hit.append(r.dir.name)
            shown = ", ".join(f"`{_short(p.get('command'))}` {p['cpu_pct']:.0f}%" for p in busy[:3])
            parts.append(f"{r.experiment} {r.dir.name}: {shown}")
    if not hit:
        return None
    return Threat(
        "background-load",
        "Background load",
        f"other processes used ≥ {BACKGROUND_PCT:.0f} % CPU when the run started: " + _some(parts),
        hit,
    )


def _short(command: object, width: int = 48) -> str:
    """A process's command line for a sentence: program name, arguments cut to fit."""
    words = str(command or "?").split()
    text = " ".join([words[0].rsplit("/", 1)[-1], *words[1:]]) if words else "?"
    return text if len(text) <= width else text[: width - 1] + "…"


def _some(parts: list[str], limit: int = 5) -> str:
    more = f"; … and {len(parts) - limit} more runs" if len(parts) > limit else ""
    return "; ".join(parts[:limit]) + more


def _order_metric(run: RunData) -> str | None:
    """The metric order effects are looked for on: the first that says how well the run's
    workload ran (``Workload.headline``: LeRobot's warnings per minute)."""
    kind = workload_class_of(run.manifest)
    if kind is Workload:  # a kind no longer registered
        return None
    names = workload_of(run.manifest).headline_metrics()
    return names[0] if names else None


def _order(groups: list[Group]) -> Threat | None:
    """Does the metric drift with the run's position in its batch?"""
    pos, dev, ids, names = [], [], [], set()
    for g in groups:
        metric = _order_metric(g.runs[0]) if g.runs else None
        rated = [
            r
            for r in g.runs
            if metric is not None
            and r.metrics.get(metric) is not None
            and r.manifest.batch is not None
            and r.manifest.batch.index is not None
        ]
        if len(rated) < 2:
            continue
        names.add(metric)
        mean = float(np.mean([r.metrics[metric] for r in rated]))
        for r in rated:
            pos.append(r.manifest.batch.index)
            dev.append(r.metrics[metric] - mean)
            ids.append(r.dir.name)
    if len(pos) < ORDER_MIN_RUNS or len(set(pos)) < 2 or len(set(dev)) < 2:
        return None
    rho, p = stats.spearmanr(pos, dev)
    if not (p < 0.05):
        return None
    trend = "rise" if rho > 0 else "fall"
    return Threat(
        "order",
        "Order effects",
        f"{', '.join(sorted(names))} {trend}s with the run's position in its batch beyond each "
        f"configuration's mean (Spearman ρ={rho:.2f}, p={p:.2g}, {len(pos)} runs): later runs "
        "are not like earlier ones (warm-up, heat, filling disk); interleave or randomise "
        "the order (`invoke batch --order random`)",
        ids,
    )


def _no_facts(runs: list[RunData]) -> Threat | None:
    bare = [r for r in runs if r.manifest.imported and not r.manifest.facts]
    if not bare:
        return None
    return Threat(
        "no-facts",
        "Imported runs without facts",
        f"{len(bare)} imported run(s) carry no host facts: the board, power mode, governors "
        "and clocks they were recorded under are unknown",
        [r.dir.name for r in bare],
    )


HOST_SETTINGS = ("settings.cpu_governor", "settings.nvpmodel", "settings.jetson_clocks",
                 "settings.sysctl")  # fmt: skip


def _sim_settings(runs: list[RunData]) -> Threat | None:
    """On the simulated Jetson, host settings change the simulator's own files: only the
    workload it plays (``Workload.simulated``) reacts to them. Any other workload runs on
    this machine as it is, so a comparison of such settings there measures nothing."""
    hit = []
    for r in runs:
        conn = r.manifest.host.connection
        settings = r.manifest.settings
        if (
            "simulated" in conn
            and not workload_class_of(r.manifest).simulated
            and any(settings.get(k) not in (None, {}) for k in HOST_SETTINGS)
        ):
            hit.append(r.dir.name)
    if not hit:
        return None
    return Threat(
        "simulated-settings",
        "Settings on a simulated host",
        "these runs set host settings (governor, power mode, clocks, sysctl) on the simulated "
        "Jetson, which changes only the simulator's own files; the workload ran on this "
        "machine as it is, so differences between such configurations are noise, not the "
        "settings' effect: run them on a real board",
        hit,
    )


def threats(groups: list[Group], runs: list[RunData]) -> list[Threat]:
    """Every threat the runs show, in a fixed order."""
    found = [
        _single([g for g in groups if g.main] + [g for g in groups if not g.main]),
        _thermal(runs),
        _drift(runs),
        _background(runs),
        _order(groups),
        _no_facts(runs),
        _sim_settings(runs),
    ]
    return [t for t in found if t is not None]
