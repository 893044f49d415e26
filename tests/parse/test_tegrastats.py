"""Data-driven: every fixture line and every grammar case becomes a test with expected values."""

import io
import math
import random

import numpy as np
import pandas as pd
import pytest
import yaml

import labkit.parse.tegrastats as tg
from labkit.parse import read_tegrastats
from labkit.parse.tegrastats_line import parse_line
from tests.conftest import DATA

TS = DATA / "tegrastats"
SHARED = yaml.safe_load((TS / "expected.yaml").read_text())["entries"]
GRAMMAR = yaml.safe_load((TS / "grammar-cases.yaml").read_text())


def _same(a, b):
    if b is None:
        return a is None or (isinstance(a, float) and math.isnan(a))
    return a == pytest.approx(b)


def _row(file, line):
    """The parsed row for fixture line ``line`` (1-based) of ``file``."""
    text = (TS / file).read_text().splitlines()[line - 1]
    df = read_tegrastats([text])
    assert len(df) == 1, f"{file}:{line} did not parse"
    return df.iloc[0]


@pytest.mark.parametrize("case", SHARED, ids=lambda c: f"{c['file']}:{c['line']}")
def test_shared_fixture_hand_checked(case):
    row = _row(case["file"], case["line"])
    ts = case["timestamp"]
    if ts is None:
        assert pd.isna(row["time"])
    else:
        assert row["time"] == pd.to_datetime(ts, format="%m-%d-%Y %H:%M:%S")
    for key in ("ram_used_mb", "ram_total_mb", "swap_used_mb", "swap_total_mb"):
        assert _same(row.get(key), case[key]), key
    for i, (load, freq) in enumerate(zip(case["cpu_loads"], case["cpu_freqs_mhz"], strict=True)):
        assert _same(row[f"cpu{i}_load_pct"], load)
        assert _same(row[f"cpu{i}_freq_mhz"], freq)
    assert f"cpu{len(case['cpu_loads'])}_load_pct" not in row.index
    assert _same(row.get("gpu_load_pct"), case["gr3d_freq_pct"])
    gpcs = case["gr3d_freqs_mhz"] or []
    for k, f in enumerate(gpcs):
        assert _same(row["gpu_freq_mhz" if k == 0 else f"gpu{k}_freq_mhz"], f)
    assert _same(row.get("emc_load_pct"), case["emc_freq_pct"])
    assert _same(row.get("emc_freq_mhz"), case["emc_freq_mhz"])
    for name, value in case["temperatures"].items():
        expected = None if value == -256 else value  # a sensor that is off is NaN
        assert _same(row[f"temp_{name.lower()}_c"], expected), name
    for rail, values in case["power_rails"].items():
        base = f"power_{rail.lower()}"
        assert _same(row[f"{base}_mw"], values[0])
        assert _same(row[f"{base}_avg_mw"], values[1])
        if len(values) == 3:
            assert _same(row[f"{base}_max_mw"], values[2])


@pytest.mark.parametrize("case", GRAMMAR, ids=lambda c: c["name"])
def test_grammar_variant(case):
    df = read_tegrastats([case["line"]])
    if case.get("skip"):
        assert len(df) == 0 and df.attrs["skipped"] == 1
        return
    assert len(df) == 1 and df.attrs["skipped"] == 0
    row = df.iloc[0]
    for key, value in case["expect"].items():
        if key in case.get("absent", []):
            continue
        assert _same(row[key], value), key
    for key in case.get("absent", []):
        assert key not in df.columns
    if "time" in case:
        assert row["time"] == pd.Timestamp(case["time"])
    if "board_hint" in case:
        assert df.attrs["board_hint"] == case["board_hint"]


@pytest.mark.parametrize("name", ["agx-orin", "orin-nano", "thor-r38", "tx2", "xavier-nx"])
def test_whole_fixture_files(name):
    text = (TS / f"{name}.txt").read_text().splitlines()
    df = read_tegrastats(TS / f"{name}.txt")
    comments = sum(1 for t in text if t.startswith("#"))
    assert df.attrs["skipped"] == comments
    assert len(df) == len(text) - comments
    assert df.attrs["board_hint"] == {"thor-r38": "thor"}.get(name, name)


def _mixed_log(n=400, seed=7):
    """Thor lines with varying numbers and shapes, garbage interleaved."""
    rnd = random.Random(seed)
    lines = []
    for i in range(n):
        cpus = ",".join(
            "off"
            if rnd.random() < 0.05
            else f"{rnd.randint(0, 100)}%@{rnd.choice([972, 1566, 2601])}"
            for _ in range(14)
        )
        nvenc = rnd.choice(["NVENC0_FREQ @314", "NVENC0 off", "NVENC0 12%@1164"])
        lines.append(
            f"04-21-2026 15:{i // 60 % 60:02d}:{i % 60:02d} RAM {rnd.randint(1000, 125000)}"
            f"/125772MB (lfb 34x4MB) CPU [{cpus}] EMC_FREQ 0%@2750 GR3D_FREQ @[314,314,314] "
            f"{nvenc} VIC off APE 300 cpu@{rnd.uniform(30, 90):.3f}C tj@{rnd.randint(30, 90)}C "
            f"VDD_GPU {rnd.randint(0, 9999)}mW/{rnd.randint(0, 9999)}mW VIN 19780mW/19780mW"
        )
        if rnd.random() < 0.03:
            lines.append(rnd.choice(["", "garbage here", "\x00\x01\x02", "RAM 1/2MB"]))
    return lines


