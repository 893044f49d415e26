"""The runq probe's log (``runq_sampler.py``) -> each thread's run-queue wait per interval.

Consecutive readings of one thread's ``schedstat`` give, over the interval between them,
the milliseconds it ran and the milliseconds it was runnable but waited for a CPU; their
share of the interval's wall time is what the metrics are made of.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


COLUMNS = ["time", "start", "pid", "tid", "name", "run_ms", "wait_ms", "wall_ms"]


def read_runq(path: Path) -> pd.DataFrame:
    """One row per thread and interval: ``time`` (end of the interval, naive local time of
    the target) and ``start``, ``pid``, ``tid``, ``name`` (the kernel's), ``run_ms``,
    ``wait_ms`` and ``wall_ms`` over it. ``attrs``: ``root_pid`` (the workload's own
    process), ``self_cpu_s`` (the sampler's CPU), ``span_s`` (its first to last sample)."""
    # on use: the run path loads this module without them (start-up)
    import numpy as np  # noqa: PLC0415
    import pandas as pd  # noqa: PLC0415 -- pandas off the run path: start-up

    root, offset, self_cpu = None, 0.0, None
    stamps, pids, tids, runs, waits, comms = [], [], [], [], [], []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            tag, _, rest = line.rstrip("\n").partition(" ")
            if tag == "S":
                parts = rest.split(" ", 5)
                try:
                    row = (float(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]),
                           int(parts[4]), parts[5])  # fmt: skip
                except (IndexError, ValueError):
                    continue  # a line cut by the end of the run
                for col, v in zip((stamps, pids, tids, runs, waits, comms), row, strict=True):
                    col.append(v)
            elif tag == "H":
                head = rest.split()
                with contextlib.suppress(IndexError, ValueError):
                    offset, root = float(head[1]), int(head[2])
            elif tag == "SELF":
                with contextlib.suppress(ValueError):
                    self_cpu = float(rest)
    raw = pd.DataFrame(
        {"t": stamps, "pid": pids, "tid": tids, "run": runs, "wait": waits, "comm": comms}
    )
    span = float(raw["t"].max() - raw["t"].min()) if len(raw) else 0.0
    if raw.empty:
        out = pd.DataFrame(columns=COLUMNS)
    else:
        raw = raw.sort_values(["tid", "t"], kind="stable")
        by = raw.groupby("tid")
        dt = by["t"].diff()
        local = (raw["t"] + offset) * 1e6
        out = pd.DataFrame(
            {
                "time": pd.to_datetime(local.round(), unit="us"),
                "start": pd.to_datetime((local - dt * 1e6).round(), unit="us"),
                "pid": raw["pid"],
                "tid": raw["tid"],
                "name": raw["comm"],
                "run_ms": by["run"].diff() / 1e6,
                "wait_ms": by["wait"].diff() / 1e6,
                "wall_ms": dt * 1e3,
            }
        )
        keep = (out["wall_ms"] > 0) & (out["run_ms"] >= 0) & (out["wait_ms"] >= 0)
        out = out[keep & np.isfinite(out["wall_ms"])].reset_index(drop=True)
    out.attrs.update(root_pid=root, self_cpu_s=self_cpu, span_s=span)
    return out
