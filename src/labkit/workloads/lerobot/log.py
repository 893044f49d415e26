"""``lerobot-record`` output -> one pandas row per event (``shared/notes/lerobot.md``).

LeRobot logs ``LEVEL YYYY-MM-DD HH:MM:SS <15-char location> message`` to stderr; the config
dump and tracebacks continue over lines without that prefix, and they must not be read as
events. Lines without the prefix that are not continuations (stdout prints, encoder
banners) are kept as ``kind="other"``.

Columns: ``line`` (1-based, first line of the record), ``time`` (datetime64[ns]),
``level``, ``location``, ``kind``, ``hz``, ``target_hz``, ``episode`` (the episode the
event belongs to; for ``episode_start`` the new one), ``camera``, ``count`` (frames
dropped), ``codec``, ``message`` (continuation lines joined with newlines); text columns
are pandas' ``str`` dtype (NaN where absent).

A long log is nearly all slow-loop warnings: those, and plain prefixed messages, are read
for the whole file at once; every other line goes through the record loop
(``read_record_log_by_line``), so both give the same frame.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from labkit.parse.arrow_text import line_bounds, python_strings, strings, views
from labkit.parse.byte_words import digits_in, literal_at, number_lengths, template_at
from labkit.parse.civil_time import civil_times

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


def _classify(message: str, level: str | None) -> dict[str, Any]:
    """kind and fields of one record from its first message line."""
    if "loop is running slower" in message:
        m = _SLOW.search(message)
        if m:
            hz = math.inf if m.group(1) == "inf" else _float(m.group(1))
            return {"kind": "slow_loop", "hz": hz, "target_hz": _float(m.group(2))}
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
                "hz": _float(m.group(2)),
                "target_hz": _float(m.group(3)),
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
KINDS = (
    "other",
    "slow_loop",
    "episode_start",
    "reset",
    "rerecord",
    "stop",
    "exit",
    "codec",
    "encoder_queue_full",
    "dropped_frames",
    "cadence",
    "camera_timeout",
    "config",
    "error",
)
_OTHER, _SLOW_LOOP = KINDS.index("other"), KINDS.index("slow_loop")
# what sends a prefixed line to the line-by-line path: every message that any rule of
# ``_classify`` (or the traceback check before it) could read as more than "other"
_SPECIAL_START = (
    "Traceback",
    "Recording episode",
    "Reset the environment",
    "Re-record episode",
    "Stop recording",
    "Exiting",
    "Encoder queue full",
    "Episode finished with",
    "Cadence",
    "{",
)
_SPECIAL_ANY = ("video codec", "software encoder", "Timed out waiting for frame")
_SLOW_ANY = "loop is running slower"
# _SLOW for RE2 (ASCII rows only, where \d and [0-9] agree)
_SLOW_RE2 = (
    r"(?:Record|Control) loop is running slower \((?P<hz>[0-9.]+|inf) Hz\) than the target "
    r"FPS \((?P<target>[0-9.]+) Hz\)"
)
_SP = ord(" ")
_STAMP = b" ####-##-## ##:##:## "  # after the level; '#' is any digit
# where month, day, year, hour, minute and second are in _STAMP, and how many digits
_STAMP_FIELDS = ((6, 2), (9, 2), (1, 4), (12, 2), (15, 2), (18, 2))
LAST_SECOND = 61  # a leap second (:60, :61) runs into the next minute, as pandas reads it
_PREFIX_TAIL = 36  # "YYYY-MM-DD HH:MM:SS " + 15-char location + " "
_EXOTIC_BREAKS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


def read_record_log(source: str | Path | IO | Iterable[str]) -> pd.DataFrame:
    """Parse LeRobot record output (path, file object or lines) into one row per event.

    Prefixed lines whose message no rule reads as anything but a slow-loop warning or
    "other" — nearly every line of a long log — are decoded for the whole file at once
    (numpy on the bytes, Arrow kernels on the messages); every other line (config dumps,
    tracebacks, episode starts, codec and camera events, non-ASCII text) goes through
    ``read_record_log_by_line``'s loop, which gives the same rows for any line."""
    data, errors = _text(source)
    text = np.frombuffer(data, np.uint8)
    starts, ends = line_bounds(text)
    heads = _line_heads(text, starts, ends, data.isascii())
    level, stamp_time, loc_at = heads.level, heads.time, heads.loc_at
    bulk, slow, hz, target = _bulk_rows(text, starts, ends, heads)
    ref = ~bulk
    # a line read by line continues the record of the line before it: that one is read by
    # line too, so the loop sees the record it continues
    bulk[:-1] &= ~ref[1:]
    ref_idx = np.flatnonzero(~bulk)
    rows = _by_line(
        (int(i) + 1, data[starts[i] : ends[i]].decode("utf-8", errors)) for i in ref_idx
    )
    fast = np.flatnonzero(bulk)
    return _assemble(text, fast, level, stamp_time, loc_at, ends, (slow, hz, target), rows)


