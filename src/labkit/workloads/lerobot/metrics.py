"""LeRobot's per-run metrics, declared once: slow-loop warnings and their rate, the warned
loop rates, episodes, the codec and what the encoder dropped (computed from the parsed
record log by ``log_metrics``, which needs pandas; this module does not).
"""

from __future__ import annotations

from labkit.core.metrics import Metric, declared

SOURCE = "lerobot-record"


def _hz(name: str, description: str, aggregate: str = "mean", spread: bool = False) -> Metric:
    return Metric(
        name, description, unit="Hz", kind="frequency", better="higher",
        aggregate=aggregate, per_warning=True, spread=spread,
    )  # fmt: skip


METRICS: dict[str, Metric] = declared(
    SOURCE,
    Metric("warnings", "slow-loop warnings in the run", kind="count", better="lower", spread=True),
    Metric(
        "warnings_per_min",
        "slow-loop warnings per minute of recording",
        unit="1/min",
        kind="rate",
        better="lower",
        count_of="warnings",
        label="warnings per minute",
        spread=True,
    ),
    Metric(
        "duration_s",
        "seconds the workload recorded (the exposure of its counts)",
        unit="s",
        kind="duration",
        spread=True,
    ),
    _hz("min_hz", "lowest warned loop rate", aggregate="min", spread=True),
    _hz("p5_hz", "5th percentile of warned loop rates"),
    _hz("median_hz", "median warned loop rate"),
    Metric("episodes", "episodes recorded", kind="count"),
    Metric(
        "codec",
        "video codec the record log says was selected",
        kind="category",
        aggregate="categorical",
    ),
    Metric(
        "hw_codec",
        "true when the selected codec is a hardware encoder",
        kind="flag",
        aggregate="categorical",
    ),
    Metric(
        "queue_full_drops",
        "frames dropped on a full encoder queue",
        kind="count",
        better="lower",
    ),
    Metric(
        "dropped_frames",
        "frames reported dropped at episode end",
        kind="count",
        better="lower",
    ),
    Metric("errors", "error records in the log", kind="count", better="lower"),
)
