"""The simulated root: sysfs-shaped cpufreq files, nvpmodel state and /etc files."""

from __future__ import annotations

import json
import os
from pathlib import Path

NCPU = 14
MIN_KHZ, MAX_KHZ, IDLE_KHZ = 972000, 2601000, 972000
GOVERNORS = "interactive conservative ondemand userspace powersave performance schedutil"
FREQS = [972000, 1190400, 1420800, 1566000, 1728000, 1890000, 2112000, 2304000, 2601000]
NV_MODES = {0: "MAXN", 1: "120W", 2: "90W", 3: "70W", 4: "40W"}
DEFAULT_MODE = 1
RELEASE = (
    "# R38 (release), REVISION: 4.0, GCID: 43443517, BOARD: generic, EABI: aarch64, "
    "DATE: Fri Jan 16 03:50:45 UTC 2026\n# KERNEL_VARIANT: oot\n"
)
SYSCTL = {  # a few real knobs with their stock values, so sysctl settings can be tried
    "kernel.sched_rt_runtime_us": 950000,
    "kernel.sched_autogroup_enabled": 1,
    "vm.swappiness": 60,
    "net.core.rmem_max": 212992,
}
DEFAULT_CONFIG = {
    "lerobot_version": "0.4.4",
    "hw_encoders": ["h264_nvenc", "hevc_nvenc"],
    "jitter": {"rate": 0.0, "stall_ms": 0.0, "seed": 0},
    "devices": [],
    # flags this build rejects as unknown, like a LeRobot fork or an older nightly would
    "unsupported_flags": [],
}


def cpu_dir(root: Path, i: int) -> Path:
    return root / "sys/devices/system/cpu" / f"cpu{i}"


def init_root(root: Path, config: dict | None = None) -> None:
    """Create the simulated root once; existing state (a changed governor) is kept."""
    root.mkdir(parents=True, exist_ok=True)
    for i in range(NCPU):
        d = cpu_dir(root, i) / "cpufreq"
        d.mkdir(parents=True, exist_ok=True)
        files = {
            "scaling_governor": "schedutil",
            "scaling_available_governors": GOVERNORS,
            "scaling_available_frequencies": " ".join(map(str, FREQS)),
            "scaling_min_freq": str(MIN_KHZ),
            "scaling_max_freq": str(MAX_KHZ),
            "scaling_cur_freq": str(IDLE_KHZ),
            "cpuinfo_min_freq": str(MIN_KHZ),
            "cpuinfo_max_freq": str(MAX_KHZ),
            "cpuinfo_cur_freq": str(IDLE_KHZ),
        }
        for name, value in files.items():
            f = d / name
            if not f.exists():
                f.write_text(value + "\n")
        online = cpu_dir(root, i) / "online"
        if not online.exists():
            online.write_text("1\n")
    (root / "sys/devices/system/cpu/online").write_text(f"0-{NCPU - 1}\n")
    etc = root / "etc"
    etc.mkdir(exist_ok=True)
    if not (etc / "nv_tegra_release").exists():
        (etc / "nv_tegra_release").write_text(RELEASE)
    if not (etc / "nvpmodel_mode").exists():
        (etc / "nvpmodel_mode").write_text(f"{DEFAULT_MODE}\n")
    (root / "run").mkdir(exist_ok=True)
    for key, value in SYSCTL.items():
        f = root / "proc/sys" / key.replace(".", "/")
        if not f.exists():
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(f"{value}\n")
    cfg = {**DEFAULT_CONFIG, **(config or {})}
    (etc / "labkit-sim.json").write_text(json.dumps(cfg, indent=2) + "\n")
    for dev in cfg.get("devices", []):
        p = root / dev.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.touch()


def sim_root() -> Path:
    """The root the wrappers were pointed at (``LABKIT_SIM_ROOT``)."""
    return Path(os.environ.get("LABKIT_SIM_ROOT", "/"))


def load_config(root: Path) -> dict:
    try:
        return {**DEFAULT_CONFIG, **json.loads((root / "etc/labkit-sim.json").read_text())}
    except FileNotFoundError:
        return dict(DEFAULT_CONFIG)


def read(path: Path, default: str = "") -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return default


def governor(root: Path, i: int = 0) -> str:
    return read(cpu_dir(root, i) / "cpufreq/scaling_governor", "schedutil")


def set_cur_freq(root: Path, busy: list[float]) -> None:
    """Model cpufreq: performance pins max, schedutil follows load between min and max."""
    for i in range(NCPU):
        d = cpu_dir(root, i) / "cpufreq"
        gov = read(d / "scaling_governor", "schedutil")
        lo, hi = (
            int(read(d / "scaling_min_freq", str(MIN_KHZ))),
            int(read(d / "scaling_max_freq", str(MAX_KHZ))),
        )
        if gov == "performance":
            cur = hi
        elif gov == "powersave":
            cur = lo
        else:
            load = busy[i % len(busy)] if busy else 0.0
            target = lo + (hi - lo) * min(1.0, load / 80.0)
            cur = min((f for f in FREQS if f >= target), default=hi)
            cur = max(lo, min(hi, cur))
        (d / "scaling_cur_freq").write_text(f"{cur}\n")
