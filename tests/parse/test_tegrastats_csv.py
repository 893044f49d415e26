"""The CSV path's grouping of lines by form: a line whose numbers are written otherwise
than its neighbours' (or whose names hold other digits) is read by the reference parser."""

import math

import numpy as np
import pytest

from labkit.parse import read_tegrastats
from labkit.parse.tegrastats_csv import _form_codes
from labkit.parse.tegrastats_line import parse_line

LINE = "RAM {ram}/7620MB (lfb 3x4MB) CPU [{load}%@729] {name}@{temp}C VDD_IN {mw}mW/{mw}mW"


def _lines(n: int, **odd) -> list[str]:
    lines = [
        LINE.format(ram=500 + i, load=i % 100, name="soc0", temp=f"{40 + i % 9}.5", mw=i * 7)
        for i in range(n)
    ]
    lines[n // 2] = LINE.format(
        **{"ram": 9, "load": 1, "name": "soc0", "temp": "41.5", "mw": 3, **odd}
    )
    return lines


@pytest.mark.parametrize(
    "odd",
    [
        {"ram": "1.5"},  # a point where the grammar wants an integer
        {"temp": "41"},  # no point where the sample had one
        {"name": "soc00"},  # another name
        {"name": "soc012345678901234"},  # a name run longer than the steps that find them
        {"name": "soc"},  # the name's run gone
        {"mw": "3.", "ram": "5"},
    ],
)
def test_an_odd_line_reads_as_the_reference_reads_it(odd):
    lines = _lines(64, **odd)
    df = read_tegrastats(lines)
    expected = [p for p in (parse_line(t) for t in lines) if p is not None]
    assert len(df) == len(expected)
    for i, p in enumerate(expected):
        for key, value in p.values.items():
            got = df.iloc[i][key]
            assert (math.isnan(value) and math.isnan(got)) or got == value, (i, key)


def test_numbers_of_other_widths_share_a_form_and_odd_lines_do_not():
    lines = _lines(8, name="soc1") + ["RAM 5/7620MB"]
    body = ("\n".join(lines) + "\n").encode()
    codes = _form_codes(body, len(body))
    assert list(codes) == [0, 0, 0, 0, 1, 0, 0, 0, 2]
    assert np.array_equal(
        _form_codes(body[: body.index(b"\n") + 1] * 3, 3 * (body.index(b"\n") + 1)), [0, 0, 0]
    )
