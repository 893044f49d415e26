"""py-spy's chrometrace (``--threads --idle``) -> per-thread stack segments on absolute time.

py-spy writes a ``B`` event when a frame appears on a thread's sampled stack and an ``E``
event when it leaves, stamped in microseconds from py-spy's start; with ``--threads`` each
thread's root frame is ``thread (<os tid>): <name>``. Replaying the events per thread gives
segments -- spans over which the sampled stack stayed the same -- and ``pyspy-meta.json``
(written by ``labkit.probes.pyspy_run``) puts them on the target's clock.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

# ``thread (<os tid>): <name>``; Python 3.10 with --nonblocking gives a hex pthread id, and a
# thread not made by ``threading`` has no name
THREAD = re.compile(r"^thread \((0x[0-9a-fA-F]+|\d+)\)(?:: (.*))?$")
COLUMNS = ["tid", "thread", "start", "end", "stack"]


class PySpyTraceError(ValueError):
    """The trace file is not py-spy's chrometrace."""


def read_pyspy(trace: Path, meta: Path | None = None) -> pd.DataFrame:
    """Segments ``tid, thread, start, end, stack`` (stack: frame names root -> leaf, the
    thread frame left out; start/end: naive local datetimes of the target when ``meta``
    gives py-spy's start, else seconds from it)."""
    try:
        events = json.loads(Path(trace).read_text())
    except ValueError as exc:
        raise PySpyTraceError(f"{trace}: not JSON ({exc})") from None
    if not isinstance(events, list):
        raise PySpyTraceError(f"{trace}: expected a list of chrometrace events")
    origin = None
    if meta is not None and Path(meta).exists():
        m = json.loads(Path(meta).read_text())
        origin = float(m["start_epoch"]) + float(m.get("utc_offset_s") or 0)
    by_tid: dict[int, list[dict]] = {}
    for ev in events:
        if isinstance(ev, dict) and ev.get("ph") in ("B", "E"):
            by_tid.setdefault(ev.get("tid"), []).append(ev)
    rows = []
    for evs in by_tid.values():
        rows.extend(_segments(evs))
    df = pd.DataFrame(rows, columns=COLUMNS)
    if origin is not None and len(df):
        for col in ("start", "end"):
            df[col] = pd.to_datetime(((origin + df[col]) * 1e6).round(), unit="us")
    return df.sort_values(["tid", "start"], kind="stable").reset_index(drop=True)


def _segments(events: list[dict]) -> list[dict]:
    """Replay one thread's B/E events (in file order, which py-spy keeps in time order)."""
    stack: list[str] = []
    out: list[dict] = []
    tid, name = None, ""
    last_ts: float | None = None
    for ev in events:
        ts = float(ev.get("ts", 0)) / 1e6
        if last_ts is not None and ts > last_ts and stack:
            out.append(
                {"tid": tid, "thread": name, "start": last_ts, "end": ts,
                 "stack": tuple(stack)}
            )  # fmt: skip
        frame = str(ev.get("name", ""))
        if ev["ph"] == "B":
            m = THREAD.match(frame)
            if m:
                tid, name = int(m.group(1), 0), m.group(2) or ""
            else:
                stack.append(frame)
        else:
            if not THREAD.match(frame) and stack:
                # E events close the innermost frames first; a mismatch means py-spy
                # dropped a frame -- close up to the named one
                while stack and stack.pop() != frame:
                    pass
        last_ts = ts
    return out
