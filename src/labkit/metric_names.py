"""The metric registry: every per-run metric a hypothesis check may use, with its
description, unit, how runs of one experiment combine, and whether it describes the
warnings themselves (then a run without any has nothing to say about it).

Metrics come from the workload kind (``labkit.workloads``) and the probes
(``labkit.probes``) a playbook uses; ``metrics_for`` gives a playbook's set, which the
playbook validator checks hypothesis metrics against. ``METRICS`` and ``PER_WARNING`` are
the built-in set (lerobot-record + tegrastats), in the order of the report's columns.
Kept apart from the analysis code so the playbook validator (upstream) can reject an
unknown metric without importing the analysis (downstream).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Aggregate = Literal["mean", "min", "max", "categorical"]


@dataclass(frozen=True)
class Metric:
    name: str
    description: str
    unit: str = ""
    # how the runs of one experiment combine: mean over runs, the lowest, the highest,
    # or one value (else "mixed: ...")
    aggregate: Aggregate = "mean"
    # describes warnings: runs without warnings are left out instead of counting as unknown
    per_warning: bool = False
    source: str = ""  # the workload kind or probe that computes it


_UNITS = {
    "warnings_per_min": "1/min",
    "min_hz": "Hz",
    "p5_hz": "Hz",
    "median_hz": "Hz",
    "cpu_peak_pct": "%",
    "cpu_mean_pct": "%",
    "ram_used_mb_max": "MB",
    "temp_max_c": "C",
    "power_in_mean_mw": "mW",
}
_AGGREGATE: dict[str, Aggregate] = {
    "min_hz": "min",
    "cpu_peak_pct": "max",
    "ram_used_mb_max": "max",
    "temp_max_c": "max",
    "codec": "categorical",
    "hw_codec": "categorical",
    "nvenc_active": "categorical",
}
_PER_WARNING = {
    "warnings_single_thread_saturated_share",
    "warnings_matched_share",
    "min_hz",
    "p5_hz",
    "median_hz",
    "warnings_single_core_saturated_share",
    "warnings_all_cores_saturated_share",
}


def _entries(names: dict[str, str], source: str) -> dict[str, Metric]:
    out = {}
    for name, desc in names.items():
        unit = _UNITS.get(name, "")
        aggregate = _AGGREGATE.get(name, "mean")
        if name.endswith("_per_min"):
            unit = unit or "1/min"
        if (
            source not in ("lerobot-record", "tegrastats")
            and name.endswith("_min")
            and not name.endswith("_per_min")
        ):
            aggregate = "min"
        if source not in ("lerobot-record", "tegrastats") and name.endswith("_max"):
            aggregate = "max"
        per_warning = name in _PER_WARNING or name.startswith("warn_")  # warn_stage_share_*
        if name == "warn_camera_top":
            aggregate = "categorical"
        out[name] = Metric(name, desc, unit, aggregate, per_warning, source)
    return out


def workload_metrics(workload) -> dict[str, Metric]:
    return _entries(workload.metrics, workload.kind)


def probe_metrics(probe_cls, cameras: list[str] = ()) -> dict[str, Metric]:
    """A probe's metrics; its per-camera ones (``metric_patterns``: prefix -> description)
    once per camera name, ``camera_read_ms_p95_right_wrist``."""
    names = dict(probe_cls.metrics)
    for prefix, desc in getattr(probe_cls, "metric_patterns", {}).items():
        for cam in cameras:
            names[f"{prefix}{cam}"] = f"{desc} ({cam})"
    return _entries(names, probe_cls.name)


def metrics_for(workload, probes: list[str], cameras: list[str] = ()) -> dict[str, Metric]:
    """The metrics a playbook's runs have: its workload's and its probes' (in that order);
    ``cameras``: the camera names its experiments record, for per-camera metrics."""
    from labkit.probes import get_probe

    out = dict(workload_metrics(workload))
    for name in probes:
        out.update(probe_metrics(get_probe(name), cameras))
    return out


def _builtin() -> dict[str, Metric]:
    from labkit.probes.tegrastats import Tegrastats
    from labkit.workloads.lerobot_record import LerobotRecord

    return {**workload_metrics(LerobotRecord()), **probe_metrics(Tegrastats)}


REGISTRY: dict[str, Metric] = _builtin()
METRICS: dict[str, str] = {m.name: m.description for m in REGISTRY.values()}
# metrics that describe the warnings themselves: on a run without any, they do not apply
# (a check skips such runs instead of calling the metric unknown)
PER_WARNING = frozenset(m.name for m in REGISTRY.values() if m.per_warning)
