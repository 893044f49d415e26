"""Lines of one form decoded by Arrow's CSV reader: the bulk path for logs too small
to pay for loading the compiled kernel (``tegrastats_compiled``: numba's start-up is
about a second, Arrow is loaded already).

A chunk's lines are grouped by *form*: the text with each number's digits written as one
``0`` (decimal points kept) and the digits inside names (after a letter or ``_``:
``NVENC0``, ``GR3D``, ``soc012``) kept as they are. Lines of one form are read alike by
the reference grammar, the sample's parse says which run feeds which column, and a
damaged line (``RAM 1.5/7620MB``, ``NVENC00``, ``GRD``, a run gone or added) has a form
of its own, so it goes to the reference parser. A translation turns every character that
is not a digit or dot into a delimiter, and the CSV reader decodes each group's columns
at once. Rows it cannot vouch for go back to the reference parser.
"""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from labkit.parse.civil_time import civil_times
from labkit.parse.tegrastats_line import LineParse, board_hint, numeric_runs, parse_line
from labkit.parse.tegrastats_rows import Block, State, add, slow

NUMERIC = b"0123456789."
_ZEROS = bytes(48 if c in b"0123456789" else c for c in range(256))  # each digit a 0
# name runs are 1-3 bytes (GR3D, soc012): past this many steps they are found by run ids
_NAME_STEPS = 8
# the CSV reader decodes 1 MB blocks, whose parsed rows stay in cache while every column
# is gathered from them (16 MB blocks took ~1.5x as long at 1M lines)
CSV_BLOCK = 1 << 20


def parse_chunk(buf: bytes, end: int, first_line: int, state: State, bulk_min: int) -> int:
    """Parse the whole lines in ``buf[:end]`` into ``state``; returns how many there were.
    Groups of fewer than ``bulk_min`` lines take the reference parser."""
    if not end:
        return 0
    codes = _form_codes(buf, end)
    n = len(codes)
    state.lines += n
    raw_lines: list[bytes] | None = None
    if not codes.any():  # one form for the whole chunk: the common case
        groups: list[np.ndarray | None] = [None]
    else:
        raw_lines = buf.split(b"\n")[:n]
        order = np.argsort(codes, kind="stable")
        groups = np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)
        groups.sort(key=lambda idx: idx[0])  # forms in the order they first appear

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
        if len(line_idx) >= bulk_min:
            if idx is None:
                body, used = buf, end
            else:
                body = b"\n".join(rows_at(idx)) + b"\n"
                used = len(body)
            block = _bulk(body, used, text, parsed, line_idx + first_line)
        if block is None:
            block = slow(rows_at(line_idx), line_idx + first_line, state)
        elif (bad := block.lines < 0).any():  # rows the bulk path cannot vouch for
            redo = line_idx[bad]
            add(state, slow(rows_at(redo), redo + first_line, state))
            block = Block(block.lines[~bad], {k: v[~bad] for k, v in block.cols.items()})
        add(state, block)
    return n


def _form_codes(buf: bytes, end: int) -> np.ndarray:
    """Per whole line of ``buf[:end]``, a code that is equal for two lines exactly when
    their forms are (0 for the first line's form). Vectorised: a few passes of numpy over
    the bytes and, when a chunk holds more than one form, one Arrow hash of the forms; no
    per-line Python."""
    arr = np.frombuffer(buf, np.uint8, count=end)
    digit = (arr - np.uint8(48)) < 10
    names = _name_runs(arr, digit)
    keep = np.ones(len(arr), dtype=bool)
    keep[1:] = ~(digit[1:] & digit[:-1])  # a number's digits after its first
    keep[names] = True
    # a bytearray's translation is writable: the name runs' bytes go back in place
    form = np.frombuffer(bytearray(memoryview(buf)[:end]).translate(_ZEROS), np.uint8)
    form[names] = arr[names]
    form = form[keep]
    ends = np.flatnonzero(form == 10) + 1
    first = form[: ends[0]].tobytes()
    whole = form.tobytes()
    if len(whole) == len(ends) * len(first) and whole.count(first) == len(ends):
        return np.zeros(len(ends), dtype=np.int64)  # one form: no hashing of lines
    offsets = np.concatenate(([0], ends)).astype(np.int64)
    forms = pa.Array.from_buffers(
        pa.large_binary(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(form)]
    )
    return pc.dictionary_encode(forms).indices.to_numpy()


def _name_runs(arr: np.ndarray, digit: np.ndarray) -> np.ndarray:
    """Where (indices) ``arr`` holds a run of digits and dots that follows a letter or
    ``_``: few per line, so kept as indices, not a mask."""
    in_run = digit | (arr == 46)
    lead = arr[:-1] | np.uint8(0x20)  # lower-cased letters; '_' | 0x20 is DEL
    lead = ((lead - np.uint8(97)) < 26) | (lead == 127)
    at = np.flatnonzero(in_run[1:] & lead) + 1
    found = [at]
    for _ in range(_NAME_STEPS):
        at = at[at + 1 < len(arr)] + 1
        at = at[in_run[at]]
        if not len(at):
            return np.concatenate(found)
        found.append(at)
    # a long run inside a name (not tegrastats' own): mark whole runs by their ids
    run_id = np.cumsum(in_run & ~np.concatenate(([False], in_run[:-1])))
    return np.flatnonzero(in_run & np.isin(run_id, run_id[np.concatenate(found)]))


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
) -> Block | None:
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
    return Block(lines, cols)


def _floats(column: pa.ChunkedArray) -> np.ndarray:
    """A CSV column as float64 in one copy: integer blocks are cast while they are joined
    (not joined, then cast); nulls become NaN."""
    if column.null_count or not column.num_chunks or not pa.types.is_integer(column.type):
        return column.to_numpy(zero_copy_only=False).astype(float, copy=False)
    return np.concatenate([chunk.to_numpy() for chunk in column.chunks], dtype=float)
