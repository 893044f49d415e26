"""What each tested change did, measured against the baseline experiment, and ranked.

An experiment differs from the baseline by its parameters and settings (read from the run
manifests, so a ``--set`` override counts). Its effect is the relative change of slow-loop
warnings per minute; the root-cause section ranks changes by it and the recommendation is
the tested configuration with the fewest warnings per minute (ties: the higher floor
relative to its target).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

from labkit.analysis.metrics import relative_change
from labkit.playbook import Playbook

CONTRIBUTING = 0.2  # a change that cuts warnings by at least this much contributes
VOLATILE = ("dataset.repo_id", "dataset.root", "dataset.single_task")


def baseline_of(playbook: Playbook) -> str:
    """The experiment the hypotheses compare against most often, else the first one."""
    named = Counter(c.baseline for h in playbook.model.hypotheses for c in h.checks if c.baseline)
    return named.most_common(1)[0][0] if named else next(iter(playbook.experiments))


def config_of(manifest: dict[str, Any]) -> dict[str, Any]:
    """Parameters and settings that define a run's configuration (not its dataset name)."""
    params = {k: v for k, v in (manifest.get("params") or {}).items() if k not in VOLATILE}
    settings = {
        k if k.startswith("settings.") else f"settings.{k}": v
        for k, v in (manifest.get("settings") or {}).items()
        if not k.startswith("monitor.") and v not in (None, {})
    }
    return {**params, **settings}


def _show(value: Any) -> str:
    if isinstance(value, list):
        return str(len(value))
    if isinstance(value, bool):
        return "on" if value else "off"
    return "unset" if value is None else str(value)


def describe_change(key: str, before: Any, after: Any) -> str:
    """``lowering dataset.fps 30→20``, ``turning dataset.streaming_encoding off``, ..."""
    if isinstance(after, bool) and isinstance(before, bool):
        return f"turning {key} {_show(after)}"
    if isinstance(before, list) and isinstance(after, list):
        verb = "fewer" if len(after) < len(before) else "more"
        return f"{verb} {key} {len(before)}→{len(after)}"
    numeric = isinstance(before, int | float) and isinstance(after, int | float)
    if numeric:
        verb = "lowering" if after < before else "raising"
        return f"{verb} {key} {before:g}→{after:g}"
    if before is None:
        return f"setting {key}={_show(after)}"
    return f"changing {key} {_show(before)}→{_show(after)}"


def diff(base: dict[str, Any], other: dict[str, Any]) -> list[str]:
    keys = [k for k in {**base, **other} if base.get(k) != other.get(k)]
    return [describe_change(k, base.get(k), other.get(k)) for k in keys]


@dataclass
class Effect:
    """One experiment against the baseline: its changes and what they did."""

    experiment: str
    changes: list[str]
    runs: int
    base_rate: float
    rate: float
    base_min_hz: float | None
    min_hz: float | None
    target_hz: float | None
    overlap: bool = False
    rank: str = ""  # primary | contributing | not primary

    @property
    def relative(self) -> float:
        return relative_change(self.base_rate, self.rate)

    @property
    def change_text(self) -> str:
        return " and ".join(self.changes) if self.changes else "no configuration change"

    def sentence(self) -> str:
        rel = self.relative
        if math.isinf(rel):
            moved = "raised warnings per minute from none"
        elif abs(rel) < 0.005:
            moved = "left warnings per minute unchanged"
        else:
            moved = f"{'cut' if rel < 0 else 'raised'} warnings per minute by {abs(rel):.0%}"
        rates = f"{self.base_rate:.3g} → {self.rate:.3g}/min"
        text = f"{self.change_text} ({self.experiment}) {moved} ({rates}"
        if self.min_hz is not None and self.base_min_hz is not None:
            text += f"; lowest warned rate {self.base_min_hz:.1f} → {self.min_hz:.1f} Hz"
        text += ")"
        if self.overlap:
            text += "; the repeats overlap, so this is within run-to-run noise"
        return text


def effects(rows: list[dict[str, Any]], configs: dict[str, dict], baseline: str) -> list[Effect]:
    """Every experiment with runs against ``baseline``, best (largest cut) first."""
    by = {r["experiment"]: r for r in rows}
    base = by.get(baseline)
    if base is None or base.get("warnings_per_min") is None:
        return []
    out = []
    for name, row in by.items():
        if name == baseline or row.get("warnings_per_min") is None:
            continue
        eff = Effect(
            experiment=name,
            changes=diff(configs.get(baseline, {}), configs.get(name, {})),
            runs=row["runs"],
            base_rate=base["warnings_per_min"],
            rate=row["warnings_per_min"],
            base_min_hz=base.get("min_hz"),
            min_hz=row.get("min_hz"),
            target_hz=row.get("target_hz"),
        )
        lo, hi = row.get("warnings_per_min_lo"), row.get("warnings_per_min_hi")
        blo, bhi = base.get("warnings_per_min_lo"), base.get("warnings_per_min_hi")
        if None not in (lo, hi, blo, bhi):
            eff.overlap = lo <= bhi and blo <= hi
        out.append(eff)
    out.sort(key=lambda e: (e.relative, -(e.min_hz or 0)))
    primary_taken = False
    for e in out:
        cut = -e.relative
        if cut >= CONTRIBUTING and not e.overlap and not primary_taken:
            e.rank, primary_taken = "primary", True
        elif cut >= CONTRIBUTING and not e.overlap:
            e.rank = "contributing"
        else:
            e.rank = "not primary"
    return out


def best(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The tested configuration with the fewest warnings per minute (then the best floor)."""
    rated = [r for r in rows if r.get("warnings_per_min") is not None]
    if not rated:
        return None

    def floor_share(r: dict[str, Any]) -> float:
        if not r.get("warnings"):
            return 1.0
        if r.get("min_hz") is None or not r.get("target_hz"):
            return 0.0
        return r["min_hz"] / r["target_hz"]

    return min(rated, key=lambda r: (r["warnings_per_min"], -floor_share(r), -r["runs"]))