def test_bulk_path_equals_reference_parser():
    lines = _mixed_log()
    df = read_tegrastats(io.StringIO("\n".join(lines) + "\n"))
    expected = [p for p in (parse_line(t) for t in lines) if p is not None]
    assert len(df) == len(expected)
    assert df.attrs["skipped"] == len(lines) - len(expected)
    for i, p in enumerate(expected):
        for key, value in p.values.items():
            got = df.iloc[i][key]
            if key.startswith("temp_") and value == -256:
                value = math.nan
            assert (math.isnan(value) and math.isnan(got)) or got == value, (i, key)


def test_truncated_last_line_of_a_file_is_skipped(tmp_path):
    lines = _mixed_log(50, seed=3)
    log = tmp_path / "t.log"
    log.write_text("\n".join(lines) + "\n" + lines[0][:-9])  # cut mid-number, no newline
    df = read_tegrastats(log)
    full = read_tegrastats(io.StringIO("\n".join(lines) + "\n"))
    assert len(df) == len(full)
    assert df.attrs["skipped"] == full.attrs["skipped"] + 1


def test_sources_agree(tmp_path):
    lines = _mixed_log(80, seed=5)
    path = tmp_path / "t.log"
    path.write_text("\n".join(lines) + "\n")
    a = read_tegrastats(path)
    with open(path, "rb") as fh:
        b = read_tegrastats(fh)
    c = read_tegrastats(line + "\n" for line in lines)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, c)
    assert np.issubdtype(a["time"].dtype, np.datetime64)


def test_bulk_times_equal_the_line_by_line_times():
    """Dates decoded in bulk (>= 32 lines of one shape) match the reference path line by
    line, impossible ones (Feb 29 of a common year, 24:xx, :60) included: NaT in both."""
    stamps = [f"02-28-2026 23:59:{s:02d}" for s in range(40)]
    stamps[3] = "02-29-2026 10:00:00"  # no leap day in 2026
    stamps[5] = "02-29-2028 10:00:00"  # but in 2028
    stamps[7] = "12-31-2026 24:00:00"
    stamps[9] = "01-01-2027 00:60:00"
    stamps[11] = "13-01-2026 00:00:00"
    rest = "RAM 500/125772MB (lfb 34x4MB) CPU [20%@1566,30%@1566] GR3D_FREQ @[314] cpu@45.5C"
    lines = [f"{t} {rest}" for t in stamps]
    bulk = read_tegrastats(lines)["time"]
    one_by_one = [read_tegrastats([line])["time"].iloc[0] for line in lines]
    assert len(bulk) == 40
    for got, want in zip(bulk, one_by_one, strict=True):
        assert (pd.isna(got) and pd.isna(want)) or got == want
    assert [pd.isna(bulk[i]) for i in (3, 5, 7, 9, 11)] == [True, False, True, True, True]
    assert bulk[5] == pd.Timestamp("2028-02-29 10:00:00")
    assert bulk[0] == pd.Timestamp("2026-02-28 23:59:00")


@pytest.mark.parametrize("chunk", [64, 700, 4096])
def test_chunk_boundaries_do_not_change_the_result(tmp_path, monkeypatch, chunk):
    """Blocks cut inside lines (and lines longer than a block) read the same as one block."""

    lines = _mixed_log(120, seed=5)
    log = tmp_path / "t.log"
    log.write_text("\n".join(lines) + "\n" + lines[0][:40])  # and a truncated last line
    whole = read_tegrastats(log)
    monkeypatch.setattr(tg, "CHUNK_BYTES", chunk)
    monkeypatch.setattr(tg, "BULK_MIN_LINES", 2)  # small blocks still take the bulk path
    cut = read_tegrastats(log)
    pd.testing.assert_frame_equal(whole, cut)
    assert cut.attrs["skipped"] == whole.attrs["skipped"] and cut.attrs["lines"] == len(lines) + 1


@pytest.mark.parametrize("columns", [("gpu_load_pct", "emc_load_pct", "emc_freq_mhz")])
def test_gpu_and_emc_columns_are_always_there(columns):
    """Thor prints `GR3D_FREQ @[314,314,314]` (no load); a line without EMC or GR3D at all
    still gets the columns, as NaN."""
    thor = read_tegrastats((DATA / "tegrastats/thor-r38.txt").read_text().splitlines()[1:2])
    assert set(columns) <= set(thor.columns)
    assert thor["gpu_load_pct"].isna().all()
    bare = read_tegrastats(["RAM 775/7620MB (lfb 3x4MB) CPU [1%@729,0%@729] cpu@48.4C"])
    assert len(bare) == 1 and all(bare[c].isna().all() for c in columns)
    empty = read_tegrastats([])
    assert set(columns) <= set(empty.columns) and len(empty) == 0