def read_record_log_by_line(source: str | Path | IO | Iterable[str]) -> pd.DataFrame:
    """The reference parser: every line through the record loop (``read_record_log``
    gives the same frame faster)."""
    data, errors = _text(source)
    text = np.frombuffer(data, np.uint8)
    starts, ends = line_bounds(text)
    rows = _by_line(
        (i + 1, data[s:e].decode("utf-8", errors))
        for i, (s, e) in enumerate(zip(starts.tolist(), ends.tolist(), strict=True))
    )
    empty = np.zeros(len(ends), dtype=np.int8)
    fast = np.zeros(0, dtype=np.int64)
    nat = np.full(len(ends), np.datetime64("NaT"), "datetime64[ns]")
    nan = np.full(len(ends), math.nan)
    no = np.zeros(len(ends), dtype=bool)
    return _assemble(text, fast, empty, nat, starts, ends, (no, nan, nan), rows)


# ---- input ---------------------------------------------------------------------------
def _text(source) -> tuple[bytes, str]:
    """The log as UTF-8 bytes, lines ended by ``\\n`` (the last one too), and the error
    handler that decodes a line of it as the line-by-line reader once decoded it: a file is
    read with universal newlines and bad bytes replaced; a file object's text is split
    with ``str.splitlines``; given lines keep what is inside them."""
    if isinstance(source, (str, Path)):
        with open(source, "rb") as fh:
            data = fh.read()
        if b"\r" in data:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        errors = "replace"
    elif hasattr(source, "read"):
        raw = source.read()
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        if _EXOTIC_BREAKS.search(text):
            text = "\n".join(text.splitlines())
        elif "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        data, errors = text.encode("utf-8", "surrogatepass"), "surrogatepass"
    else:
        lines = [line.rstrip("\r\n") for line in source]
        data = "\n".join(lines).encode("utf-8", "surrogatepass") if lines else b""
        errors = "surrogatepass"
    if data and not data.endswith(b"\n"):
        data += b"\n"
    return data, errors


# ---- the bulk path ---------------------------------------------------------------------
@dataclass
class _Heads:
    """What the fixed-layout start of every line says: its level code (0: no prefix the
    bulk path can vouch for), time, where its location starts, and whether it is LeRobot's
    own slow-loop warning (``std``) with that warning's rates (NaN elsewhere)."""

    level: np.ndarray
    time: np.ndarray
    loc_at: np.ndarray
    std: np.ndarray
    hz: np.ndarray
    target: np.ndarray


BLOCK_LINES = 16384  # ~4.5 MB of log: every check of a block reads lines still in the cache


def _line_heads(text: np.ndarray, starts: np.ndarray, ends: np.ndarray, all_ascii: bool) -> _Heads:
    """The heads of all lines, a block of lines at a time: each check gathers a few bytes
    of every line, and a block's lines stay in the CPU cache from one check to the next
    (over the whole file each gather would wait on memory)."""
    n = len(starts)
    heads = _Heads(
        np.zeros(n, dtype=np.int8),
        np.full(n, np.datetime64("NaT"), "datetime64[ns]"),
        np.zeros(n, dtype=np.int64),
        np.zeros(n, dtype=bool),
        np.full(n, math.nan),
        np.full(n, math.nan),
    )
    stamps = np.zeros((6, n), dtype=np.int64)  # month, day, year, hour, minute, second
    ascii_line = _ascii_lines(text, ends, all_ascii)
    for lo in range(0, n, BLOCK_LINES):
        part = slice(lo, min(lo + BLOCK_LINES, n))
        level, loc_at = _prefixes(text, starts[part], ends[part], ascii_line[part], stamps[:, part])
        heads.level[part], heads.loc_at[part] = level, loc_at
        cand = np.flatnonzero(level > 0)
        std, hz, target = _standard_slow_loops(text, loc_at[cand] + 16, ends[part][cand])
        got = cand[std] + lo
        heads.std[got], heads.hz[got], heads.target[got] = True, hz, target
    prefixed = heads.level > 0
    heads.time[prefixed] = civil_times(*stamps[:, prefixed], last_second=LAST_SECOND)
    return heads


