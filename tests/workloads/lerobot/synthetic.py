"""Small record logs written here, with values checkable by hand."""

from __future__ import annotations

import pandas as pd

from labkit.workloads.lerobot.log import read_record_log

PREFIX = "2026-09-01 14:02:{:02d}"


def record_log(warnings: list[tuple[int, float]], codec: str = "h264_nvenc") -> pd.DataFrame:
    """Episode 0 from second 0 to 30, slow-loop warnings at (second, Hz)."""
    lines = [
        f"INFO {PREFIX.format(0)} gs/video.py:186 Auto-selected video codec: {codec}",
        f"INFO {PREFIX.format(0)} ls/utils.py:147 Recording episode 0",
    ]
    for sec, hz in warnings:
        lines.append(
            f"WARNING {PREFIX.format(sec)} t_record.py:352 Record loop is running slower "
            f"({hz} Hz) than the target FPS (30 Hz)."
        )
    lines.append(f"INFO {PREFIX.format(30)} ls/utils.py:147 Stop recording")
    return read_record_log(lines)
