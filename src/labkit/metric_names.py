"""The metric registry: every per-run metric a hypothesis check may use, as its plug-in
declares it (``labkit.core.metrics.Metric``: unit, kind, how runs combine, which way is
better).

Metrics come from the workload kind (``labkit.workloads``) and the probes
(``labkit.probes``) a playbook uses; ``metrics_for`` gives a playbook's set, which the
playbook validator checks hypothesis metrics against. ``REGISTRY`` (``METRICS``,
``PER_WARNING``) is the built-in set (the default kind -- lerobot-record -- and the
default probes: tegrastats), in the order of the report's columns. Nothing here is
inferred from a name: each declaration is the plug-in's.
"""

from __future__ import annotations

from dataclasses import replace

from labkit.core.metrics import Metric
from labkit.probes import Probe
from labkit.registry import DEFAULT_KIND, DEFAULT_PROBES, get_probe, get_workload
from labkit.workloads import Workload


def workload_metrics(workload: Workload) -> dict[str, Metric]:
    return dict(workload.metrics)


def probe_metrics(
    probe_cls: type[Probe], devices: list[str] = (), stages: tuple[str, ...] = ()
) -> dict[str, Metric]:
    """A probe's metrics; its per-device ones (``metric_patterns``) once per device name,
    ``camera_read_ms_p95_right_wrist``, and its per-stage ones (``stage_patterns``) once
    per stage of the workload's stage map, ``warn_stage_share_camera_read``."""
    out = _expanded(probe_cls.stage_patterns, stages)  # the stages first: the loop's story
    out.update(probe_cls.metrics)
    out.update(_expanded(probe_cls.metric_patterns, devices))
    return out


def _expanded(patterns: dict[str, Metric], names: tuple[str, ...] | list[str]) -> dict:
    """Each pattern's declaration copied once per name (``prefix`` + name)."""
    return {f"{p}{name}": _copy(t, p, name) for p, t in patterns.items() for name in names}


def _copy(template: Metric, prefix: str, rest: str) -> Metric:
    """``template`` declared for one device, stage or thread: ``prefix`` + ``rest``."""
    return replace(template, name=f"{prefix}{rest}", description=f"{template.description} ({rest})")


def family_metric(families: dict[str, Metric], name: str) -> Metric | None:
    """``name``'s declaration if it belongs to one of ``families`` (a prefix and a
    non-empty rest), else None."""
    for prefix, template in families.items():
        if name.startswith(prefix) and len(name) > len(prefix):
            return _copy(template, prefix, name[len(prefix) :])
    return None


def families_for(probes: list[str]) -> dict[str, Metric]:
    """The metric families of these probes (prefix -> declaration)."""
    out: dict[str, Metric] = {}
    for name in probes:
        out.update(get_probe(name).metric_families)
    return out


def metrics_for(
    workload: Workload, probes: list[str], cameras: list[str] = ()
) -> dict[str, Metric]:
    """The metrics a playbook's runs have: its workload's and its probes' (in that order),
    without those only a stage map gives when the workload declares none; ``cameras``: the
    camera names its experiments record, for per-camera metrics; per stage, the stages of
    the workload's stage map."""
    out = workload_metrics(workload)
    stages = workload.stage_map.stages if workload.stage_map is not None else ()
    for name in probes:
        out.update(probe_metrics(get_probe(name), cameras, stages))
    if workload.stage_map is None:  # what only a stage map gives is never computed
        out = {n: m for n, m in out.items() if not m.needs_stages}
    return out


REGISTRY: dict[str, Metric] = metrics_for(get_workload(DEFAULT_KIND)(), DEFAULT_PROBES)
METRICS: dict[str, str] = {m.name: m.description for m in REGISTRY.values()}
# metrics that describe the warnings themselves: on a run without any, they do not apply
# (a check skips such runs instead of calling the metric unknown)
PER_WARNING = frozenset(m.name for m in REGISTRY.values() if m.per_warning)

__all__ = [
    "METRICS",
    "PER_WARNING",
    "REGISTRY",
    "Metric",
    "families_for",
    "family_metric",
    "metrics_for",
    "probe_metrics",
]
