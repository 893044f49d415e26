"""Names of the per-run metrics a hypothesis check may use.

Kept apart from the analysis code so the playbook validator (upstream) can reject an
unknown metric without importing the analysis (downstream).
"""

METRICS: dict[str, str] = {
    "warnings": "slow-loop warnings in the run",
    "warnings_per_min": "slow-loop warnings per minute of recording",
    "min_hz": "lowest warned loop rate (Hz)",
    "p5_hz": "5th percentile of warned loop rates (Hz)",
    "median_hz": "median warned loop rate (Hz)",
    "episodes": "episodes recorded",
    "codec": "video codec the record log says was selected",
    "hw_codec": "true when the selected codec is a hardware encoder",
    "queue_full_drops": "frames dropped on a full encoder queue",
    "dropped_frames": "frames reported dropped at episode end",
    "errors": "error records in the log",
    "cpu_peak_pct": "highest single-core load seen",
    "cpu_mean_pct": "mean load across all cores and samples",
    "any_core_saturated_share": "share of samples with at least one core >= 90 %",
    "all_cores_saturated_share": "share of samples with every online core >= 90 %",
    "warnings_single_core_saturated_share": "share of warnings within one sample of a "
    "sample where some core is >= 90 %",
    "warnings_all_cores_saturated_share": "share of warnings within one sample of a "
    "sample where every core is >= 90 %",
    "ram_used_mb_max": "peak RAM used (MB)",
    "temp_max_c": "hottest temperature reading (C)",
    "power_in_mean_mw": "mean input power (mW)",
    "nvenc_active": "true when tegrastats shows NVENC load or clock while recording",
}

# metrics that describe the warnings themselves: on a run without any, they do not apply
# (a check skips such runs instead of calling the metric unknown)
PER_WARNING = frozenset(
    {
        "min_hz",
        "p5_hz",
        "median_hz",
        "warnings_single_core_saturated_share",
        "warnings_all_cores_saturated_share",
    }
)
