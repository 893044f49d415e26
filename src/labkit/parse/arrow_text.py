"""Pieces of a text buffer as an Arrow string column, with no Python object per row.

An Arrow ``string_view`` row is 16 bytes that point into the buffer the text already sits
in (or hold a short string inline), so a column of a million messages is built from their
offsets and lengths with numpy; one cast to ``large_string`` then makes the contiguous copy
that the compute kernels and pandas' ``str`` dtype work on.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from labkit.parse.byte_words import INLINE, words_at

PIECE = 1 << 30  # view offsets are int32: a large buffer is addressed in overlapping pieces
_ONE, _EIGHT, _32 = np.uint64(1), np.uint64(8), np.uint64(32)


def bytes_at(text: np.ndarray, at: np.ndarray, width: int) -> np.ndarray:
    """``text[at[i] : at[i] + width]`` for every i, as an (n, width) array, gathered eight
    bytes at a time. Bytes past the end of ``text`` are not zero: callers mask by length."""
    words = -(-width // 8)
    near = at + 8 * words > len(text)  # windows that run off the end: byte by byte
    if len(text) < 8 or near.all():
        idx = np.minimum(at[:, None] + np.arange(width), max(len(text) - 1, 0))
        return text[idx] if len(text) else np.zeros((len(at), width), np.uint8)
    # every byte offset as the start of an (unaligned) 8-byte word: a view, no copy
    wide = np.ndarray((len(text) - 7,), dtype=np.uint64, buffer=text, strides=(1,))
    gathered = wide[np.minimum(at[:, None] + 8 * np.arange(words), len(wide) - 1)]
    out = gathered.view(np.uint8).reshape(len(at), 8 * words)[:, :width]
    if near.any():
        idx = np.minimum(at[near, None] + np.arange(width), len(text) - 1)
        out[near] = text[idx]
    return out


def line_bounds(text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (the newline's index) of every newline-terminated line in ``text``."""
    ends = np.flatnonzero(text == 10)
    starts = np.empty_like(ends)
    if len(ends):
        starts[0] = 0
        starts[1:] = ends[:-1] + 1
    return starts, ends


def strings(
    buffers: list[np.ndarray],
    which: np.ndarray,
    starts: np.ndarray,
    lengths: np.ndarray,
    valid: np.ndarray | None = None,
) -> pa.LargeStringArray:
    """Row i is ``buffers[which[i]][starts[i] : starts[i] + lengths[i]]`` (null where
    ``valid`` is False). The bytes must be UTF-8: they are not checked again."""
    return views(buffers, which, starts, lengths, valid).cast(pa.large_string())


def views(
    buffers: list[np.ndarray],
    which: np.ndarray,
    starts: np.ndarray,
    lengths: np.ndarray,
    valid: np.ndarray | None = None,
) -> pa.Array:
    """``strings`` as Arrow ``string_view``, not yet copied (a cast to numbers reads it
    as it is)."""
    n = len(starts)
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    if valid is not None:
        lengths = np.where(valid, lengths, 0)
    # a view is two words: length | first 4 bytes, then bytes 4-11 (short strings) or
    # buffer index | offset in that buffer (long ones)
    words = np.zeros((n, 2), dtype=np.uint64)
    size = lengths.astype(np.uint64)
    short = lengths <= INLINE
    arrow_buffers: list[pa.Buffer] = []
    empty = lengths == 0  # their view is all zero but the length: nothing to read
    for b, buf in enumerate(buffers):
        if len(buffers) > 1 or empty.any():
            rows = np.flatnonzero((which == b) & ~empty if len(buffers) > 1 else ~empty)
        else:
            rows = slice(None)
        at = starts[rows]
        if not len(at) or not len(buf):
            continue
        first, second = words_at(buf, at, 2)
        sz, sh = size[rows], short[rows]
        # a short string's bytes past its length must be zero
        low = np.where(sz >= 8, first, first & ((_ONE << (sz * _EIGHT)) - _ONE))
        rest = np.clip(sz, 8, INLINE) - np.uint64(8)
        high = second & ((_ONE << (rest * _EIGHT)) - _ONE)
        piece = at // PIECE
        longest = int(lengths[rows].max())
        if longest > PIECE:
            raise ValueError(f"a string of {longest} bytes is longer than one buffer piece")
        base = len(arrow_buffers)
        whole = pa.py_buffer(buf)
        for k in range(int(piece[~sh].max()) + 1 if (~sh).any() else 0):
            arrow_buffers.append(whole.slice(k * PIECE, min(PIECE + longest, len(buf) - k * PIECE)))
        located = (base + piece).astype(np.uint64) | ((at - piece * PIECE).astype(np.uint64) << _32)
        words[rows, 0] = sz | (np.where(sh, low, first) << _32)
        words[rows, 1] = np.where(sh, (low >> _32) | (high << _32), located)
    validity = None
    if valid is not None and not valid.all():
        validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
    return pa.Array.from_buffers(
        pa.string_view(), n, [validity, pa.py_buffer(words), *arrow_buffers]
    )


def python_strings(values: list[str | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Python strings (few) as one UTF-8 buffer with their starts and lengths, for
    ``strings``: lone surrogates are replaced, as Arrow holds only valid UTF-8."""
    encoded = [(v or "").encode("utf-8", "replace") for v in values]
    lengths = np.fromiter((len(e) for e in encoded), dtype=np.int64, count=len(encoded))
    starts = np.zeros(len(encoded), dtype=np.int64)
    if len(encoded):
        starts[1:] = np.cumsum(lengths)[:-1]
    return np.frombuffer(b"".join(encoded), np.uint8), starts, lengths
