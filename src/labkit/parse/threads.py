"""The threads probe's log (``labkit.probes.threads_sampler``) -> per-thread CPU over time.

Each ``S`` line is one thread's cumulative CPU ticks at one moment; consecutive readings
of the same thread give its CPU share over that interval (percent of one core). ``N``
lines name Python threads (from py-spy), ``H`` gives the clock-tick rate, ``SELF`` the
sampler's own CPU seconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = ["time", "pid", "tid", "name", "cpu_pct", "cpu"]


def read_threads(path: Path) -> pd.DataFrame:
    """One row per thread and interval: ``time`` (end of the interval, naive local time
    of the target), ``pid``, ``tid``, ``name`` (Python's thread name when known, else the
    kernel's), ``cpu_pct`` over the interval, ``cpu`` it last ran on. ``attrs``: ``self_cpu_s``
    (the sampler's own CPU), ``hz``."""
    hz, names, self_cpu, utc_offset_s = 100.0, {}, None, 0.0
    stamps, pids, tids, ticks, cpus, comms = [], [], [], [], [], []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            tag, _, rest = line.rstrip("\n").partition(" ")
            if tag == "S":
                parts = rest.split(" ", 5)
                if len(parts) < 6:
                    continue
                try:
                    stamps.append(float(parts[0]))
                    pids.append(int(parts[1]))
                    tids.append(int(parts[2]))
                    ticks.append(int(parts[3]))
                    cpus.append(int(parts[4]))
                except ValueError:
                    for col in (stamps, pids, tids, ticks, cpus):
                        del col[len(comms) :]
                    continue
                comms.append(parts[5])
            elif tag == "N":
                tid, _, name = rest.partition(" ")
                if tid.isdigit():
                    names[int(tid)] = name
            elif tag == "H":
                head = rest.split()
                hz = float(head[0])
                utc_offset_s = float(head[2]) if len(head) > 2 else 0.0
            elif tag == "SELF":
                self_cpu = float(rest)
    raw = pd.DataFrame(
        {"t": stamps, "pid": pids, "tid": tids, "ticks": ticks, "cpu": cpus, "comm": comms}
    )
    if raw.empty:
        out = pd.DataFrame(columns=COLUMNS)
    else:
        raw = raw.sort_values(["tid", "t"], kind="stable")
        dt = raw.groupby("tid")["t"].diff()
        dticks = raw.groupby("tid")["ticks"].diff()
        pct = np.where(dt > 0, dticks / hz / dt * 100.0, np.nan)
        out = pd.DataFrame(
            {
                "time": pd.to_datetime(((raw["t"] + utc_offset_s) * 1e6).round(), unit="us"),
                "pid": raw["pid"],
                "tid": raw["tid"],
                "name": [names.get(t, c) for t, c in zip(raw["tid"], raw["comm"], strict=True)],
                "cpu_pct": pct,
                "cpu": raw["cpu"],
            }
        )
        out = out[out["cpu_pct"].notna()].reset_index(drop=True)
    out.attrs.update(self_cpu_s=self_cpu, hz=hz)
    return out
