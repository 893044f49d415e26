"""Short fields at a million offsets of a text buffer, read as 64-bit words.

Checking a literal or measuring a number at every line of a log is a few numpy operations
on one unaligned 8-byte word per row and per 8 bytes of field, where a (rows x width)
byte matrix would cost a pass over width bytes per row for every operation on it.
"""

from __future__ import annotations

import numpy as np

INLINE = 12  # an Arrow string view holds strings up to this many bytes itself; numbers
# read here are at most that long


def words_at(text: np.ndarray, at: np.ndarray, count: int) -> list[np.ndarray]:
    """``count`` little-endian words per offset: word j of row i is
    ``text[at[i] + 8j : at[i] + 8j + 8]``. Bytes past the end of ``text`` read as zero."""
    at = np.asarray(at, dtype=np.int64)
    if not len(at):
        return [np.zeros(0, dtype=np.uint64) for _ in range(count)]
    span = 8 * count
    fits = at <= len(text) - span
    out: list[np.ndarray] = []
    if fits.all():
        wide = np.ndarray((len(text) - 7,), dtype=np.uint64, buffer=text, strides=(1,))
        return [wide[at + 8 * j] if j else wide[at] for j in range(count)]
    # windows that run off the end read a zero-padded copy of the tail
    base = max(len(text) - span, 0)
    tail = np.zeros(len(text) - base + span + 8, dtype=np.uint8)
    tail[: len(text) - base] = text[base:]
    tail_wide = np.ndarray((len(tail) - 7,), dtype=np.uint64, buffer=tail, strides=(1,))
    near = np.flatnonzero(~fits)
    if fits.any():
        wide = np.ndarray((max(len(text) - 7, 0),), dtype=np.uint64, buffer=text, strides=(1,))
    for j in range(count):
        word = np.empty(len(at), dtype=np.uint64)
        if fits.any():
            word[fits] = wide[at[fits] + 8 * j]
        word[near] = tail_wide[np.minimum(at[near] - base + 8 * j, len(tail_wide) - 1)]
        out.append(word)
    return out


def _word_and_mask(literal: bytes, j: int) -> tuple[np.uint64, np.uint64]:
    piece = literal[8 * j : 8 * j + 8]
    mask = (1 << (8 * len(piece))) - 1
    return np.uint64(int.from_bytes(piece, "little")), np.uint64(mask)


def literal_at(text: np.ndarray, at: np.ndarray, ends: np.ndarray, literal: bytes) -> np.ndarray:
    """Whether ``literal`` (no newline in it) starts at each offset and ends by ``ends``."""
    ok = np.asarray(ends - at >= len(literal))
    words = words_at(text, at, -(-len(literal) // 8))
    for j, word in enumerate(words):
        want, mask = _word_and_mask(literal, j)
        ok &= (word & mask) == want
    return ok


def number_lengths(
    text: np.ndarray, at: np.ndarray, ends: np.ndarray, allow_inf: bool
) -> np.ndarray:
    """Length of the ``[0-9.]+`` run (or ``inf``) at each offset, up to ``INLINE`` bytes and
    not past ``ends``; 0 where there is none or it is longer."""
    words = words_at(text, at, 2)
    window = np.stack(words, axis=1).view(np.uint8)  # (rows, 16): byte k of the field
    inside = np.arange(16) < (ends - at)[:, None]
    numeric = (((window - 48) < 10) | (window == 46)) & inside
    length = np.argmin(numeric, axis=1)
    length[numeric.all(axis=1) | (length > INLINE)] = 0
    if allow_inf:
        inf = (length == 0) & ((words[0] & np.uint64(0xFFFFFF)) == np.uint64(0x666E69))
        length[inf & inside[:, 2]] = 3
    return length


def template_at(
    text: np.ndarray, at: np.ndarray, ends: np.ndarray, template: bytes
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Whether ``template`` starts at each offset and ends by ``ends`` — its bytes as
    they are, each ``#`` any digit 0-9 — and the words read there, for ``digits_in``.
    The bytes must be ASCII (a digit's check adds 6 to it: no carry below 0x80)."""
    ok = np.asarray(ends - at >= len(template))
    words = words_at(text, at, -(-len(template) // 8))
    for j, word in enumerate(words):
        piece = template[8 * j : 8 * j + 8]
        lit = sum(0xFF << (8 * i) for i, c in enumerate(piece) if c != ord("#"))
        dig = sum(0xFF << (8 * i) for i, c in enumerate(piece) if c == ord("#"))
        want = int.from_bytes(piece.replace(b"#", b"\0"), "little")
        ok &= (word & np.uint64(lit)) == np.uint64(want)
        if dig:
            high, threes = np.uint64(dig & 0xF0F0F0F0F0F0F0F0), np.uint64(dig & 0x3030303030303030)
            digits = word & np.uint64(dig)
            ok &= (digits & high) == threes  # 0x30-0x3F
            ok &= ((digits + np.uint64(dig & 0x0606060606060606)) & high) == threes  # <= 0x39
    return ok, words


def digits_in(words: list[np.ndarray], at: int, width: int) -> np.ndarray:
    """The number written by ``width`` digit bytes from byte ``at`` of the words read by
    ``template_at``."""
    value = np.zeros(len(words[0]), dtype=np.int64)
    for i in range(at, at + width):
        digit = (words[i // 8] >> np.uint64(8 * (i % 8))) & np.uint64(0xF)
        value = value * 10 + digit.astype(np.int64)
    return value
