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

from dataclasses import replace

from labkit.core.metrics import Aggregate, Kind, Metric

# the count each per-minute rate is the rate of (a command event's ``<e>_per_min`` is the
# rate of ``<e>_count``; LeRobot's ``warnings_per_min`` of ``warnings``)
_COUNT_OF = {"warnings_per_min": "warnings"}
_COUNTS = {"warnings", "episodes", "queue_full_drops", "dropped_frames", "errors"}
_FLAGS = {"hw_codec", "nvenc_active"}
_CATEGORIES = {"codec", "warn_camera_top"}
_LOWER_BETTER = {"warnings", "warnings_per_min", "queue_full_drops", "dropped_frames", "errors"}
_HIGHER_BETTER = {"min_hz", "p5_hz", "median_hz"}


def _kind(name: str, unit: str) -> Kind:
    """What a metric measures, from the conventions of its name (until each plug-in
    declares its own)."""
    if name in _CATEGORIES:
        return "category"
    if name in _FLAGS:
        return "flag"
    if name in _COUNTS or name.endswith("_count"):
        return "count"
    if name.endswith("_per_min"):
        return "rate"
    if "_share" in name:
        return "share"
    if name.endswith("_hz") or unit == "Hz":
        return "frequency"
    if "_ms" in name or unit in ("ms", "s"):
        return "duration"
    return "value"


_UNITS = {
    "duration_s": "s",
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
        count_of = _COUNT_OF.get(name)
        if count_of is None and name.endswith("_per_min") and f"{name[:-8]}_count" in names:
            count_of = f"{name[:-8]}_count"
        better = "lower" if name in _LOWER_BETTER or name.endswith(("_count", "_per_min")) else None
        better = "higher" if name in _HIGHER_BETTER else better
        out[name] = Metric(
            name, desc, unit, aggregate, per_warning, source,
            kind=_kind(name, unit), better=better, count_of=count_of,
        )  # fmt: skip
    return out


def workload_metrics(workload) -> dict[str, Metric]:
    """A workload's metrics: its own declarations (``declared``: gstreamer) when it has
    them, else inferred from their names."""
    declared = getattr(workload, "declared", None)
    if declared:
        return dict(declared)
    out = _entries(workload.metrics, workload.kind)
    for name, unit in (getattr(workload, "units", None) or {}).items():  # a command's events
        if name in out:
            out[name] = replace(out[name], unit=unit, kind=_kind(name, unit))
    return out


def probe_metrics(probe_cls, cameras: list[str] = ()) -> dict[str, Metric]:
    """A probe's metrics; its per-camera ones (``metric_patterns``: prefix -> description)
    once per camera name, ``camera_read_ms_p95_right_wrist``; a probe's own declarations
    (``declared``: runq) when it has them."""
    declared = getattr(probe_cls, "declared", None)
    if declared:
        return dict(declared)
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
