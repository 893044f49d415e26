"""tegrastats logs -> one pandas row per sample, fast enough to rebuild every report.

Lines of one log share a *shape*: the same text once its numeric runs (digits and dots)
are taken out. A shape's sample line is parsed once with the reference grammar
(``tegrastats_line.parse_line``), which says which numeric run feeds which column; every
line of that shape is then checked and decoded in one compiled pass over the bytes
(``shape_kernel``). Lines of other shapes are grouped by shape and decoded the same way;
small groups, and rows the bulk path cannot vouch for, go through the reference parser
line by line, so both paths give identical values.

Columns (the public API): ``time``; ``ram_used_mb``, ``ram_total_mb``, ``swap_used_mb``,
``swap_total_mb``, ``swap_cached_mb``; ``cpu{i}_load_pct``, ``cpu{i}_freq_mhz``;
``gpu_load_pct``, ``gpu_freq_mhz`` (first GPC; ``gpu{k}_freq_mhz`` for the others);
``emc_load_pct``, ``emc_freq_mhz``; ``<engine>_load_pct``, ``<engine>_freq_mhz`` (engine
lower-cased: nvenc, nvenc0, nvdec1, vic, ofa, ape, pva0, ...); ``temp_<name>_c``;
``power_<rail>_mw``, ``power_<rail>_avg_mw`` (``_max_mw`` for three-value rails; a repeated
rail gets ``_2``); ``iram_used_kb``, ``iram_total_kb``, ``mts_fg_pct``, ``mts_bg_pct``.
NaN where a value is absent, ``off`` or a ``-256C`` sensor; ``gpu_load_pct``,
``emc_load_pct`` and ``emc_freq_mhz`` are always there (all NaN on a board that prints
none, as Thor's tegrastats prints no GPU load). ``df.attrs``: ``skipped``
(lines that are not samples), ``lines``, ``board_hint``.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from labkit.parse.civil_time import civil_times
from labkit.parse.shape_kernel import BAD_VALUE, OK, OTHER_SHAPE, Shape, count_lines, decode
from labkit.parse.tegrastats_line import board_hint, numeric_runs, parse_line

NUMERIC = b"0123456789."
BULK_MIN_LINES = 32
# read at a time: a log of up to 1 GB is one block, decoded into one array per column (no
# joining of blocks); a larger one takes its bytes plus the columns' in memory per block
CHUNK_BYTES = 1 << 30
SENSOR_OFF_C = -256.0
ALWAYS = ("gpu_load_pct", "emc_load_pct", "emc_freq_mhz")


@dataclass
class _Block:
    """Decoded rows of one chunk: their line numbers and column arrays."""

    lines: np.ndarray
    cols: dict[str, np.ndarray]


@dataclass
class _State:
    blocks: list[_Block] = field(default_factory=list)
    order: dict[str, None] = field(default_factory=dict)  # column order of first sight
    skipped: int = 0
    lines: int = 0
    hint: str | None = None


def read_tegrastats(source: str | Path | IO | Iterable[str]) -> pd.DataFrame:
    """Parse a tegrastats log (path, file object or iterable of lines) into a DataFrame."""
    state = _State()
    first_line = 1
    for buf, end, truncated_tail in _chunks(source):
        first_line += _parse_chunk(buf, end, first_line, state)
        if truncated_tail:
            state.skipped += 1
            state.lines += 1
    return _assemble(state)


# ---- input ---------------------------------------------------------------------------
def _chunks(source) -> Iterable[tuple[bytes, int, bool]]:
    """(bytes, how many of them are whole lines, whether a partial line ended the input).

    Bytes past ``end`` belong to the next chunk: passing the read block whole (instead of
    a copy of its head) saves copying the log once more."""
    if isinstance(source, (str, Path)):
        with open(source, "rb") as fh:
            yield from _split_stream(fh)
        return
    if hasattr(source, "read"):
        data = source.read()
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        yield from _split_stream(io.BytesIO(data))
        return
    items = [
        s.encode("utf-8", "surrogateescape") if isinstance(s, str) else bytes(s) for s in source
    ]
    terminated = any(s.endswith(b"\n") for s in items)
    if terminated and items and not items[-1].endswith(b"\n"):
        # a log read line by line whose last line never got its newline: a partial write
        body = b"".join(items[:-1])
        yield body, len(body), True
        return
    body = b"".join(s if s.endswith(b"\n") else s + b"\n" for s in items)
    yield body, len(body), False


def _split_stream(fh: IO[bytes]) -> Iterable[tuple[bytes, int, bool]]:
    """Blocks of about ``CHUNK_BYTES``; a block's partial last line is read again (seek) as
    the head of the next one, so no block is copied to cut it."""
    while True:
        block = fh.read(CHUNK_BYTES)
        if not block:
            return
        cut = block.rfind(b"\n") + 1
        while cut == 0 and len(block) % CHUNK_BYTES == 0:  # a line longer than a block
            more = fh.read(CHUNK_BYTES)
            if not more:
                break
            block += more
            cut = block.rfind(b"\n") + 1
        if cut == 0:  # the input ends inside a line: a truncated last sample
            yield b"", 0, True
            return
        if cut < len(block):
            fh.seek(cut - len(block), io.SEEK_CUR)
        yield block, cut, False


# ---- parsing ---------------------------------------------------------------------------
def _parse_chunk(buf: bytes, end: int, first_line: int, state: _State) -> int:
    """Parse the whole lines in ``buf[:end]`` into ``state``; returns how many there were.

    Every line is first decoded against the first line's shape (one compiled pass, the
    common case: a log keeps one shape for hours); the lines of other shapes are then
    grouped by shape and decoded group by group."""
    if not end:
        return 0
    text = np.frombuffer(buf, np.uint8)
    n = count_lines(text, end)
    state.lines += n
    first = _decode_shape(text, end, n, buf[: buf.find(b"\n")], first_line, state)
    if first is None:
        others = np.arange(n)
        starts = None
    else:
        status, starts = first
        redo = np.flatnonzero(status == BAD_VALUE)
        if len(redo):
            _add(state, _slow(_rows(buf, starts, redo), redo + first_line, state))
        others = np.flatnonzero(status == OTHER_SHAPE)
    if len(others):
        rows = _rows(buf, starts, others) if starts is not None else buf[:end].split(b"\n")[:n]
        _parse_by_shape(rows, others + first_line, state)
    return n


def _rows(buf: bytes, starts: np.ndarray, idx: np.ndarray) -> list[bytes]:
    """Lines ``idx`` of ``buf`` (without their newline), by the offsets the kernel noted."""
    return [buf[starts[i] : starts[i + 1] - 1] for i in idx]


def _parse_by_shape(rows: list[bytes], line_nos: np.ndarray, state: _State) -> None:
    """Lines that did not have the chunk's first shape: grouped by their own shape, each
    group of at least ``BULK_MIN_LINES`` decoded in bulk, the rest line by line."""
    by_shape: dict[bytes, list[int]] = {}
    for i, row in enumerate(rows):
        by_shape.setdefault(row.translate(None, NUMERIC), []).append(i)
    for members in by_shape.values():
        idx = np.asarray(members)
        group = [rows[i] for i in members]
        decoded = None
        if len(group) >= BULK_MIN_LINES:
            body = b"\n".join(group) + b"\n"
            text = np.frombuffer(body, np.uint8)
            decoded = _decode_shape(text, len(body), len(group), group[0], line_nos[idx], state)
        if decoded is None:
            _add(state, _slow(group, line_nos[idx], state))
            continue
        status, _ = decoded
        redo = np.flatnonzero(status != OK)  # a group's shape is its first line's
        if len(redo):
            _add(state, _slow([group[i] for i in redo], line_nos[idx[redo]], state))


def _decode_shape(
    text: np.ndarray, end: int, n: int, sample: bytes, line_nos: int | np.ndarray, state: _State
) -> tuple[np.ndarray, np.ndarray] | None:
    """Decode the ``n`` lines of ``text[:end]`` that have ``sample``'s shape and add them
    to ``state``; returns every line's status and offset, or ``None`` when the sample is
    no sample (those lines then take the reference parser) or its shape defeats the
    bulk path. ``line_nos``: the first line's number, or every line's."""
    decoded = sample.decode("utf-8", "surrogateescape").rstrip("\r")
    parsed = parse_line(decoded)
    if parsed is None:
        return None
    if state.hint is None:
        state.hint = board_hint(parsed)
    runs = {start: k for k, start in enumerate(numeric_runs(decoded))}
    starts_needed = [s.start for s in parsed.slots] + parsed.time_starts
    if any(s not in runs for s in starts_needed):
        return None
    column = {k: c for c, k in enumerate(dict.fromkeys(runs[s] for s in starts_needed))}
    shape = Shape.of(sample, column)
    values, status, starts = decode(text, end, n, shape, len(column))
    ok = status == OK
    count = int(ok.sum())
    if count:
        if count < n:
            values = values[:, ok]
        at = np.flatnonzero(ok)
        lines = at + line_nos if isinstance(line_nos, int) else line_nos[at]
        cols: dict[str, np.ndarray] = {}
        if parsed.time_starts:
            cols["time"] = civil_times(*(values[column[runs[s]]] for s in parsed.time_starts))
        for slot in parsed.slots:
            arr = values[column[runs[slot.start]]]
            cols[slot.col] = arr * slot.scale if slot.scale != 1.0 else arr
        for col, value in parsed.consts.items():
            cols[col] = np.full(count, value)
        _add(state, _Block(lines, cols))
    return status, starts


def _add(state: _State, block: _Block) -> None:
    for col in block.cols:
        state.order.setdefault(col, None)
    state.blocks.append(block)


def _slow(rows: list[bytes], line_nos: np.ndarray, state: _State) -> _Block:
    values: list[dict[str, Any]] = []
    keep: list[int] = []
    for k, raw in enumerate(rows):
        text = raw.decode("utf-8", "surrogateescape").rstrip("\r")
        p = parse_line(text)
        if p is None:
            state.skipped += 1
            continue
        if state.hint is None:
            state.hint = board_hint(p)
        row = dict(p.values)
        if p.time_starts:
            row["time"] = _slow_time(text, p.time_starts)
        values.append(row)
        keep.append(k)
    cols: dict[str, np.ndarray] = {}
    names: dict[str, None] = {}
    for row in values:
        for key in row:
            names.setdefault(key, None)
    for key in names:
        if key == "time":
            cols[key] = np.array(
                [r.get("time", np.datetime64("NaT")) for r in values], dtype="datetime64[ns]"
            )
        else:
            cols[key] = np.array([r.get(key, math.nan) for r in values], dtype=float)
    return _Block(line_nos[np.asarray(keep, dtype=int)], cols)


def _slow_time(text: str, starts: list[int]) -> np.datetime64:
    mon, day, year, hh, mm, ss = (text[s : s + (4 if i == 2 else 2)] for i, s in enumerate(starts))
    try:
        return np.datetime64(f"{year}-{mon}-{day}T{hh}:{mm}:{ss}", "ns")
    except ValueError:
        return np.datetime64("NaT")


# families in the order tegrastats prints them; engines (nvenc, vic, ape, ...) by name
_FAMILY_ORDER = {f: i for i, f in enumerate(["ram", "swap", "iram", "mts", "cpu", "emc", "gpu"])}
_LATE = {"temp": 1, "power": 2}
# within one unit (cpu3, gpu, nvenc0): load before clock; rails and sensors keep the
# order the log prints them in
_UNIT_ORDER = {"pct": 0, "mhz": 1}
_BY_SIGHT = {"power", "temp", "ram", "swap", "iram", "mts"}


def _canonical(seen: list[str]) -> list[str]:
    """A column order that does not depend on which line showed a column first (cpu7 may
    be `off` at first, NVENC may only start later): families in tegrastats' order, units
    by number, load before clock."""
    head = [c.split("_", 1)[0] for c in seen]

    def key(k: int) -> tuple:
        fam = head[k].rstrip("0123456789")
        digits = head[k][len(fam) :]
        if fam in _FAMILY_ORDER:
            group = (0, _FAMILY_ORDER[fam], "")
        elif fam in _LATE:
            group = (2, _LATE[fam], "")
        else:
            group = (1, 0, fam)
        unit = 0 if fam in _BY_SIGHT else _UNIT_ORDER.get(seen[k].rsplit("_", 1)[-1], 2)
        return (*group, int(digits) if digits else -1, unit, k)

    return [seen[k] for k in sorted(range(len(seen)), key=key)]


def _assemble(state: _State) -> pd.DataFrame:
    blocks = [b for b in state.blocks if len(b.lines)]
    lines = np.concatenate([b.lines for b in blocks]) if blocks else np.zeros(0, dtype=int)
    in_order = bool(np.all(lines[1:] > lines[:-1])) if len(lines) > 1 else True
    order = None if in_order else np.argsort(lines, kind="stable")
    data: dict[str, np.ndarray] = {}
    # columns every log has, NaN where the board prints none (Thor: no GPU load, no EMC on
    # some releases): a constant column each, placed by the canonical order
    seen = [c for c in state.order if c != "time"]
    seen += [c for c in ALWAYS if c not in state.order]
    columns = ["time", *_canonical(seen)]
    for col in columns:
        parts = []
        for b in blocks:
            if col in b.cols:
                parts.append(b.cols[col])
            elif col == "time":
                parts.append(np.full(len(b.lines), np.datetime64("NaT"), "datetime64[ns]"))
            else:
                parts.append(np.full(len(b.lines), np.nan))
        if not parts:
            out = np.zeros(0, dtype="datetime64[ns]" if col == "time" else float)
        else:
            out = parts[0] if len(parts) == 1 else np.concatenate(parts)
        if col.startswith("temp_"):
            out = np.where(out == SENSOR_OFF_C, np.nan, out)
        data[col] = out if order is None else out[order]
    df = pd.DataFrame(data, copy=False)
    df.attrs["skipped"] = state.skipped
    df.attrs["lines"] = state.lines
    df.attrs["board_hint"] = state.hint
    return df
