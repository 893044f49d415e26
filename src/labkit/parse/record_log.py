"""``lerobot-record`` output -> one pandas row per event (``shared/notes/lerobot.md``).

LeRobot logs ``LEVEL YYYY-MM-DD HH:MM:SS <15-char location> message`` to stderr; the config
dump and tracebacks continue over lines without that prefix, and they must not be read as
events. Lines without the prefix that are not continuations (stdout prints, encoder
banners) are kept as ``kind="other"``.

Columns: ``line`` (1-based, first line of the record), ``time``, ``level``, ``location``,
``kind``, ``hz``, ``target_hz``, ``episode`` (the episode the event belongs to; for
``episode_start`` the new one), ``camera``, ``count`` (frames dropped), ``codec``,
``message`` (continuation lines joined with newlines).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_PREFIX = re.compile(
    r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL) (?:\[PID: \d+\] )?"
    r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (.{15}) (.*)$"
)
_LEVEL_ONLY = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL) (.*)$")
_SLOW = re.compile(
    r"(?:Record|Control) loop is running slower \(([\d.]+|inf) Hz\) than the target FPS "
    r"\(([\d.]+) Hz\)"
)
_EPISODE = re.compile(r"^Recording episode (\d+)")
_CODEC = re.compile(r"^(?:Auto-selected video codec|Using video codec): (\S+)")
_FALLBACK = re.compile(r"falling back to software encoder '([^']+)'")
_QUEUE = re.compile(
    r"^Encoder queue full for (\S+), (?:dropped|repeated the previous frame) "
    r"(\d+) (?:frame\(s\)|time\(s\))"
)
_DROPPED = re.compile(r"^Episode finished with (\d+) dropped frame\(s\) for (\S+?)\.?$")
_CAM_TIMEOUT = re.compile(r"Timed out waiting for frame from camera (.+?) after (\d+) ms")
_CADENCE = re.compile(r"^Cadence \(episode (\d+)\): ([\d.]+) Hz vs ([\d.]+) Hz target")
_EXC_LINE = re.compile(r"^(?:[A-Za-z_][\w.]*)(?:Error|Exception|Interrupt|Exit|Warning)\b:?")
_TRACEBACK = "Traceback (most recent call last):"

COLUMNS = [
    "line",
    "time",
    "level",
    "location",
    "kind",
    "hz",
    "target_hz",
    "episode",
    "camera",
    "count",
    "codec",
    "message",
]


def _lines(source) -> Iterable[str]:
    if isinstance(source, (str, Path)):
        with open(source, encoding="utf-8", errors="replace") as fh:
            yield from fh
        return
    if hasattr(source, "read"):
        data = source.read()
        if isinstance(data, bytes):
            data = data.decode("utf-8", "replace")
        yield from data.splitlines()
        return
    yield from source


def _classify(message: str, level: str | None) -> dict[str, Any]:
    """kind and fields of one record from its first message line."""
    if "loop is running slower" in message:
        m = _SLOW.search(message)
        if m:
            hz = math.inf if m.group(1) == "inf" else float(m.group(1))
            return {"kind": "slow_loop", "hz": hz, "target_hz": float(m.group(2))}
    if message.startswith("Recording episode"):
        m = _EPISODE.match(message)
        if m:
            return {"kind": "episode_start", "episode": int(m.group(1))}
    if message.startswith("Reset the environment"):
        return {"kind": "reset"}
    if message.startswith("Re-record episode"):
        return {"kind": "rerecord"}
    if message.startswith("Stop recording"):
        return {"kind": "stop"}
    if message.rstrip() == "Exiting":
        return {"kind": "exit"}
    if "video codec" in message or "software encoder" in message:
        m = _CODEC.match(message) or _FALLBACK.search(message)
        if m:
            return {"kind": "codec", "codec": m.group(1)}
    if message.startswith("Encoder queue full"):
        m = _QUEUE.match(message)
        if m:
            return {"kind": "encoder_queue_full", "camera": m.group(1), "count": int(m.group(2))}
    if message.startswith("Episode finished with"):
        m = _DROPPED.match(message)
        if m:
            return {"kind": "dropped_frames", "count": int(m.group(1)), "camera": m.group(2)}
    if message.startswith("Cadence ("):
        m = _CADENCE.match(message)
        if m:
            return {
                "kind": "cadence",
                "episode": int(m.group(1)),
                "hz": float(m.group(2)),
                "target_hz": float(m.group(3)),
            }
    if message.startswith("Cadence summary"):
        return {"kind": "cadence"}
    if "Timed out waiting for frame" in message:
        m = _CAM_TIMEOUT.search(message)
        if m:
            return {"kind": "camera_timeout", "camera": m.group(1)}
    if message.startswith("{") and message.lstrip("{").startswith("'"):
        return {"kind": "config"}
    if level in ("ERROR", "CRITICAL"):
        return {"kind": "error"}
    return {"kind": "other"}


_IDX = {c: i for i, c in enumerate(COLUMNS)}
_MSG, _KIND = _IDX["message"], _IDX["kind"]


def _apply(record: list, fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        record[_IDX[key]] = value


def read_record_log(source: str | Path | IO | Iterable[str]) -> pd.DataFrame:
    """Parse LeRobot record output (path, file object or lines) into one row per event."""
    rows: list[list] = []
    current: list | None = None
    depth = 0  # open brackets of a config dump
    in_traceback = False
    episode: int | None = None
    nan = math.nan

    for no, raw in enumerate(_lines(source), 1):
        line = raw.rstrip("\r\n")
        m = _PREFIX.match(line) if line[:1] in "DIWEC" else None
        if m is None and current is not None and (depth > 0 or in_traceback):
            current[_MSG] += "\n" + line
            if depth > 0:
                depth += line.count("{") + line.count("[") - line.count("}") - line.count("]")
            elif in_traceback and line and not line[0].isspace() and _EXC_LINE.match(line):
                in_traceback = False
                fields = _classify(line.split(": ", 1)[-1], "ERROR")
                timeout = fields["kind"] == "camera_timeout"
                current[_KIND] = "camera_timeout" if timeout else "error"
                current[_IDX["camera"]] = fields.get("camera")
            continue
        depth, in_traceback = 0, False
        if m is not None:
            level, stamp, location, message = m.groups()
        else:
            if not line.strip():
                current = None
                continue
            lm = _LEVEL_ONLY.match(line)
            level, stamp, location = (lm.group(1), None, None) if lm else (None, None, None)
            message = lm.group(2) if lm else line
        current = [no, stamp, level, location, "other", nan, nan, episode, None, nan, None, message]
        rows.append(current)
        if message.startswith(_TRACEBACK):
            current[_KIND] = "error"
            in_traceback = True
            continue
        fields = _classify(message, level)
        kind = fields["kind"]
        if kind == "other" and m is None and _EXC_LINE.match(message):
            fields["kind"] = kind = "error"
        _apply(current, fields)
        if kind == "episode_start":
            episode = fields["episode"]
        elif kind == "config":
            depth = (
                message.count("{") + message.count("[") - message.count("}") - message.count("]")
            )
        elif level in ("ERROR", "CRITICAL") and kind in ("error", "other"):
            in_traceback = True  # 0.6.1 prints the traceback under the ERROR line
            current[_KIND] = "error"
    df = pd.DataFrame(rows, columns=COLUMNS)
    stamps = df["time"].to_numpy(dtype=object)
    uniq, codes = np.unique(stamps.astype(str), return_inverse=True)
    conv = pd.to_datetime(pd.Series(uniq), format="%Y-%m-%d %H:%M:%S", errors="coerce")
    df["time"] = conv.to_numpy()[codes] if len(uniq) else pd.Series([], dtype="datetime64[ns]")
    for col in ("hz", "target_hz", "count"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    df["episode"] = df["episode"].astype("Int64")
    return df


def summarize_record_log(df: pd.DataFrame) -> dict[str, Any]:
    """The numbers a report needs from one record log."""
    slow = df[df["kind"] == "slow_loop"]
    hz = slow["hz"].to_numpy(dtype=float)
    finite = hz[np.isfinite(hz)]
    codecs = df.loc[df["kind"] == "codec", "codec"].dropna()
    starts = df[df["kind"] == "episode_start"]
    times = df["time"].dropna()
    return {
        "slow_loop_count": int(len(slow)),
        "min_hz": float(finite.min()) if len(finite) else None,
        "median_hz": float(np.median(finite)) if len(finite) else None,
        "p5_hz": float(np.percentile(finite, 5)) if len(finite) else None,
        "target_hz": float(slow["target_hz"].iloc[0]) if len(slow) else None,
        "episodes": int(starts["episode"].nunique()),
        "rerecords": int((df["kind"] == "rerecord").sum()),
        "codec": str(codecs.iloc[-1]) if len(codecs) else None,
        "queue_full_drops": int(df.loc[df["kind"] == "encoder_queue_full", "count"].sum()),
        "dropped_frames": int(df.loc[df["kind"] == "dropped_frames", "count"].sum()),
        "camera_timeouts": int((df["kind"] == "camera_timeout").sum()),
        # every ERROR-level record or traceback, whatever else it is (a camera TimeoutError
        # logged at ERROR with its traceback is an error *and* a camera timeout)
        "errors": int(
            (
                df["level"].isin(("ERROR", "CRITICAL"))
                | (df["kind"] == "error")
                | df["message"].str.contains(_TRACEBACK, regex=False, na=False)
            ).sum()
        ),
        "stopped": bool((df["kind"] == "stop").any()),
        "exited": bool((df["kind"] == "exit").any()),
        "first_time": times.min().isoformat() if len(times) else None,
        "last_time": times.max().isoformat() if len(times) else None,
    }
