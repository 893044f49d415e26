"""The runner's log (``run_gst.py``) -> the fpsdisplaysinks' samples.

Each ``fpsdisplaysink`` prints, every ``fps-update-interval`` (500 ms by default), a
property notification that ``gst-launch-1.0 -v`` shows as

    /GstPipeline:pipeline0/GstFPSDisplaySink:cam0: last-message = rendered: 78, \
        dropped: 0, current: 29.99, average: 30.15

(one line, cut here to fit; frames rendered and dropped since the start, the rate over
the last interval and since the start); the runner stamps each line with the epoch time
it was read and opens the log with ``#labkit-gst <epoch> <UTC offset s> <seconds>
<target fps>``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


SAMPLE = re.compile(
    r"GstFPSDisplaySink:(?P<sink>[^/:\s]+): last-message = rendered: (?P<rendered>\d+), "
    r"dropped: (?P<dropped>\d+), current: (?P<current>[-+\w.]+), "
    r"average: (?P<average>[-+\w.]+)"
)
HEADER = "#labkit-gst"
# a sample whose rate over its interval is below this share of the target is late
LATE_SHARE = 0.95
COLUMNS = ["time", "sink", "rendered", "dropped", "current", "average", "event", "line"]


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


def read_samples(path: Path) -> pd.DataFrame:
    """One row per sink sample: ``time`` (naive local time of the target, like every
    other labkit table), ``sink``, ``rendered``, ``dropped``, ``current``, ``average``,
    ``event`` (``late_sample`` when ``current`` < 95 % of the target fps, else
    ``sample``), ``line`` (1-based), ``target_fps``, ``start`` (when the interval the
    sample covers began: the same sink's previous sample). ``attrs``: ``target_fps``,
    ``seconds``, ``error`` (GStreamer's message when the pipeline failed)."""
    # on use: the run path loads this module without pandas (start-up)
    import pandas as pd  # noqa: PLC0415

    offset, target, seconds, error = 0.0, None, None, None
    rows = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for i, raw in enumerate(fh, 1):
            line = raw.rstrip("\n")
            if line.startswith(HEADER):
                head = line.split()
                offset = _float(head[2]) if len(head) > 2 else 0.0
                seconds = _float(head[3]) if len(head) > 3 else None
                target = _float(head[4]) if len(head) > 4 else None
                continue
            if line.startswith("labkit: gst-launch-1.0 failed: "):
                error = line.removeprefix("labkit: gst-launch-1.0 failed: ")
                continue
            stamp, _, text = line.partition(" ")
            m = SAMPLE.search(text)
            if not m:
                continue
            t = _float(stamp)
            if not math.isfinite(t):
                continue
            cur = _float(m["current"])
            late = target is not None and math.isfinite(cur) and cur < LATE_SHARE * target
            rows.append((
                t + (offset if math.isfinite(offset) else 0.0), m["sink"], int(m["rendered"]),
                int(m["dropped"]), cur, _float(m["average"]),
                "late_sample" if late else "sample", i,
            ))  # fmt: skip
    df = pd.DataFrame(rows, columns=COLUMNS)
    # gst-launch-1.0 -v may print one notification twice (the element's and its parent's
    # deep-notify): the same counters again are not a second sample
    df = df.drop_duplicates(["sink", "rendered", "dropped", "current", "average"])
    df = df.reset_index(drop=True)
    df["time"] = pd.to_datetime((df["time"].astype(float) * 1e6).round(), unit="us")
    for col in ("rendered", "dropped", "line"):
        df[col] = df[col].astype("int64")
    for col in ("current", "average"):
        df[col] = df[col].astype(float)
    df["target_fps"] = float(target) if target is not None else math.nan
    # the interval each sample covers: since the same sink's previous sample (the first:
    # one update interval, the sinks' median gap)
    prev = df.groupby("sink")["time"].shift()
    gap = (df["time"] - prev).median()
    gap = gap if pd.notna(gap) else pd.Timedelta(milliseconds=500)
    df["start"] = prev.fillna(df["time"] - gap)
    df.attrs.update(target_fps=target, seconds=seconds, error=error)
    return df
