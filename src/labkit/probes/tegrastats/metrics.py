"""The tegrastats probe's metrics: CPU load and saturation, RAM, temperature, input power,
NVENC, and how often the workload's late events came with saturated cores.

Each number traces back to lines of ``tegrastats.log``; one the samples cannot give is
left out (never a guess). Declared here; computed by ``compute`` (which needs pandas).
"""

from __future__ import annotations

from labkit.core.metrics import ANY, NON_NEGATIVE, PCT_OF_ALL, Metric, declared

SOURCE = "tegrastats"


METRICS: dict[str, Metric] = declared(
    SOURCE,
    Metric(
        "cpu_peak_pct",
        "highest single-core load seen",
        unit="%",
        aggregate="max",
        domain=PCT_OF_ALL,
    ),
    Metric("cpu_mean_pct", "mean load across all cores and samples", unit="%", domain=PCT_OF_ALL),
    Metric(
        "any_core_saturated_share",
        "share of samples with at least one core >= 90 %",
        kind="share",
    ),
    Metric(
        "all_cores_saturated_share",
        "share of samples with every online core >= 90 %",
        kind="share",
    ),
    Metric(
        "warnings_single_core_saturated_share",
        "share of late events (LeRobot: slow-loop warnings) within one sample of a "
        "sample where some core is >= 90 %",
        kind="share",
        per_warning=True,
    ),
    Metric(
        "warnings_all_cores_saturated_share",
        "share of late events (LeRobot: slow-loop warnings) within one sample of a "
        "sample where every core is >= 90 %",
        kind="share",
        per_warning=True,
    ),
    Metric("ram_used_mb_max", "peak RAM used", unit="MB", aggregate="max", domain=NON_NEGATIVE),
    Metric(
        "temp_max_c", "hottest temperature reading", unit="C", aggregate="max", domain=ANY
    ),  # °C: below 0 on a cold board
    Metric("power_in_mean_mw", "mean input power", unit="mW", domain=NON_NEGATIVE),
    Metric(
        "nvenc_active",
        "true when tegrastats shows NVENC load or clock while recording",
        kind="flag",
        aggregate="categorical",
    ),
)
