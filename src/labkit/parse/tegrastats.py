"""tegrastats logs -> one pandas row per sample, fast enough to rebuild every report.

Lines of one log share a *shape*: the same text once digits and dots are removed. Each
shape is parsed once with the reference grammar (``tegrastats_line.parse_line``), which
says which numeric run feeds which column; all lines of that shape are then decoded in
bulk by pyarrow's CSV reader over the bytes with every non-numeric character turned into
a delimiter. Small shape groups, and rows the bulk path cannot vouch for, go through the
reference parser line by line, so both paths give identical values.

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
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from labkit.parse.civil_time import civil_times
from labkit.parse.tegrastats_line import LineParse, board_hint, numeric_runs, parse_line

NUMERIC = b"0123456789."
BULK_MIN_LINES = 32
# 16 MB read at a time (64 MB was slower: the translations' outputs left the cache); the
# CSV reader decodes 1 MB blocks, whose parsed rows stay in cache while every column is
# gathered from them (16 MB blocks took ~1.5x as long at 1M lines)
CHUNK_BYTES = 16 << 20
CSV_BLOCK = 1 << 20
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
    """Parse the whole lines in ``buf[:end]`` into ``state``; returns how many there were."""
    if not end:
        return 0
    skel = buf.translate(None, NUMERIC)
    first_skel = skel[: skel.find(b"\n") + 1]
    raw_lines: list[bytes] | None = None
    whole = skel.rfind(b"\n") + 1 if end < len(buf) else len(skel)
    # k non-overlapping copies of the first line's shape that exactly fill the chunk's
    # shapes: every line has that shape (a fast search, no k-fold copy to compare with),
    # and there are k lines
    k = whole // len(first_skel)
    uniform = whole == k * len(first_skel) and skel.count(first_skel, 0, whole) == k
    n = k if uniform else buf.count(b"\n", 0, end)
    state.lines += n
    if uniform:  # one shape for the whole chunk: the common case
        groups: list[np.ndarray | None] = [None]
    else:
        raw_lines = buf.split(b"\n")[:n]
        by_shape: dict[bytes, list[int]] = {}
        for i, shape in enumerate(skel.split(b"\n")[:n]):
            by_shape.setdefault(shape, []).append(i)
        groups = [np.asarray(idx) for idx in by_shape.values()]

    def rows_at(idx: np.ndarray) -> list[bytes]:
        nonlocal raw_lines
        if raw_lines is None:
            raw_lines = buf.split(b"\n")[:n]
        return [raw_lines[i] for i in idx]

    for idx in groups:
        line_idx = np.arange(n) if idx is None else idx
        sample = buf[: buf.find(b"\n")] if idx is None else raw_lines[idx[0]]
        text = sample.decode("utf-8", "surrogateescape").rstrip("\r")
        parsed = parse_line(text)
        if parsed is None:
            state.skipped += len(line_idx)
            continue
        if state.hint is None:
            state.hint = board_hint(parsed)
        block = None
        if len(line_idx) >= BULK_MIN_LINES:
            if idx is None:
                body, used = buf, end
            else:
                body = b"\n".join(rows_at(idx)) + b"\n"
                used = len(body)
            block = _bulk(body, used, text, parsed, line_idx + first_line)
        if block is None:
            block = _slow(rows_at(line_idx), line_idx + first_line, state)
        elif (bad := block.lines < 0).any():  # rows the bulk path cannot vouch for
            redo = line_idx[bad]
            _add(state, _slow(rows_at(redo), redo + first_line, state))
            block = _Block(block.lines[~bad], {k: v[~bad] for k, v in block.cols.items()})
        _add(state, block)
    return n


def _add(state: _State, block: _Block) -> None:
    for col in block.cols:
        state.order.setdefault(col, None)
    state.blocks.append(block)


def _delimiting(sample: bytes) -> tuple[bytes, bytes]:
    """A translation that leaves one space between numeric runs and drops every other
    character: the fewest fields for the CSV reader. The separators are the spaces and,
    where two runs have no space between them, one character of what lies between
    (``/``, ``@``, ``,``, ``x``, ``-``, ``:``...), chosen from the sample's shape; lines
    of that shape separate their runs alike."""
    between = re.split(rb"[0-9.]+", sample)[1:-1]
    keep = {32}
    for part in between:
        if not keep & set(part):
            keep.add(part[-1])
    keep.discard(10)
    table = bytes(c if c in NUMERIC or c == 10 else (32 if c in keep else c) for c in range(256))
    dropped = bytes(c for c in range(256) if c not in NUMERIC and c != 10 and c not in keep)
    return table, dropped


def _bulk(
    body: bytes, used: int, sample: str, parsed: LineParse, line_nos: np.ndarray
) -> _Block | None:
    """Decode every line of one shape at once; ``None`` if the shape defeats the bulk path."""
    runs = {start: k for k, start in enumerate(numeric_runs(sample))}
    raw = sample.encode("utf-8", "surrogateescape")
    table, dropped = _delimiting(raw)
    fields = raw.translate(table, dropped).split(b" ")
    field_of_run = [i for i, f in enumerate(fields) if f]
    if len(field_of_run) != len(runs):
        return None
    need: dict[int, str] = {}
    for slot in parsed.slots:
        if slot.start not in runs:
            return None
        need.setdefault(field_of_run[runs[slot.start]], f"f{field_of_run[runs[slot.start]]}")
    for start in parsed.time_starts:
        if start not in runs:
            return None
        need.setdefault(field_of_run[runs[start]], f"f{field_of_run[runs[start]]}")
    names = [f"f{i}" for i in range(len(fields))]
    text = body.translate(table, dropped)
    if used < len(body):  # bytes past ``used`` (a next block's head) hold no newline
        text = pa.py_buffer(text).slice(0, text.rfind(b"\n") + 1)  # no copy
    columns = sorted(set(need.values()), key=lambda c: int(c[1:]))
    # whole numbers parse quicker as integers; a decimal point in one of them (a shape
    # does not fix it) sends the columns back to floats
    whole = {c: pa.int64() if b"." not in fields[int(c[1:])] else pa.float64() for c in columns}
    for types in (whole, dict.fromkeys(columns, pa.float64())):
        try:
            table = pacsv.read_csv(
                pa.BufferReader(text),
                read_options=pacsv.ReadOptions(column_names=names, block_size=CSV_BLOCK),
                parse_options=pacsv.ParseOptions(
                    delimiter=" ", quote_char=False, escape_char=False, double_quote=False
                ),
                convert_options=pacsv.ConvertOptions(
                    include_columns=columns,
                    column_types=types,
                    null_values=[""],
                    check_utf8=False,
                ),
            )
            break
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            continue
    else:
        return None
    if table.num_rows != len(line_nos):
        return None
    arrays = {c: _floats(table.column(c)) for c in table.column_names}
    valid = np.ones(len(line_nos), dtype=bool)
    for c, arr in arrays.items():
        if table.column(c).null_count:  # the text holds digits and dots only: no "nan"
            valid &= ~np.isnan(arr)
    cols: dict[str, np.ndarray] = {}
    if parsed.time_starts:
        parts = [arrays[need[field_of_run[runs[s]]]] for s in parsed.time_starts]
        cols["time"] = civil_times(*parts)
    for slot in parsed.slots:
        arr = arrays[need[field_of_run[runs[slot.start]]]]
        cols[slot.col] = arr * slot.scale if slot.scale != 1.0 else arr
    for col, value in parsed.consts.items():
        cols[col] = np.full(len(line_nos), value)
    lines = line_nos.copy()
    lines[~valid] = -1
    return _Block(lines, cols)


def _floats(column: pa.ChunkedArray) -> np.ndarray:
    """A CSV column as float64 in one copy: integer blocks are cast while they are joined
    (not joined, then cast); nulls become NaN."""
    if column.null_count or not column.num_chunks or not pa.types.is_integer(column.type):
        return column.to_numpy(zero_copy_only=False).astype(float, copy=False)
    return np.concatenate([chunk.to_numpy() for chunk in column.chunks], dtype=float)


def _slow(rows: list[bytes], line_nos: np.ndarray, state: _State) -> _Block:
    values: list[dict[str, Any]] = []
    keep: list[int] = []
    for k, raw in enumerate(rows):
        text = raw.decode("utf-8", "surrogateescape").rstrip("\r")
        p = parse_line(text)
        if p is None:
            state.skipped += 1
            continue
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
