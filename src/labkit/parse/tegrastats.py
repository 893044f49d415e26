"""tegrastats logs -> one pandas row per sample, fast enough to rebuild every report.

Lines of one log share a *shape*: the same text once its numeric runs (digits and dots)
are taken out. A shape's sample line is parsed once with the reference grammar
(``tegrastats_line.parse_line``), which says which numeric run feeds which column; the
lines of that shape are then decoded in bulk: by the compiled kernel in one pass over the
bytes for a large log (``tegrastats_compiled``), by Arrow's CSV reader for a smaller one
(``tegrastats_csv``: loading the kernel costs about a second, more than such a log's
whole parse). Small shape groups, and rows a bulk path cannot vouch for, go through the
reference parser line by line (``tegrastats_rows``), so every path gives identical values.

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
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from labkit.parse import tegrastats_csv
from labkit.parse.tegrastats_rows import State

BULK_MIN_LINES = 32
# 16 MB read at a time by the CSV path (64 MB was slower: the translations' outputs left
# the cache)
CHUNK_BYTES = 16 << 20
# logs of this size or more take the compiled kernel (~130,000 lines of Thor's): at about
# 2.5 us a line less than the CSV path, it then repays the second it takes to load
KERNEL_MIN_BYTES = 64 << 20
# read at a time by the kernel: a log of up to 1 GB is one block, decoded into one array
# per column (no joining of blocks)
KERNEL_CHUNK_BYTES = 1 << 30
SENSOR_OFF_C = -256.0
ALWAYS = ("gpu_load_pct", "emc_load_pct", "emc_freq_mhz")

ChunkParser = Callable[[Any, int, int, State, int], int]


def read_tegrastats(source: str | Path | IO | Iterable[str]) -> pd.DataFrame:
    """Parse a tegrastats log (path, file object or iterable of lines) into a DataFrame."""
    if isinstance(source, (str, Path)):
        size = os.stat(source).st_size
    elif hasattr(source, "read"):
        source = source.read()
        if isinstance(source, str):
            source = source.encode("utf-8", "surrogateescape")
        size = len(source)
    else:
        source = [s.encode("utf-8", "surrogateescape") if isinstance(s, str) else bytes(s)
                  for s in source]  # fmt: skip
        size = sum(map(len, source))
    parse_chunk, chunks = _bulk_path(size)
    state = State()
    first_line = 1
    for buf, end, truncated_tail in chunks(source):
        first_line += parse_chunk(buf, end, first_line, state, BULK_MIN_LINES)
        if truncated_tail:
            state.skipped += 1
            state.lines += 1
    return _assemble(state)


def _bulk_path(size: int) -> tuple[ChunkParser, Callable[[Any], Iterable[tuple]]]:
    """The chunk parser for a log of ``size`` bytes, and the chunks it reads."""
    if size < KERNEL_MIN_BYTES:
        return tegrastats_csv.parse_chunk, lambda source: _chunks(source, CHUNK_BYTES)
    # on use: numba's start-up (~1 s) only for logs large enough to repay it; the run
    # path's summary of a recording parses small logs
    from labkit.parse import tegrastats_compiled  # noqa: PLC0415

    def arrays(source) -> Iterable[tuple[np.ndarray, int, bool]]:
        if isinstance(source, (str, Path)):
            yield from tegrastats_compiled.mapped_chunks(source, KERNEL_CHUNK_BYTES)
            return
        for buf, end, truncated in _chunks(source, KERNEL_CHUNK_BYTES):
            yield np.frombuffer(buf, np.uint8), end, truncated

    return tegrastats_compiled.parse_chunk, arrays


# ---- input ---------------------------------------------------------------------------
def _chunks(source, chunk_bytes: int) -> Iterable[tuple[bytes, int, bool]]:
    """(bytes, how many of them are whole lines, whether a partial line ended the input),
    from a path, the text a file object gave, or a list of lines as bytes.

    Bytes past ``end`` belong to the next chunk: passing the read block whole (instead of
    a copy of its head) saves copying the log once more."""
    if isinstance(source, bytes):  # what a file object gave
        yield from _split_stream(io.BytesIO(source), chunk_bytes)
        return
    if isinstance(source, (str, Path)):
        with open(source, "rb") as fh:
            yield from _split_stream(fh, chunk_bytes)
        return
    terminated = any(s.endswith(b"\n") for s in source)
    if terminated and source and not source[-1].endswith(b"\n"):
        # a log read line by line whose last line never got its newline: a partial write
        body = b"".join(source[:-1])
        yield body, len(body), True
        return
    body = b"".join(s if s.endswith(b"\n") else s + b"\n" for s in source)
    yield body, len(body), False


def _split_stream(fh: IO[bytes], chunk_bytes: int) -> Iterable[tuple[bytes, int, bool]]:
    """Blocks of about ``chunk_bytes``; a block's partial last line is read again (seek) as
    the head of the next one, so no block is copied to cut it."""
    while True:
        block = fh.read(chunk_bytes)
        if not block:
            return
        cut = block.rfind(b"\n") + 1
        while cut == 0 and len(block) % chunk_bytes == 0:  # a line longer than a block
            more = fh.read(chunk_bytes)
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


def _assemble(state: State) -> pd.DataFrame:
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
