"""Every line of one *shape* decoded in one compiled pass over the bytes (numba).

A shape is a sample line with its numeric runs (``[0-9.]+``) taken out: the text
between the runs (the *segments*) and how many runs there are. A line has the sample's
shape when it is the same segments with one run between each two; run k of the line
then feeds the column that run k of the sample feeds. Checking that and decoding the
numbers in the same pass reads each byte once, eight at a time: a segment is one masked
compare per 8 bytes, a number's length and value come from one 8-byte word with integer
arithmetic (SWAR), no branch per byte. A general CSV reader over the same text (the
previous bulk path) tokenised ~90 fields a line and gathered every column from its rows,
several times this pass's cost.

Per line the kernel reports ``OK``, ``BAD_VALUE`` (the shape holds but a run is not
written as the sample's was — a decimal point where the sample had none or the reverse,
two points, a point with no digits on one side, 2^53 or more — so the grammar may read
the line otherwise: the caller parses it with the reference parser) or ``OTHER_SHAPE``.
Values are exact: a run of digits below 2^53 as an integer, divided by a power of ten
(both exact in float64), is the correctly rounded decimal that ``float()`` gives.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core.extending import intrinsic
from numba.cpython.unsafe.numbers import trailing_zeros

OK, BAD_VALUE, OTHER_SHAPE = 0, 1, 2
NUMERIC = b"0123456789."
THREADS = min(os.cpu_count() or 1, 4)
PARALLEL_MIN_LINES = 50_000  # fewer lines a thread would not pay for its start
_MAX_EXACT = 1 << 53
_POW10 = np.array([10.0**k for k in range(23)])  # 1e0..1e22: exact in float64

# SWAR constants (numba keeps the arithmetic in uint64 only if every operand is)
_U = np.uint64
_Z30, _Z7F, _Z76 = _U(0x3030303030303030), _U(0x7F7F7F7F7F7F7F7F), _U(0x7676767676767676)
_Z80, _Z01, _Z0F = _U(0x8080808080808080), _U(0x0101010101010101), _U(0x0F0F0F0F0F0F0F0F)
_Z00FF, _Z0000FFFF = _U(0x00FF00FF00FF00FF), _U(0x0000FFFF0000FFFF)
_M1, _M2, _M3 = _U(2561), _U(6553601), _U(42949672960001)
_S0, _S7, _S8, _S16, _S32, _S56 = _U(0), _U(7), _U(8), _U(16), _U(32), _U(56)
_ONE, _FF = _U(1), _U(0xFF)


@intrinsic
def _word_at(typingctx, buf, pos):
    """The 8 bytes at ``buf[pos:]`` as one unaligned little-endian load: indexing a
    stride-1 uint64 view multiplies by its stride and wraps negative indices first, on
    the path from one number's end to the next one's start."""

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        at = builder.gep(data, [args[1]])
        return builder.load(builder.bitcast(at, ir.IntType(64).as_pointer()), align=1)

    return types.uint64(buf, pos), codegen


@dataclass
class Shape:
    """A sample line's shape, as the kernel reads it: the segments (the last one ends
    with the newline) as 8-byte words and masks, and per run whether the sample's held
    a decimal point, which output column it feeds (-1: none) and, for a run that is part
    of a name (after a letter or ``_``: NVENC0, GR3D, soc012, the 4 of ``34x4MB``), its
    bytes: ``NVENC00`` or ``GR33D`` are other names to the grammar, so such a run must
    be the sample's."""

    seg_len: np.ndarray  # int64, runs + 1
    seg_word: np.ndarray  # int64, runs + 2: segment k's words are [seg_word[k], seg_word[k+1])
    words: np.ndarray  # uint64
    masks: np.ndarray  # uint64
    run_dot: np.ndarray  # bool, one per run
    column: np.ndarray  # int64, one per run
    name_len: np.ndarray  # int64, one per run: its length if part of a name, else 0
    name_word: np.ndarray  # uint64, one per run: those bytes
    name_mask: np.ndarray  # uint64, one per run

    @classmethod
    def of(cls, sample: bytes, column_of_run: dict[int, int]) -> Shape | None:
        """``sample``: one line without its newline; ``column_of_run``: run index (in line
        order) -> output column. ``None`` if a name holds a run longer than a word."""
        segments, runs, named = [b""], [], []
        at = 0
        while at < len(sample):
            stop = at
            numeric = sample[at] in NUMERIC
            while stop < len(sample) and (sample[stop] in NUMERIC) == numeric:
                stop += 1
            if numeric:
                runs.append(sample[at:stop])
                named.append(at > 0 and (chr(sample[at - 1]).isalpha() or sample[at - 1] == 95))
                segments.append(b"")
            else:
                segments[-1] = sample[at:stop]
            at = stop
        segments[-1] += b"\n"
        words, masks, seg_word = [], [], [0]
        for seg in segments:
            for i in range(0, len(seg), 8):
                piece = seg[i : i + 8]
                words.append(int.from_bytes(piece, "little"))
                masks.append((1 << (8 * len(piece))) - 1)
            seg_word.append(len(words))
        column = np.full(len(runs), -1, dtype=np.int64)
        for run, col in column_of_run.items():
            column[run] = col
        names = [r if name else b"" for r, name in zip(runs, named, strict=True)]
        if any(len(r) > 8 for r in names):
            return None
        return cls(
            seg_len=np.array([len(s) for s in segments], dtype=np.int64),
            seg_word=np.array(seg_word, dtype=np.int64),
            words=np.array(words, dtype=np.uint64),
            masks=np.array(masks, dtype=np.uint64),
            run_dot=np.array([b"." in r for r in runs], dtype=np.bool_),
            column=column,
            name_len=np.array([len(r) for r in names], dtype=np.int64),
            name_word=np.array([int.from_bytes(r, "little") for r in names], dtype=np.uint64),
            name_mask=np.array([(1 << (8 * len(r))) - 1 for r in names], dtype=np.uint64),
        )