def _prefixes(
    text: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    ascii_line: np.ndarray,
    stamps: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """For every line: the level code (1 + index in LEVELS; 0 where the line has no
    ``LEVEL YYYY-MM-DD HH:MM:SS <15 chars> `` prefix of ASCII bytes) and where its
    location starts; the fields of its time go into ``stamps`` (month, day, year, hour,
    minute, second by line)."""
    n = len(starts)
    level = np.zeros(n, dtype=np.int8)
    loc_at = np.zeros(n, dtype=np.int64)
    if not n:
        return level, loc_at
    length = ends - starts
    first = text[starts]
    last = len(text) - 1
    for code, word in enumerate(LEVELS, 1):
        k = len(word)
        width = k + 1 + _PREFIX_TAIL
        idx = np.flatnonzero((first == ord(word[0])) & (length >= width) & ascii_line)
        if not len(idx):
            continue
        at = starts[idx]
        ok, words = template_at(text, at, ends[idx], word.encode() + _STAMP)
        ok &= text[np.minimum(at + width - 1, last)] == _SP  # the location's end
        got = idx[ok]
        ok_words = [w[ok] for w in words]
        for row, (at_, width_) in enumerate(_STAMP_FIELDS):
            stamps[row, got] = digits_in(ok_words, k + at_, width_)
        level[got] = code
        loc_at[got] = starts[got] + k + 21
    return level, loc_at


def _ascii_lines(text: np.ndarray, ends: np.ndarray, all_ascii: bool) -> np.ndarray:
    ascii_line = np.ones(len(ends), dtype=bool)
    if not all_ascii:
        ascii_line[np.searchsorted(ends, np.flatnonzero(text >= 0x80))] = False
    return ascii_line


def _bulk_rows(
    text: np.ndarray, starts, ends, heads: _Heads
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Which lines the bulk path reads whole (a slow-loop warning or a plain message),
    which of them are slow-loop warnings, and their rates (NaN elsewhere)."""
    level, loc_at = heads.level, heads.loc_at
    n = len(starts)
    bulk = np.zeros(n, dtype=bool)
    slow_line, hz, target = heads.std, heads.hz, heads.target  # completed below
    cand = np.flatnonzero(level > 0)
    # LeRobot's own warning, first in its message: read from the bytes where it must be
    std = heads.std[cand]
    msg_at = loc_at[cand] + 16
    rest = cand[~std]
    if not len(rest):
        bulk[cand] = True
        return bulk, slow_line, hz, target
    at = msg_at[~std]
    msgs = strings([text], np.zeros(len(rest), np.int8), at, ends[rest] - at)
    slow = pc.match_substring(msgs, _SLOW_ANY).to_numpy(zero_copy_only=False)
    special = pc.starts_with(msgs, _TRACEBACK).to_numpy(zero_copy_only=False)
    slow_ok = np.zeros(len(rest), dtype=bool)
    look = np.flatnonzero(slow & ~special)
    if len(look):
        found = pc.extract_regex(msgs.take(look), _SLOW_RE2)
        matched = found.is_valid().to_numpy(zero_copy_only=False)
        got = rest[look[matched]]
        slow_ok[look[matched]] = True
        slow_line[got] = True
        hz[got] = _floats(found.field("hz").filter(matched))
        target[got] = _floats(found.field("target").filter(matched))
    # every other rule of ``_classify`` reads the message of a line that is not a
    # slow-loop warning: any it might read sends the line to the line-by-line path
    other = np.flatnonzero(~slow_ok)
    if len(other):
        plain = msgs.take(other)
        hit = pc.starts_with(plain, _SPECIAL_START[0])
        for prefix in _SPECIAL_START[1:]:
            hit = pc.or_(hit, pc.starts_with(plain, prefix))
        for part in (*_SPECIAL_ANY, _SLOW_ANY):
            hit = pc.or_(hit, pc.match_substring(plain, part))
        special[other] |= hit.to_numpy(zero_copy_only=False)
    err = level[rest] >= LEVELS.index("ERROR") + 1
    bulk[cand[std]] = True
    bulk[rest] = slow_ok | ~(special | err)
    return bulk, slow_line, hz, target


_STD_SLOW = tuple(f"{who} loop is running slower (".encode() for who in ("Record", "Control"))
_STD_MIDDLE = b" Hz) than the target FPS ("
_STD_END = b" Hz)"


def _standard_slow_loops(
    text: np.ndarray, msg_at: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Messages that start with ``(Record|Control) loop is running slower (R Hz) than the
    target FPS (T Hz)`` — ``_SLOW`` matched at the message's start, so its leftmost match —
    with R and T read exactly as ``float`` reads them (rates longer than 12 characters are
    left to RE2)."""
    std = np.zeros(len(msg_at), dtype=bool)
    rate_at = np.zeros(len(msg_at), dtype=np.int64)
    for head in _STD_SLOW:
        fits = np.flatnonzero(~std)
        ok = literal_at(text, msg_at[fits], ends[fits], head)
        std[fits[ok]] = True
        rate_at[fits[ok]] = msg_at[fits[ok]] + len(head)
    rows = np.flatnonzero(std)
    at, end = rate_at[rows], ends[rows]
    hz_len = number_lengths(text, at, end, allow_inf=True)
    mid_at = at + hz_len
    ok = (hz_len > 0) & literal_at(text, mid_at, end, _STD_MIDDLE)
    target_at = mid_at + len(_STD_MIDDLE)
    t_len = number_lengths(text, target_at, end, allow_inf=False)
    ok &= (t_len > 0) & literal_at(text, target_at + t_len, end, _STD_END)
    std[rows[~ok]] = False
    # Arrow's cast reads decimals (and "inf") as float() does
    zeros = np.zeros(int(ok.sum()), np.int8)
    rates = _floats(views([text], zeros, at[ok], hz_len[ok]))
    targets = _floats(views([text], zeros, target_at[ok], t_len[ok]))
    return std, rates, targets


def _floats(values: pa.Array) -> np.ndarray:
    """Numbers as text -> float; NaN for text ``float`` cannot read ("1.2.3")."""
    try:
        return pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
    except pa.ArrowInvalid:
        return np.array([_float(v) for v in values.to_pylist()], dtype=float)


def _float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return math.nan


# ---- the line-by-line path -------------------------------------------------------------
def _apply(record: list, fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        record[_IDX[key]] = value


def _by_line(numbered: Iterable[tuple[int, str]]) -> list[list]:
    """Records of the given (line number, text) pairs, in order; a record's continuation
    lines (config dump, traceback) follow it. Where the numbers skip, the lines between
    were read in bulk, each starting a record that nothing continues. ``episode`` is left
    to the caller (it runs over every record)."""
    rows: list[list] = []
    current: list | None = None
    depth = 0  # open brackets of a config dump
    in_traceback = False
    nan = math.nan
    last = 0
    for no, line in numbered:
        if no != last + 1:
            current, depth, in_traceback = None, 0, False
        last = no
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
        current = [no, stamp, level, location, "other", nan, nan, None, None, nan, None, message]
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
        if kind == "config":
            depth = (
                message.count("{") + message.count("[") - message.count("}") - message.count("]")
            )
        elif level in ("ERROR", "CRITICAL") and kind in ("error", "other"):
            in_traceback = True  # 0.6.1 prints the traceback under the ERROR line
            current[_KIND] = "error"
    return rows


# ---- one frame from both paths ----------------------------------------------------------
def _assemble(
    text: np.ndarray,
    fast: np.ndarray,
    level: np.ndarray,
    stamp_time: np.ndarray,
    loc_at: np.ndarray,
    ends: np.ndarray,
    slow_loops: tuple[np.ndarray, np.ndarray, np.ndarray],
    rows: list[list],
) -> pd.DataFrame:
    """Bulk-read lines ``fast`` and line-by-line ``rows`` merged in line order."""
    slow, hz, target = slow_loops
    ref_lines = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    total = len(fast) + len(rows)
    at_ref = np.searchsorted(fast, ref_lines - 1) + np.arange(len(rows))
    is_ref = np.zeros(total, dtype=bool)
    is_ref[at_ref] = True
    at_fast = np.flatnonzero(~is_ref)

    def merged(fast_values: np.ndarray, ref_values, dtype) -> np.ndarray:
        out = np.empty(total, dtype=dtype)
        out[at_fast] = fast_values
        out[at_ref] = np.asarray(ref_values, dtype=dtype)
        return out

    column = {c: [r[_IDX[c]] for r in rows] for c in COLUMNS}
    line = merged(fast + 1, ref_lines, np.int64)
    time = merged(stamp_time[fast], _stamp_times(column["time"]), "datetime64[ns]")
    codes = {None: 0} | {name: i + 1 for i, name in enumerate(LEVELS)}
    level_code = merged(level[fast], [codes[v] for v in column["level"]], np.int8)
    kind_codes = {k: i for i, k in enumerate(KINDS)}
    fast_kind = np.where(slow[fast], _SLOW_LOOP, _OTHER)
    kind = merged(fast_kind, [kind_codes[k] for k in column["kind"]], np.int8)

    def texts(fast_at: np.ndarray | None, fast_len, values: list) -> pa.Array:
        ref_buf, ref_at, ref_len = python_strings(values)
        which = merged(np.zeros(len(fast)), np.ones(len(rows)), np.int8)
        start = merged(fast_at if fast_at is not None else 0, ref_at, np.int64)
        size = merged(fast_len, ref_len, np.int64)
        valid = merged(fast_at is not None, [v is not None for v in values], bool)
        return strings([text, ref_buf], which, start, size, valid)

    msg_at = loc_at[fast] + 16
    frame = {
        "line": line,
        "time": time,
        "level": _str(pa.array([None, *LEVELS]).take(pa.array(level_code))),
        "location": _str(texts(loc_at[fast], 15, column["location"])),
        "kind": _str(pa.array(KINDS).take(pa.array(kind))),
        "hz": merged(hz[fast], column["hz"], float),
        "target_hz": merged(target[fast], column["target_hz"], float),
        "episode": _episodes(kind, column, at_ref, total),
        "camera": _str(texts(None, 0, column["camera"])),
        "count": merged(np.full(len(fast), math.nan), column["count"], float),
        "codec": _str(texts(None, 0, column["codec"])),
        "message": _str(texts(msg_at, ends[fast] - msg_at, column["message"])),
    }
    return pd.DataFrame(frame, columns=COLUMNS)


def _stamp_times(stamps: list[str | None]) -> np.ndarray:
    """``YYYY-MM-DD HH:MM:SS`` (as ``_PREFIX`` matched it) -> datetime64[ns], NaT where
    there is none or it is no valid time."""
    fields = np.full((6, len(stamps)), math.nan)
    for i, s in enumerate(stamps):
        if s is not None:
            fields[:, i] = (s[5:7], s[8:10], s[0:4], s[11:13], s[14:16], s[17:19])
    return civil_times(*fields, last_second=LAST_SECOND)


def _episodes(kind: np.ndarray, column: dict[str, list], at_ref: np.ndarray, total: int):
    """The episode each record belongs to: the last episode start at or before it; a
    per-episode cadence line names its own."""
    own = np.full(total, -1, dtype=np.int64)
    own[at_ref] = [-1 if e is None else e for e in column["episode"]]
    starts = (kind == KINDS.index("episode_start")) & (own >= 0)
    last = np.maximum.accumulate(np.where(starts, np.arange(total), -1)) if total else own
    running = np.where(last >= 0, own[np.maximum(last, 0)], -1)
    episode = np.where(own >= 0, own, running)
    return pd.arrays.IntegerArray(np.where(episode >= 0, episode, 0), episode < 0)


def _str(values: pa.Array) -> pd.api.extensions.ExtensionArray:
    """pandas' ``str`` dtype over the Arrow column, without a Python object per row."""
    return pd.arrays.ArrowStringArray(
        pa.chunked_array([values]), dtype=pd.StringDtype("pyarrow", na_value=np.nan)
    )


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
