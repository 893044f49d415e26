"""The compiled shape decoder: exact values, every odd run sent back to the reference
parser, and the same result whether one thread or several decode a buffer."""

import random

import numpy as np
import pytest

import labkit.parse.shape_kernel as sk
from labkit.parse.tegrastats_line import numeric_runs, parse_line

HEAD = "04-21-2026 15:00:{s:02d} RAM {ram}/7620MB (lfb 3x4MB) CPU [{load}%@{mhz},0%@729]"


def _decode_all(lines: list[bytes], column_of_run: dict[int, int], columns: int):
    body = b"".join(line + b"\n" for line in lines)
    text = np.frombuffer(body, np.uint8)
    shape = sk.Shape.of(lines[0], column_of_run)
    return sk.decode(text, len(body), sk.count_lines(text, len(body)), shape, columns)


def test_decimals_equal_float_of_their_text():
    """A run of digits '.' digits decodes to exactly float(text), for every split of up to
    15 digits between the two parts (the integer / power-of-ten division is exact)."""
    rnd = random.Random(11)
    runs = []
    for _ in range(3000):
        whole, frac = rnd.randint(1, 8), rnd.randint(1, 7)
        runs.append(
            "".join(rnd.choice("0123456789") for _ in range(whole))
            + "."
            + "".join(rnd.choice("0123456789") for _ in range(frac))
        )
    lines = [f"t@{r}C x@{r}C".encode() for r in runs]
    values, status, _ = _decode_all(lines, {0: 0, 1: 1}, 2)
    assert (status == sk.OK).all()
    assert values[0].tolist() == [float(r) for r in runs]
    assert values[1].tolist() == [float(r) for r in runs]


def test_integers_up_to_the_exact_limit_and_beyond():
    """Eight-digit and longer integers (read byte by byte) are exact below 2^53; a larger
    one is not vouched for: the line goes back to the reference parser."""
    ints = ["7", "12345678", "123456789", "9007199254740991", "9007199254740993", "0000012"]
    lines = [f"VDD {i}/5".encode() for i in ints]
    values, status, _ = _decode_all(lines, {0: 0}, 1)
    assert status.tolist() == [sk.OK, sk.OK, sk.OK, sk.OK, sk.BAD_VALUE, sk.OK]
    ok = status == sk.OK
    assert values[0][ok].tolist() == [float(i) for i, good in zip(ints, ok, strict=True) if good]


@pytest.mark.parametrize(
    ("run", "status"),
    [
        ("45", sk.BAD_VALUE),  # the sample's run had a decimal point
        ("4.5.6", sk.BAD_VALUE),
        (".5", sk.BAD_VALUE),
        ("5.", sk.BAD_VALUE),
        ("12345678.5", sk.OK),  # an integer part of 8 digits: read byte by byte
        ("1.123456789", sk.OK),
    ],
)
def test_runs_the_sample_does_not_vouch_for(run, status):
    lines = [b"cpu@45.5C tj@1.0C", f"cpu@{run}C tj@1.0C".encode()]
    values, got, _ = _decode_all(lines, {0: 0, 1: 1}, 2)
    assert got.tolist() == [sk.OK, status]
    if status == sk.OK:
        assert values[0, 1] == float(run)


def test_an_odd_run_no_column_needs_still_sends_the_line_back():
    """A sample `VDD_GPU 219.mW/5988mW` is no rail to the grammar (the point breaks it),
    so its columns lack the rail, while `VDD_GPU 1668mW/8895mW` (the same text between
    the runs) is one: a point that differs anywhere leaves the line to the reference."""
    lines = [b"A 1 B 2", b"A 1.2.3 B 7", b"A 1. B 7", b"A 5 B 7"]
    values, status, _ = _decode_all(lines, {1: 0}, 1)
    assert status.tolist() == [sk.OK, sk.BAD_VALUE, sk.BAD_VALUE, sk.OK]
    assert values[0][[0, 3]].tolist() == [2.0, 7.0]
    values, status, _ = _decode_all([b"A 1. B 2", b"A 1 B 3"], {1: 0}, 1)
    assert status.tolist() == [sk.BAD_VALUE, sk.BAD_VALUE]


def test_digits_inside_a_name_must_be_the_samples():
    """NVENC00 or GR33D are other names to the grammar (other columns, or no GR3D at all);
    the digits after a letter or _ are the sample's or the line goes to the reference."""
    lines = [b"GR3D_FREQ 5% NVENC0 @314 x4MB", b"GR33D_FREQ 6% NVENC0 @314 x4MB",
             b"GR3D_FREQ 7% NVENC00 @314 x4MB", b"GR3D_FREQ 8% NVENC1 @314 x4MB",
             b"GR3D_FREQ 9% NVENC0 @315 x4MB", b"GR3D_FREQ 9% NVENC0 @315 x2MB"]  # fmt: skip
    values, status, _ = _decode_all(lines, {1: 0, 3: 1}, 2)
    assert status.tolist() == [sk.OK, sk.BAD_VALUE, sk.BAD_VALUE, sk.BAD_VALUE, sk.OK,
                               sk.BAD_VALUE]  # fmt: skip
    assert values[:, 4].tolist() == [9.0, 315.0]


@pytest.mark.parametrize(
    "other",
    [b"VDD 5/6 ", b"VDD 5/", b"VDD 5/6/7", b"VDX 5/6", b"VDD 5 6", b"", b"VDD /6", b"VDD 5/6\r"],
)
def test_other_shapes_are_told_apart(other):
    """Same digits, other text; a run missing or extra; the line ends early or late."""
    lines = [b"VDD 1/2", other, b"VDD 3/4"]
    values, status, starts = _decode_all(lines, {0: 0, 1: 1}, 2)
    assert status.tolist() == [sk.OK, sk.OTHER_SHAPE, sk.OK]
    assert values[:, 2].tolist() == [3.0, 4.0]
    assert starts.tolist() == [0, 8, 8 + len(other) + 1, 8 + len(other) + 9]


def test_threads_decode_as_one(monkeypatch):
    """Cut into parts at newlines (however the cuts fall), the result is one thread's."""
    rnd = random.Random(3)
    lines = []
    for i in range(997):
        ram = rnd.choice([str(rnd.randint(0, 99999)), "1.5", "123456789012"]) if i else "7"
        line = HEAD.format(s=i % 60, ram=ram, load=rnd.randint(0, 100), mhz=rnd.randint(1, 2000))
        lines.append(line if i == 0 or rnd.random() > 0.05 else "garbage " + line)
    body = "".join(line + "\n" for line in lines).encode()
    text = np.frombuffer(body, np.uint8)
    parsed = parse_line(lines[0])
    runs = {m: k for k, m in enumerate(numeric_runs(lines[0]))}
    column = {runs[s.start]: c for c, s in enumerate(parsed.slots)}
    shape = sk.Shape.of(lines[0].encode(), column)
    one = sk.decode(text, len(body), len(lines), shape, len(column))
    monkeypatch.setattr(sk, "PARALLEL_MIN_LINES", 7)
    for threads in (2, 3, 4):
        monkeypatch.setattr(sk, "THREADS", threads)
        many = sk.decode(text, len(body), len(lines), shape, len(column))
        ok = one[1] == sk.OK
        assert (many[1] == one[1]).all() and (many[2] == one[2]).all()
        assert np.array_equal(many[0][:, ok], one[0][:, ok])
    assert 0 < (one[1] == sk.OK).sum() < len(lines) and (one[1] == sk.BAD_VALUE).any()
