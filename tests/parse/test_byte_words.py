"""Literals, numbers and short strings read as words at many offsets of a buffer."""

import numpy as np
import pytest

from labkit.parse.byte_words import (
    digits_in,
    literal_at,
    number_lengths,
    template_at,
    words_at,
)


def _buf(text: bytes) -> np.ndarray:
    return np.frombuffer(text, np.uint8)


def test_words_read_little_endian_and_zero_past_the_end():
    text = _buf(b"0123456789abcdefXYZ")
    first, second = words_at(text, np.array([0, 3, 15]), 2)
    assert first[0].tobytes() == b"01234567" and second[0].tobytes() == b"89abcdef"
    assert first[1].tobytes() == b"3456789a"
    assert first[2].tobytes() == b"fXYZ\0\0\0\0" and second[2] == 0


def test_words_of_a_buffer_shorter_than_a_word():
    (word,) = words_at(_buf(b"abc"), np.array([0, 2]), 1)
    assert [w.tobytes() for w in word] == [b"abc\0\0\0\0\0", b"c\0\0\0\0\0\0\0"]


def test_literal_must_fit_before_the_line_ends():
    text = _buf(b"Hz) x\nHz)\n")
    at, ends = np.array([0, 6, 6]), np.array([5, 9, 8])
    assert literal_at(text, at, ends, b"Hz)").tolist() == [True, True, False]


@pytest.mark.parametrize(
    ("field", "length"),
    [(b"12.5 Hz", 4), (b"inf Hz", 3), (b"x", 0), (b"123456789012 ", 12), (b"1234567890123", 0)],
)
def test_number_lengths(field, length):
    text = _buf(field + b"\n")
    got = number_lengths(text, np.array([0]), np.array([len(field)]), allow_inf=True)
    assert got.tolist() == [length]


def test_inf_only_where_allowed():
    text = _buf(b"inf)\n")
    assert number_lengths(text, np.array([0]), np.array([4]), allow_inf=False).tolist() == [0]


def test_template_checks_literals_and_digits_and_reads_the_digits():
    lines = [b"INFO 2026-04-21 15:07:09 x", b"INFO 2026-04-2: 15:07:09 x", b"INFO 2026/04/21"]
    text = _buf(b"\n".join(lines) + b"\n")
    starts = np.array([0, len(lines[0]) + 1, len(lines[0]) + len(lines[1]) + 2])
    ends = starts + [len(line) for line in lines]
    ok, words = template_at(text, starts, ends, b"INFO ####-##-## ##:##:## ")
    assert ok.tolist() == [True, False, False]
    assert digits_in(words, 5, 4)[0] == 2026 and digits_in(words, 22, 2)[0] == 9


@pytest.mark.parametrize("byte", [b"/", b":", b"\x7f", b"A"])
def test_template_digit_rejects_the_bytes_around_the_digits(byte):
    text = _buf(b"1" + byte + b"\n")
    ok, _ = template_at(text, np.array([0]), np.array([2]), b"##")
    assert ok.tolist() == [False]
