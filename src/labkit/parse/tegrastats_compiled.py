"""Lines decoded by the compiled kernel (``shape_kernel``, numba): the bulk path for
large logs, where its one pass over the bytes pays for loading it (about a second).

Every line of a chunk is first decoded against the shape of its first sample line (the
common case: a log keeps one shape for hours); the lines of other shapes are then
grouped by shape and decoded group by group; rows the kernel cannot vouch for go back
to the reference parser.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from labkit.parse.civil_time import civil_times
from labkit.parse.shape_kernel import (
    BAD_VALUE,
    OK,
    OTHER_SHAPE,
    Shape,
    count_lines,
    decode,
    line_after,
)
from labkit.parse.tegrastats_line import board_hint, numeric_runs, parse_line
from labkit.parse.tegrastats_rows import Block, State, add, slow

NUMERIC = b"0123456789."
SAMPLE_TRIES = 64  # lines looked at for a chunk's first sample


def parse_chunk(text: np.ndarray, end: int, first_line: int, state: State, bulk_min: int) -> int:
    """Parse the whole lines in ``text[:end]`` (bytes as uint8) into ``state``; returns how
    many there were. Other shapes' groups of fewer than ``bulk_min`` lines take the
    reference parser."""
    if not end:
        return 0
    n = count_lines(text, end)
    state.lines += n
    first = None
    at = 0
    for _ in range(min(n, SAMPLE_TRIES)):  # the first sample line (a header may come first)
        stop = line_after(text, at, end)
        sample = text[at : stop - 1].tobytes()
        if parse_line(sample.decode("utf-8", "surrogateescape").rstrip("\r")) is not None:
            first = _decode_shape(text, end, n, sample, first_line, state)
            break
        at = stop
    if first is None:
        status = np.full(n, OTHER_SHAPE, dtype=np.uint8)
        starts = np.concatenate(([0], np.flatnonzero(text[:end] == 10) + 1))
    else:
        status, starts = first
    redo = np.flatnonzero(status == BAD_VALUE)
    if len(redo):
        add(state, slow(_rows(text, starts, redo), redo + first_line, state))
    others = np.flatnonzero(status == OTHER_SHAPE)
    if len(others):
        _parse_by_shape(_rows(text, starts, others), others + first_line, state, bulk_min)
    return n


def _rows(text: np.ndarray, starts: np.ndarray, idx: np.ndarray) -> list[bytes]:
    """Lines ``idx`` of ``text`` (without their newline), by the offsets the kernel noted."""
    return [text[starts[i] : starts[i + 1] - 1].tobytes() for i in idx]


def mapped_chunks(path: str | Path, chunk_bytes: int) -> Iterator[tuple[np.ndarray, int, bool]]:
    """(bytes from a block's start to the file's end, how many of them are the block's
    whole lines, whether a partial line ended the file), the file mapped into memory:
    nothing is copied, and the page cache's pages are mapped as the kernel reaches them."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        if not size:
            return
        try:
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except (OSError, ValueError):  # not a regular file: read it
            mm = fh.read()
            size = len(mm)
    if isinstance(mm, mmap.mmap):
        mm.madvise(mmap.MADV_SEQUENTIAL)
    whole = np.frombuffer(mm, np.uint8)
    at = 0
    while at < size:
        cut = mm.rfind(b"\n", at, min(at + chunk_bytes, size)) + 1
        if cut <= at:  # a line longer than a block: the block runs to its end
            cut = mm.find(b"\n", at) + 1
            if cut <= at:  # the file ends inside a line: a truncated last sample
                yield whole[:0], 0, True
                return
        yield whole[at:], cut - at, False
        at = cut


def _parse_by_shape(rows: list[bytes], line_nos: np.ndarray, state: State, bulk_min: int) -> None:
    """Lines that did not have the chunk's first shape: grouped by their own shape, each
    group of at least ``bulk_min`` lines decoded in bulk, the rest line by line."""
    by_shape: dict[bytes, list[int]] = {}
    for i, row in enumerate(rows):
        by_shape.setdefault(row.translate(None, NUMERIC), []).append(i)
    for members in by_shape.values():
        idx = np.asarray(members)
        group = [rows[i] for i in members]
        decoded = None
        if len(group) >= bulk_min:
            body = b"\n".join(group) + b"\n"
            text = np.frombuffer(body, np.uint8)
            decoded = _decode_shape(text, len(body), len(group), group[0], line_nos[idx], state)
        if decoded is None:
            add(state, slow(group, line_nos[idx], state))
            continue
        status, _ = decoded
        redo = np.flatnonzero(status != OK)  # a group's shape is its first line's
        if len(redo):
            add(state, slow([group[i] for i in redo], line_nos[idx[redo]], state))


def _decode_shape(
    text: np.ndarray, end: int, n: int, sample: bytes, line_nos: int | np.ndarray, state: State
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
    if shape is None:
        return None
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
        add(state, Block(lines, cols))
    return status, starts
