"""The simulator prints what the real tools print (tests/data/jetson-real/sim-cases.yaml)
and behaves as the real boards do: board profiles, capped modes, reboot-only modes,
jetson_clocks' prompt and its silent restore failures, a simulated reboot."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from labkit.parse import read_tegrastats
from labkit.remote.facts import parse_nvpmodel_conf
from labkit.sim.deploy import bundle, install_script
from labkit.sim.root import BOARDS
from tests.conftest import DATA

REAL = DATA / "jetson-real"
CASES = yaml.safe_load((REAL / "sim-cases.yaml").read_text())


def capture(name: str) -> list[str]:
    lines = (REAL / name).read_text().splitlines()
    assert lines[0].startswith("# source:")
    return [line for line in lines[1:] if not line.startswith("# ---")]


def install(wd: Path, **config) -> Path:
    script = install_script(str(wd), python=sys.executable, config=config)
    subprocess.run(["sh", "-c", script], input=bundle(), check=True, capture_output=True)
    return wd / "sim"


def tool(sim: Path, argv: list[str], stdin: str | None = None, env: dict | None = None):
    exe = argv[0] if argv[0] == "cat" else str(sim / "bin" / argv[0])
    return subprocess.run(
        [exe, *argv[1:]],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_output_matches_the_capture(case, tmp_path):
    sim = install(tmp_path / "wd", board=case["board"])
    subst = {"{root}": str(sim / "root"), "{tmp}": str(tmp_path)}

    def fill(s: str) -> str:
        for k, v in subst.items():
            s = s.replace(k, v)
        return s

    for argv in case.get("before", []):
        assert tool(sim, [fill(a) for a in argv]).returncode == 0
    res = tool(sim, [fill(a) for a in case["run"]], case.get("stdin"), case.get("env"))
    assert res.returncode == case["exit"], res.stderr
    if "capture" in case:
        want = capture(case["capture"])
    else:
        name, first, last = case["capture_lines"]
        want = capture(name)[first - 1 : last]
    for old, new in (case.get("replace") or {}).items():
        want = [line.replace(old, fill(new)) for line in want]
    want += case.get("then_lines", [])
    got = res.stdout.splitlines()
    if "prefix_until" in case:
        cut = case["prefix_until"]
        got, want = [g.split(cut)[0] for g in got], [w.split(cut)[0] for w in want]
    assert [g.rstrip() for g in got[: len(want)]] == [w.rstrip() for w in want]
    if "capture_lines" not in case:
        assert len(got) == len(want)
    if "after" in case:
        assert tool(sim, case["after"]).stdout == case["after_stdout"]


@pytest.mark.parametrize("name", list(BOARDS))
def test_each_board_profile(name, tmp_path):
    """CPU count, modes and nvpmodel.conf per board; tegrastats in the board's dialect."""

    b = BOARDS[name]
    sim = install(tmp_path / "wd", board=name)
    conf = parse_nvpmodel_conf((sim / "root/etc/nvpmodel.conf").read_text(), 0)
    assert conf["default"] == b.default_mode
    assert {k: m["name"] for k, m in conf["modes"].items()} == {
        str(k): m.name for k, m in b.modes.items()
    }
    cpus = sorted((sim / "root/sys/devices/system/cpu").glob("cpu[0-9]*"))
    assert len(cpus) == b.ncpu
    log = tmp_path / "teg.log"
    proc = subprocess.Popen(
        [str(sim / "bin/tegrastats"), "--interval", "100", "--logfile", str(log)]
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (not log.exists() or log.read_text().count("\n") < 3):
            time.sleep(0.05)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    df = read_tegrastats(log)
    assert df.attrs["skipped"] == 0 and len(df) >= 3
    assert (
        df.attrs["board_hint"]
        == {"thor": "thor", "agx-orin": "agx-orin", "orin-nano": "orin-nano"}[name]
    )
    assert len([c for c in df.columns if c.startswith("cpu") and c.endswith("_load_pct")]) == b.ncpu


def test_unknown_board_is_a_clear_error(tmp_path):
    script = install_script(str(tmp_path), python=sys.executable, config={"board": "xavier"})
    res = subprocess.run(["sh", "-c", script], input=bundle(), capture_output=True)
    assert res.returncode != 0
    assert b"labkit_sim.board 'xavier' is not a simulated board" in res.stderr
    assert b"thor, agx-orin, orin-nano" in res.stderr


def test_capped_mode_pins_to_the_modes_max_not_the_hardware_max(tmp_path):
    sim = install(tmp_path / "wd", board="orin-nano")  # 25W: cap 1344000 of 1728000
    cpu0 = sim / "root/sys/devices/system/cpu/cpu0/cpufreq"
    assert (cpu0 / "cpuinfo_max_freq").read_text().strip() == "1728000"
    assert tool(sim, ["jetson_clocks"]).returncode == 0
    assert (cpu0 / "scaling_min_freq").read_text().strip() == "1344000"
    assert (cpu0 / "scaling_max_freq").read_text().strip() == "1344000"
    assert (cpu0 / "scaling_governor").read_text().strip() == "schedutil"  # left alone


def test_thor_70w_has_12_cores_capped_at_1998_mhz_after_a_reboot(tmp_path):
    sim = install(tmp_path / "wd", board="thor", reboot_s=0.2)
    root = sim / "root"
    bid = (root / "proc/sys/kernel/random/boot_id").read_text()
    res = tool(sim, ["nvpmodel", "-m", "3"], stdin="YES\n")
    assert "NVPM WARN: rebooting" in res.stdout
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (
        (root / "proc/sys/kernel/random/boot_id").read_text() == bid
        or (root / "run/rebooting").exists()
    ):
        time.sleep(0.05)
    assert (root / "proc/sys/kernel/random/boot_id").read_text() != bid
    assert tool(sim, ["nvpmodel", "-q"]).stdout == "NV Power Mode: 70W\n3\n"
    show = tool(sim, ["jetson_clocks", "--show"]).stdout
    assert "Online CPUs: 0-11, Offline CPUs: 12-13" in show
    assert "\ncpu11: Governor=schedutil MinFreq=972000 MaxFreq=1998000 " in show
    assert "cpu12:" not in show


def test_restore_exits_0_even_when_a_write_fails(tmp_path):
    sim = install(tmp_path / "wd", board="thor", restore_fails=[2])
    store = str(tmp_path / "clocks.conf")
    assert tool(sim, ["jetson_clocks", "--store", store]).returncode == 0
    assert tool(sim, ["jetson_clocks"]).returncode == 0
    res = tool(sim, ["jetson_clocks", "--restore", store])
    assert res.returncode == 0 and "write error" in res.stderr
    cpu = sim / "root/sys/devices/system/cpu"
    assert (cpu / "cpu1/cpufreq/scaling_min_freq").read_text().strip() == "972000"
    assert (cpu / "cpu2/cpufreq/scaling_min_freq").read_text().strip() == "2601000"
