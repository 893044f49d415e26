"""Lines decoded by the compiled kernel (``shape_kernel``, numba): the bulk path for
large logs, where its one pass over the bytes pays for loading it (about a second).

Every line of a chunk is first decoded against the shape of its first sample line (the
common case: a log keeps one shape for hours); the lines of other shapes are then
grouped by shape and decoded group by group; rows the kernel cannot vouch for go back
to the reference parser.
"""

from __future__ import annotations

import numpy as np

from labkit.parse.civil_time import civil_times
from labkit.parse.shape_kernel import BAD_VALUE, OK, OTHER_SHAPE, Shape, count_lines, decode
from labkit.parse.tegrastats_line import board_hint, numeric_runs, parse_line
from labkit.parse.tegrastats_rows import Block, State, add, slow

NUMERIC = b"0123456789."


def parse_chunk(buf: bytes, end: int, first_line: int, state: State, bulk_min: int) -> int:
    """Parse the whole lines in ``buf[:end]`` into ``state``; returns how many there were.

    Other shapes' groups of fewer than ``bulk_min`` lines take the reference parser."""
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
            add(state, slow(_rows(buf, starts, redo), redo + first_line, state))
        others = np.flatnonzero(status == OTHER_SHAPE)
    if len(others):
        rows = _rows(buf, starts, others) if starts is not None else buf[:end].split(b"\n")[:n]
        _parse_by_shape(rows, others + first_line, state, bulk_min)
    return n


def _rows(buf: bytes, starts: np.ndarray, idx: np.ndarray) -> list[bytes]:
    """Lines ``idx`` of ``buf`` (without their newline), by the offsets the kernel noted."""
    return [buf[starts[i] : starts[i + 1] - 1] for i in idx]


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
