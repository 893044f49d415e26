"""The bulk path of ``read_record_log`` gives the frame the line-by-line loop gives."""

import io
import math
import random

import pandas as pd
import pytest

from labkit.workloads.lerobot.log import read_record_log, read_record_log_by_line
from tests.conftest import DATA

LR = DATA / "lerobot"
STAMP = "2026-01-01 00:00:00"
ODD = [
    "",
    "   ",
    "ERROR oops",
    "stdout print",
    "Traceback (most recent call last):",
    '  File "x.py", line 1, in <module>',
    "ValueError: x",
    "{'a': [1,",
    " 2]}",
    f"WARNING {STAMP} t_record.py:423 Record loop is running slower (1.2.3 Hz) than the "
    "target FPS (30 Hz)",
    f"WARNING {STAMP} t_record.py:423 Control loop is running slower (inf Hz) than the "
    "target FPS (30 Hz)",
    f"ERROR {STAMP} t_record.py:423 Record loop is running slower (3 Hz) than the target "
    "FPS (30 Hz)",
    f"WARNING {STAMP} t_record.py:423 Record loop is running slower (12 Hz) than the target "
    "FPS (30 Hz). Recording episode",
    f"WARNING {STAMP} t_record.py:423 note: Record loop is running slower (7.5 Hz) than the "
    "target FPS (30 Hz)",
    "INFO 2026-13-01 00:00:00 abcdefghijklmno bad month",
    "INFO 2026-01-01 00:00:60 abcdefghijklmno leap second",
    "INFO 0999-01-01 00:00:00 abcdefghijklmno before datetime64[ns]",
    f"INFO [PID: 12] {STAMP} abcdefghijklmno with a pid",
    f"INFO {STAMP} abcdéfghijklmno non-ASCII location",
    f"INFO {STAMP} abcdefghijklmno non-ASCII message: ü",
    f"INFO {STAMP} abcdefghijklmno ",
    f"INFO {STAMP} abcdefghijklmno",
    f"DEBUG {STAMP} abcdefghijklmno short",
    f"CRITICAL {STAMP} abcdefghijklmno critical",
    f"INFO {STAMP} abcdefghijklmno Recording episode 7",
    f"INFO {STAMP} abcdefghijklmno Cadence (episode 3): 20.0 Hz vs 30.0 Hz target",
    f"INFO {STAMP} abcdefghijklmno with\ttab",
]


def _pool() -> list[str]:
    lines = list(ODD)
    for log in sorted(LR.glob("*.log")):
        lines += log.read_text().splitlines()
    return lines


@pytest.mark.parametrize("seed", range(12))
def test_bulk_equals_line_by_line(seed):
    rnd = random.Random(seed)
    pool = _pool()
    lines = [rnd.choice(pool) for _ in range(rnd.randint(50, 400))]
    pd.testing.assert_frame_equal(read_record_log(lines), read_record_log_by_line(lines))


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_sources_agree(tmp_path, newline):
    lines = [random.Random(3).choice(_pool()) for _ in range(300)]
    path = tmp_path / "record.log"
    path.write_bytes((newline.join(lines) + newline).encode() + b"\xff bad byte\n")
    from_file = read_record_log(path)
    from_bytes = read_record_log(io.BytesIO(path.read_bytes()))
    pd.testing.assert_frame_equal(from_file, from_bytes)
    pd.testing.assert_frame_equal(from_file, read_record_log_by_line(path))
    assert from_file["message"].iloc[-1] == "\ufffd bad byte"
    assert from_file["line"].iloc[-1] == len(lines) + 1


def test_an_unreadable_rate_is_nan_not_a_crash():
    df = read_record_log(ODD[9:12])
    assert list(df["kind"]) == ["slow_loop"] * 3
    assert math.isnan(df["hz"].iloc[0]) and df["hz"].iloc[1] == math.inf
    assert df["hz"].iloc[2] == 3.0 and (df["target_hz"] == 30.0).all()


def test_times_as_pandas_reads_them():
    """A leap second runs into the next minute (as ``pd.to_datetime`` reads ``%S``); an
    impossible date, or one outside datetime64[ns], is NaT."""
    df = read_record_log(ODD[14:17] + [f"INFO {STAMP} abcdefghijklmno fine"])
    assert df["time"].dtype == "datetime64[ns]"
    assert pd.isna(df["time"].iloc[0]) and pd.isna(df["time"].iloc[2])
    assert df["time"].iloc[1] == pd.Timestamp("2026-01-01 00:01:00")
    assert df["time"].iloc[3] == pd.Timestamp(STAMP)


def test_episodes_run_over_bulk_and_line_by_line_rows():
    warn = ODD[10]
    lines = [warn, ODD[24], warn, warn, ODD[25], warn]
    df = read_record_log(lines)
    assert df["episode"].isna().tolist() == [True, False, False, False, False, False]
    assert df["episode"].tolist()[1:] == [7, 7, 7, 3, 7]


# rates the bytes' word reader (labkit.parse.byte_words) must read as the loop does
WARN = "WARNING 2026-01-01 00:00:00 t_record.py:423 Record loop is running slower ({} Hz) "
WARN += "than the target FPS ({} Hz)"


@pytest.mark.parametrize(
    ("rate", "target"),
    [
        (".5", "30"),
        ("5.", "30"),
        (".", "30"),
        ("007", "30.0"),
        ("12345678901234", "30"),
        ("1", "123456789012"),
        ("2.5", "1..0"),
        ("inf", "inf"),
    ],
)
def test_odd_rates_read_as_the_line_by_line_parser_reads_them(rate, target):
    lines = [WARN.format(rate, target)] * 3
    pd.testing.assert_frame_equal(read_record_log(lines), read_record_log_by_line(lines))


def test_a_warning_that_ends_the_file_without_a_newline(tmp_path):
    path = tmp_path / "record.log"
    path.write_bytes(WARN.format("9.5", "30").encode())
    df = read_record_log(path)
    assert df["hz"].tolist() == [9.5] and df["target_hz"].tolist() == [30.0]