def decode(buf: np.ndarray, end: int, lines: int, shape: Shape, columns: int) -> tuple:
    """Decode the ``lines`` newline-terminated lines in ``buf[:end]`` against ``shape``:
    ``(values, status, starts)`` — values (columns x lines; only the ``OK`` lines' are
    meaningful), each line's status and the offset of each line (and of the end).

    Large inputs are cut at newlines into one part per core, decoded by threads (the
    kernel holds no GIL), each into its own rows of the same arrays."""
    values = np.empty((columns, lines))
    status = np.empty(lines, dtype=np.uint8)
    starts = np.empty(lines + 1, dtype=np.int64)
    parts = min(THREADS, lines // PARALLEL_MIN_LINES) if lines >= PARALLEL_MIN_LINES else 1
    cuts, firsts = [0], [0]
    for k in range(1, parts):
        cut = _line_after(buf, end * k // parts, end)
        if cut <= cuts[-1] or cut >= end:
            continue
        firsts.append(firsts[-1] + int(_count_lines(buf, cuts[-1], cut)))
        cuts.append(cut)
    cuts.append(end)
    firsts.append(lines)

    def part(k: int) -> None:
        _decode(buf, cuts[k], cuts[k + 1], firsts[k], firsts[k + 1], shape.seg_len,
                shape.seg_word, shape.words, shape.masks, shape.run_dot, shape.column,
                shape.name_len, shape.name_word, shape.name_mask, values, status, starts,
                _POW10)  # fmt: skip

    if len(cuts) == 2:
        part(0)
    else:
        with ThreadPoolExecutor(len(cuts) - 1) as pool:
            list(pool.map(part, range(len(cuts) - 1)))
    return values, status, starts


def count_lines(buf: np.ndarray, end: int) -> int:
    """Newlines in ``buf[:end]``."""
    return int(_count_lines(buf, 0, end))


@njit(cache=True, nogil=True)
def _count_lines(buf, start, end):
    n = 0
    for i in range(start, end):  # a loop the compiler vectorises
        n += buf[i] == 10
    return n


def line_after(buf: np.ndarray, at: int, end: int) -> int:
    """The offset just past the first newline at or after ``at`` (``end`` if none)."""
    return int(_line_after(buf, at, end))


@njit(cache=True, nogil=True)
def _line_after(buf, at, end):
    """The offset just past the first newline at or after ``at`` (``end`` if none)."""
    while at < end and buf[at] != 10:
        at += 1
    return min(at + 1, end)


@njit(cache=True, nogil=True)
def _tail(buf, pos):
    """The bytes from ``pos`` to the buffer's end, zero-padded to a word (the kernel
    loads whole words itself everywhere else: a call that passes an array costs a
    reference count, several times the load)."""
    w = _S0
    for i in range(min(8, len(buf) - pos)):
        w |= _U(buf[pos + i]) << _U(8 * i)
    return w


@njit(cache=True, nogil=True)
def _digits_value(w, count):
    """The number the first ``count`` (1-8) bytes of the word spell, all digits."""
    v = (w << _U(8 * (8 - count))) & _Z0F  # leading zeros fill the low bytes
    v = (v * _M1) >> _S8
    v = ((v & _Z00FF) * _M2) >> _S16
    return np.int64(((v & _Z0000FFFF) * _M3) >> _S32)


@njit(cache=True, nogil=True)
def _lead_digits(w):
    """How many of the word's bytes, from the first, are ASCII digits (0-8), and the
    byte after them (meaningless when all 8 are)."""
    x = w ^ _Z30
    high = (((x & _Z7F) + _Z76) | x) & _Z80  # bit 7 of every byte that is not a digit
    count = np.int64(trailing_zeros(high)) >> 3  # 64 (no such byte) -> 8
    return count, (w >> _U((8 * count) & 63)) & _FF


@njit(cache=True, nogil=True)
def _run_bytewise(buf, pos):
    """A numeric run read byte by byte (long runs, odd dots): its end, the digits as an
    integer (capped at 2^53), how many digits, dots, and digits after the first dot."""
    n = 0
    digits = dots = frac = 0
    while pos < len(buf) and ((buf[pos] >= 48 and buf[pos] <= 57) or buf[pos] == 46):
        if buf[pos] == 46:
            dots += 1
        else:
            if n < _MAX_EXACT:
                n = n * 10 + np.int64(buf[pos] - 48)
            digits += 1
            if dots:
                frac += 1
        pos += 1
    return pos, n, digits, dots, frac


@njit(cache=True, nogil=True)
def _decode(buf, pos, end, line, stop, seg_len, seg_word, words, masks, run_dot, column,
            name_len, name_word, name_mask,
            values, status, starts, pow10):  # fmt: skip
    """Lines ``line`` .. ``stop`` - 1, the first at ``pos``, the last ending by ``end``."""
    runs = len(run_dot)
    nbuf = len(buf)
    while pos < end and line < stop:
        starts[line] = pos
        state = OK
        # the segments' bytes that differ from the shape's, or-ed together: checked once
        # a line (no branch per segment); a line that strays reads on harmlessly
        bad = _S0
        for k in range(runs + 1):
            # segment k: the text before run k (the last one: to the newline, included)
            for i in range(seg_word[k], seg_word[k + 1]):
                at = pos + 8 * (i - seg_word[k])
                word = _word_at(buf, at) if at + 8 <= nbuf else _tail(buf, at)
                bad |= (word & masks[i]) ^ words[i]
            pos += seg_len[k]
            if k == runs:
                break
            # run k: digits, or digits '.' digits, each part shorter than 8 bytes here
            w = _word_at(buf, pos) if pos + 8 <= nbuf else _tail(buf, pos)
            begin = pos
            whole, c = _lead_digits(w)
            n = 0
            frac = 0
            if 0 < whole < 8 and c != 46:  # an integer
                n = _digits_value(w, whole)
                sound = not run_dot[k]
                pos += whole
            elif whole == 0 and c != 46:  # no run where the shape has one
                state = OTHER_SHAPE
                break
            else:
                at = pos + whole + 1
                tail = _word_at(buf, at) if at + 8 <= nbuf else _tail(buf, at)
                part, after = _lead_digits(tail)
                if 0 < whole < 8 and 0 < part < 8 and after != 46:  # digits '.' digits
                    n = _digits_value(w, whole) * np.int64(10**part) + _digits_value(tail, part)
                    frac = part
                    sound = run_dot[k]
                    pos = at + part
                else:
                    pos, n, digits, dots, frac = _run_bytewise(buf, pos)
                    if run_dot[k]:
                        sound = dots == 1 and frac > 0 and digits > frac and frac < 23
                    else:
                        sound = dots == 0
                    sound = sound and n < _MAX_EXACT
            # a run whose decimal point differs from the sample's (even one no column
            # needs) may change how the grammar reads the line: the reference decides
            if name_len[k] and (pos - begin != name_len[k] or w & name_mask[k] != name_word[k]):
                sound = False  # another name
            if not sound:
                state = BAD_VALUE
            elif column[k] >= 0:
                values[column[k], line] = n / pow10[frac] if frac else float(n)
        if state == OTHER_SHAPE or bad != _S0:
            state = OTHER_SHAPE
            pos = starts[line]
            while buf[pos] != 10:  # the line's end, where the shape lost it
                pos += 1
            pos += 1
        status[line] = state
        line += 1
    starts[line] = pos
    return line


# load the compiled kernels (numba's on-disk cache, or compile them once) when the module
# loads, with the array types real calls pass: a fixed cost paid with the imports, not
# inside the first log parsed
decode(np.frombuffer(b"1\n" * 8, np.uint8), 16, 8, Shape.of(b"1", {0: 0}), 1)
