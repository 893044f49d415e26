"""Arrow string columns built from offsets into byte buffers."""

import numpy as np

from labkit.parse.arrow_text import bytes_at, line_bounds, python_strings, strings


def _buf(text: bytes) -> np.ndarray:
    return np.frombuffer(text, np.uint8)


def test_short_long_null_and_two_buffers():
    first = _buf(b"a line longer than twelve bytes\nshort\n")
    extra, at, size = python_strings(["from python, long enough", None, "tiny"])
    which = np.array([0, 0, 1, 1, 1], np.int8)
    starts = np.array([0, 32, at[0], at[1], at[2]])
    lengths = np.array([31, 5, size[0], size[1], size[2]])
    valid = np.array([True, True, True, False, True])
    got = strings([first, extra], which, starts, lengths, valid).to_pylist()
    assert got == [
        "a line longer than twelve bytes",
        "short",
        "from python, long enough",
        None,
        "tiny",
    ]


def test_bytes_at_reads_to_the_very_end():
    text = _buf(b"0123456789abcdef")
    at = np.array([0, 9, 13, 15])
    got = bytes_at(text, at, 3)
    assert [bytes(r) for r in got[:3]] == [b"012", b"9ab", b"def"]
    assert got[3, 0] == ord("f")  # past the end: unspecified, but no error


def test_line_bounds():
    starts, ends = line_bounds(_buf(b"ab\n\ncd\n"))
    assert starts.tolist() == [0, 3, 4] and ends.tolist() == [2, 3, 6]
