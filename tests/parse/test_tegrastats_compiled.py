"""read_tegrastats through the compiled kernel (forced for small logs here): the same
frame as the CSV path and the reference parser, for every source, shape mix and cut."""

import io
import math
import random
import subprocess
import sys

import pandas as pd
import pytest

import labkit.parse.tegrastats as tg
from labkit.parse import read_tegrastats
from labkit.parse.tegrastats_line import parse_line
from tests.conftest import DATA
from tests.parse.test_tegrastats import _mixed_log

HEAD = "04-21-2026 15:00:{s:02d} RAM {ram}/7620MB (lfb 3x4MB) CPU [{load}%@{mhz},0%@729]"


@pytest.fixture
def compiled(monkeypatch):
    monkeypatch.setattr(tg, "KERNEL_MIN_BYTES", 0)


def _both(source_of, monkeypatch):
    """The frame by the CSV path, then by the compiled one, from fresh sources."""
    by_csv = read_tegrastats(source_of())
    monkeypatch.setattr(tg, "KERNEL_MIN_BYTES", 0)
    return by_csv, read_tegrastats(source_of())


@pytest.mark.parametrize("seed", [3, 7])
def test_compiled_path_equals_the_csv_path(monkeypatch, seed):
    lines = ["# tegrastats --interval 1000", *_mixed_log(600, seed=seed)]
    text = "\n".join(lines) + "\n"
    by_csv, by_kernel = _both(lambda: io.StringIO(text), monkeypatch)
    pd.testing.assert_frame_equal(by_csv, by_kernel)
    assert by_kernel.attrs == by_csv.attrs


@pytest.mark.parametrize("name", ["agx-orin", "orin-nano", "thor-r38", "tx2", "xavier-nx"])
def test_fixture_files_read_alike(monkeypatch, name):
    by_csv, by_kernel = _both(lambda: DATA / "tegrastats" / f"{name}.txt", monkeypatch)
    pd.testing.assert_frame_equal(by_csv, by_kernel)
    assert by_kernel.attrs == by_csv.attrs


@pytest.mark.parametrize("chunk", [64, 700, 4096])
def test_kernel_blocks_cut_anywhere_read_as_one(tmp_path, monkeypatch, compiled, chunk):
    lines = _mixed_log(300, seed=5)
    log = tmp_path / "t.log"
    log.write_text("\n".join(lines) + "\n" + lines[0][:40])  # and a truncated last line
    whole = read_tegrastats(log)
    monkeypatch.setattr(tg, "KERNEL_CHUNK_BYTES", chunk)
    monkeypatch.setattr(tg, "BULK_MIN_LINES", 2)
    cut = read_tegrastats(log)
    pd.testing.assert_frame_equal(whole, cut)
    assert cut.attrs["skipped"] == whole.attrs["skipped"] and cut.attrs["lines"] == len(lines) + 1


def test_odd_numbers_give_what_the_reference_parser_gives(compiled):
    """Runs the kernel does not vouch for (a decimal point where the sample had none,
    two points, no digits on one side, past 2^53) go back to the reference parser."""
    rnd = random.Random(5)
    temps = ["45.5", "45", "4.5.6", ".5", "5.", "123456789.25", "0.000001", "-3.5", "7.1234567"]
    lines = []
    for i in range(200):
        ram = rnd.choice(["512", "1.5", "000", "99999999999", "9007199254740993"])
        lines.append(
            HEAD.format(s=i % 60, ram=ram, load=rnd.randint(0, 100), mhz=rnd.randint(1, 2000))
            + f" cpu@{rnd.choice(temps)}C VDD_IN {rnd.randint(0, 9999)}mW/{rnd.randint(0, 99)}mW"
        )
    df = read_tegrastats(lines)
    expected = [p for p in (parse_line(t) for t in lines) if p is not None]
    assert len(df) == len(expected) and df.attrs["skipped"] == len(lines) - len(expected)
    for i, p in enumerate(expected):
        for key, value in p.values.items():
            got = df.iloc[i][key]
            assert (math.isnan(value) and math.isnan(got)) or got == value, (i, key)


def test_a_small_log_does_not_load_numba():
    """The run path summarises each recording's (small) log: numba's second of start-up
    is paid only by a log large enough to repay it."""
    code = (
        "import sys\n"
        "from labkit.parse import read_tegrastats\n"
        f"df = read_tegrastats({_mixed_log(100)!r})\n"
        "print(len(df), 'numba' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    n, loaded = out.stdout.split()
    assert int(n) > 90 and loaded == "False"


# the kernel's: a point in a sample's rail, GR33D, NVENC00; the CSV path's as it was: GR8D,
# rows kept or dropped unlike the reference, RAM 1.5 read as 1.5, NVENC0 where the sample
# has NVENC, a rail's value lost, NVENC read as NVENC0
MUTATED_SEEDS = [0, 1, 3, 10, 12, 19, 28, 38, 50]


@pytest.mark.parametrize("kernel_min", [0, 1 << 40], ids=["compiled", "csv"])
@pytest.mark.parametrize("seed", MUTATED_SEEDS)
def test_mutated_lines_give_what_the_reference_parser_gives(monkeypatch, kernel_min, seed):
    """A byte changed, dropped or doubled in a third of the lines (digits, dots, letters,
    separators): every row either bulk path keeps is the reference parser's row."""
    monkeypatch.setattr(tg, "KERNEL_MIN_BYTES", kernel_min)
    rnd = random.Random(seed)
    lines = []
    for line in _mixed_log(400, seed=seed):
        if line and rnd.random() < 0.33:
            at = rnd.randrange(len(line))
            kind = rnd.choice(["set", "drop", "double"])
            if kind == "set":
                line = line[:at] + rnd.choice("0123456789.. ,/@%CxmW[]") + line[at + 1 :]
            elif kind == "drop":
                line = line[:at] + line[at + 1 :]
            else:
                line = line[:at] + line[at] + line[at:]
        lines.append(line)
    df = read_tegrastats(lines)
    expected = [p for p in (parse_line(t) for t in lines) if p is not None]
    assert len(df) == len(expected) and df.attrs["skipped"] == len(lines) - len(expected)
    for i, p in enumerate(expected):
        row = df.iloc[i]
        assert set(p.values) <= set(df.columns)
        for key, value in p.values.items():
            got = row[key]
            if key.startswith("temp_") and value == -256:
                value = math.nan
            assert (math.isnan(value) and math.isnan(got)) or got == value, (i, key)


@pytest.mark.parametrize("kernel_min", [0, 1 << 40])
def test_an_empty_clock_in_a_list_is_nan_not_a_crash(monkeypatch, kernel_min):
    monkeypatch.setattr(tg, "KERNEL_MIN_BYTES", kernel_min)
    line = "RAM 775/7620MB (lfb 3x4MB) CPU [1%@729] GR3D_FREQ @[314,,316] NVDEC @[,5] cpu@48C"
    row = read_tegrastats([line]).iloc[0]
    assert row["gpu_freq_mhz"] == 314 and math.isnan(row["gpu1_freq_mhz"])
    assert row["gpu2_freq_mhz"] == 316 and math.isnan(row["nvdec_freq_mhz"])
