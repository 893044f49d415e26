"""The simulated root: sysfs-shaped cpufreq files, nvpmodel state and /etc files.

The board is chosen by the simulator's configuration (``labkit_sim: {board: ...}``); each
profile carries what the real board shows labkit: CPU count and clock table, power modes
(which switch live and which need a reboot, written out as ``/etc/nvpmodel.conf``), the
``nv_tegra_release`` line and the tegrastats dialect. Values come from real captures
(``tests/data/jetson-real/``, ``tests/data/tegrastats/``); where none exists the profile
says so.
"""

from __future__ import annotations

import json
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from labkit.sim.power import CONF_FILE, MODE_FILE, read_text, root_dir

GOVERNORS = "interactive conservative ondemand userspace powersave performance schedutil"


@dataclass(frozen=True)
class Mode:
    """One nvpmodel power mode: its name, cores online, CPU clock cap (kHz) and the GPU
    power-gating mask; a change of mask is what makes nvpmodel ask for a reboot."""

    name: str
    cores: int
    cpu_max_khz: int
    pg_mask: int = 0


@dataclass(frozen=True)
class Board:
    key: str
    machine: str
    soc: str
    ncpu: int
    min_khz: int
    max_khz: int
    freqs: tuple[int, ...]
    idle_states: str
    cluster: str  # CPU cluster name in nvpmodel.conf (CPU_<cluster>_<k>)
    cluster_size: int
    modes: dict[int, Mode]
    default_mode: int
    release: str
    hw_encoders: tuple[str, ...]
    extra_warn: str = ""  # a line nvpmodel -m prints first on this board (capture)


# r38.4's real line (tests/data/jetson-real/nv_tegra_release__thor_r38.4.txt)
THOR_RELEASE = (
    "# R38 (release), REVISION: 4.0, GCID: 43443517, BOARD: generic, EABI: aarch64, "
    "DATE: Wed Dec 31 00:15:19 UTC 2025\n# KERNEL_VARIANT: oot\n"
)
# AGX Orin JetPack 7.2 (r39.2), as captured (note the double space and the 12-hour clock)
ORIN_RELEASE = (
    "# R39 (release), REVISION: 2.0, GCID: 45755727, BOARD: generic, EABI: aarch64, "
    "DATE: Mon Jun  1 09:28:48 PM UTC 2026\n# KERNEL_VARIANT: oot\n"
    "TARGET_USERSPACE_LIB_DIR=nvidia\n"
    "TARGET_USERSPACE_LIB_DIR_PATH=usr/lib/aarch64-linux-gnu/nvidia\n"
)

BOARDS: dict[str, Board] = {
    # AGX Thor: 0 MAXN and 1 120W switch live, 2 90W and 3 70W need a reboot (their GPU
    # power-gating mask, 15873, differs); 70W: 12 cores, CPU max 1998 MHz (KernelBench
    # Thor report). 90W's core count and cap are not in any capture: 14 cores, hw max.
    "thor": Board(
        key="thor",
        machine="NVIDIA Jetson AGX Thor Developer Kit",
        soc="tegra264",
        ncpu=14,
        min_khz=972000,
        max_khz=2601000,
        freqs=(
            972000,
            1190400,
            1420800,
            1566000,
            1728000,
            1890000,
            1998000,
            2112000,
            2304000,
            2601000,
        ),  # fmt: skip
        idle_states="WFI=0 cc7=0",
        cluster="NEOVERSE_V3AE",
        cluster_size=14,
        modes={
            0: Mode("MAXN", 14, 2601000, 0),
            1: Mode("120W", 14, 2601000, 0),
            2: Mode("90W", 14, 2601000, 15873),
            3: Mode("70W", 12, 1998000, 15873),
        },
        default_mode=1,
        release=THOR_RELEASE,
        hw_encoders=("h264_nvenc", "hevc_nvenc"),
    ),
    # AGX Orin 64GB, JetPack 6/7: MODE_30W -> MAXN needs a reboot (AGX Orin setup guide
    # capture); the simulator starts in MODE_30W, the state of that capture.
    "agx-orin": Board(
        key="agx-orin",
        machine="NVIDIA Jetson AGX Orin Developer Kit",
        soc="tegra234",
        ncpu=12,
        min_khz=115200,
        max_khz=2201600,
        freqs=(115200, 422400, 729600, 1113600, 1497600, 1728000, 1958400, 2201600),
        idle_states="WFI=1 c7=1",
        cluster="A78",
        cluster_size=4,
        modes={
            0: Mode("MAXN", 12, 2201600, 0),
            1: Mode("MODE_15W", 4, 1113600, 1),
            2: Mode("MODE_30W", 8, 1728000, 1),
            3: Mode("MODE_50W", 12, 1497600, 1),
        },
        default_mode=2,
        release=ORIN_RELEASE,
        hw_encoders=("h264_nvenc", "hevc_nvenc"),
        extra_warn="NVPM WARN: Golden image context is already created",
    ),
    # Orin Nano Super: 0 15W, 1 25W, 2 MAXN_SUPER, all live; 25W caps the CPUs at
    # 1344000 kHz below the hardware's 1728000 (jetson_clocks --show capture, r39.2.1).
    # No hardware video encoder on Orin Nano.
    "orin-nano": Board(
        key="orin-nano",
        machine="NVIDIA Jetson Orin Nano Engineering Reference Developer Kit Super",
        soc="tegra234",
        ncpu=6,
        min_khz=729600,
        max_khz=1728000,
        freqs=(729600, 960000, 1267200, 1344000, 1497600, 1728000),
        idle_states="WFI=1 c7=1",
        cluster="A78",
        cluster_size=4,
        modes={
            0: Mode("15W", 6, 1497600, 0),
            1: Mode("25W", 6, 1344000, 0),
            2: Mode("MAXN_SUPER", 6, 1728000, 0),
        },
        default_mode=1,
        release=ORIN_RELEASE,
        hw_encoders=(),
    ),
}
DEFAULT_BOARD = "thor"

SYSCTL = {  # a few real knobs with their stock values, so sysctl settings can be tried
    "kernel.sched_rt_runtime_us": 950000,
    "kernel.sched_autogroup_enabled": 1,
    "vm.swappiness": 60,
    "net.core.rmem_max": 212992,
    "kernel.yama.ptrace_scope": 1,  # L4T's default: only a parent may ptrace its child
}
DEFAULT_CONFIG = {
    "board": DEFAULT_BOARD,
    "lerobot_version": "0.4.4",
    "jitter": {"rate": 0.0, "stall_ms": 0.0, "seed": None},  # None: drawn per run
    "devices": [],
    # flags this build rejects as unknown, like a LeRobot fork or an older nightly would
    "unsupported_flags": [],
    # seconds a simulated reboot keeps the board down
    "reboot_s": 3.0,
    # the pid file of the sshd the host is reached through (the tests' own): the only
    # sshd a simulated reboot drops and stops (never a system sshd)
    "sshd_pid_file": None,
    # CPUs whose cpufreq writes fail during `jetson_clocks --restore` (to rehearse a
    # restore that reports success but did not put everything back)
    "restore_fails": [],
    # how long the record loop waits for a frame before LeRobot's TimeoutError (200 ms)
    "camera_timeout_ms": 200.0,
}


def check_board(name: object) -> Board:
    if name not in BOARDS:
        raise ValueError(
            f"labkit_sim.board {name!r} is not a simulated board; use one of: " + ", ".join(BOARDS)
        )
    return BOARDS[name]  # type: ignore[index]


def board(root: Path) -> Board:
    return check_board(load_config(root).get("board", DEFAULT_BOARD))


def cpu_dir(root: Path, i: int) -> Path:
    return root / "sys/devices/system/cpu" / f"cpu{i}"


def boot_id_path(root: Path) -> Path:
    return root / "proc/sys/kernel/random/boot_id"


def mode_path(root: Path) -> Path:
    return root / MODE_FILE


def pending_path(root: Path) -> Path:
    """A mode nvpmodel saved for the next boot (the real one keeps it under /var/lib)."""
    return root / "var/lib/nvpmodel/pending"


def current_mode(root: Path, b: Board | None = None) -> int:
    b = b or board(root)
    return int(read(mode_path(root), str(b.default_mode)))


def nvpmodel_conf(b: Board) -> str:
    """``/etc/nvpmodel.conf`` in the real file's shape (PARAM definitions, then one
    POWER_MODEL block per mode, then PM_CONFIG)."""
    lines = ["# labkit simulated Jetson: " + b.machine, ""]
    lines.append("< PARAM TYPE=FILE NAME=CPU_ONLINE >")
    lines += [f"CORE_{i} /sys/devices/system/cpu/cpu{i}/online" for i in range(b.ncpu)]
    lines += ["", "< PARAM TYPE=FILE NAME=TPC_POWER_GATING >"]
    lines += ["TPC_PG_MASK /sys/devices/gpu.0/tpc_pg_mask", ""]
    for ident, m in b.modes.items():
        lines.append(f"< POWER_MODEL ID={ident} NAME={m.name} >")
        lines += [f"CPU_ONLINE CORE_{i} {int(i < m.cores)}" for i in range(b.ncpu)]
        lines.append(f"TPC_POWER_GATING TPC_PG_MASK {m.pg_mask}")
        lines.append("GPU_POWER_CONTROL_ENABLE GPU_PWR_CNTL_EN on")
        for k in range((b.ncpu + b.cluster_size - 1) // b.cluster_size):
            cap = -1 if m.cpu_max_khz == b.max_khz else m.cpu_max_khz
            lines.append(f"CPU_{b.cluster}_{k} MIN_FREQ {b.min_khz}")
            lines.append(f"CPU_{b.cluster}_{k} MAX_FREQ {cap}")
        lines += ["GPU_POWER_CONTROL_DISABLE GPU_PWR_CNTL_DIS auto", "EMC MAX_FREQ 0", ""]
    lines.append(f"< PM_CONFIG DEFAULT={b.default_mode} >")
    return "\n".join(lines) + "\n"


def apply_mode(root: Path, b: Board, ident: int) -> None:
    """What nvpmodel does to the CPUs when a mode takes effect: cores on or off, each
    CPU's min back to the floor and its max to the mode's cap."""
    m = b.modes[ident]
    for i in range(b.ncpu):
        d = cpu_dir(root, i) / "cpufreq"
        (cpu_dir(root, i) / "online").write_text(f"{int(i < m.cores)}\n")
        (d / "scaling_max_freq").write_text(f"{m.cpu_max_khz}\n")
        (d / "scaling_min_freq").write_text(f"{b.min_khz}\n")
        cur = int(read(d / "scaling_cur_freq", str(b.min_khz)))
        (d / "scaling_cur_freq").write_text(f"{max(b.min_khz, min(cur, m.cpu_max_khz))}\n")
    (root / "sys/devices/system/cpu/online").write_text(
        "0\n" if m.cores == 1 else f"0-{m.cores - 1}\n"
    )
    mode_path(root).write_text(f"{ident}\n")


def init_root(root: Path, config: dict | None = None, *, boot: bool = False) -> None:
    """Create the simulated root once; existing state (a changed governor) is kept.

    ``boot``: the state a (re)boot gives — cpufreq, sysctl and /run back to their
    defaults, the mode nvpmodel saved for this boot applied, a new boot id.
    """
    cfg = {**DEFAULT_CONFIG, **(config or {})}
    b = check_board(cfg.get("board", DEFAULT_BOARD))
    root.mkdir(parents=True, exist_ok=True)
    etc = root / "etc"
    etc.mkdir(exist_ok=True)
    old = load_config(root) if (etc / "labkit-sim.json").exists() else None
    fresh = boot or old is None or old.get("board", DEFAULT_BOARD) != b.key
    for i in range(b.ncpu):
        d = cpu_dir(root, i) / "cpufreq"
        d.mkdir(parents=True, exist_ok=True)
        files = {
            "scaling_governor": "schedutil",
            "scaling_available_governors": GOVERNORS,
            "scaling_available_frequencies": " ".join(map(str, b.freqs)),
            "scaling_min_freq": str(b.min_khz),
            "scaling_max_freq": str(b.max_khz),
            "scaling_cur_freq": str(b.min_khz),
            "cpuinfo_min_freq": str(b.min_khz),
            "cpuinfo_max_freq": str(b.max_khz),
            "cpuinfo_cur_freq": str(b.min_khz),
        }
        for name, value in files.items():
            f = d / name
            keep = name.startswith("scaling_") and name != "scaling_available_frequencies"
            if fresh or not keep or not f.exists():
                f.write_text(value + "\n")
        online = cpu_dir(root, i) / "online"
        if fresh or not online.exists():
            online.write_text("1\n")
    for extra in (root / "sys/devices/system/cpu").glob("cpu[0-9]*"):
        if int(extra.name[3:]) >= b.ncpu:  # a board with fewer CPUs than the last one
            shutil.rmtree(extra)
    if fresh or not (etc / "nv_tegra_release").exists():
        (etc / "nv_tegra_release").write_text(b.release)
    (root / CONF_FILE).write_text(nvpmodel_conf(b))
    pending = pending_path(root)
    if fresh:
        mode = b.default_mode
        if old is not None and old.get("board", DEFAULT_BOARD) == b.key:
            mode = int(read(mode_path(root), str(b.default_mode)))
        if boot and pending.exists():
            mode = int(read(pending))
            pending.unlink()
        apply_mode(root, b, mode if mode in b.modes else b.default_mode)
    elif not mode_path(root).exists():
        apply_mode(root, b, b.default_mode)
    if boot:
        shutil.rmtree(root / "run", ignore_errors=True)  # /run is a tmpfs
    (root / "run").mkdir(exist_ok=True)
    for key, value in SYSCTL.items():
        f = root / "proc/sys" / key.replace(".", "/")
        if fresh or not f.exists():
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(f"{value}\n")
    bid = boot_id_path(root)
    if boot or not bid.exists():
        bid.parent.mkdir(parents=True, exist_ok=True)
        bid.write_text(f"{uuid.uuid4()}\n")
    cfg.setdefault("hw_encoders", list(b.hw_encoders))
    (etc / "labkit-sim.json").write_text(json.dumps(cfg, indent=2) + "\n")
    for dev in cfg.get("devices", []):
        p = root / dev.lstrip("/")
        p.parent.mkdir(parents=True, exist_ok=True)
        p.touch()


def sim_root() -> Path:
    """The root the wrappers were pointed at (``LABKIT_SIM_ROOT``)."""
    return Path(root_dir())


def load_config(root: Path) -> dict:
    try:
        cfg = {**DEFAULT_CONFIG, **json.loads((root / "etc/labkit-sim.json").read_text())}
    except FileNotFoundError:
        cfg = dict(DEFAULT_CONFIG)
    if "hw_encoders" not in cfg and cfg.get("board", DEFAULT_BOARD) in BOARDS:
        cfg["hw_encoders"] = list(BOARDS[cfg.get("board", DEFAULT_BOARD)].hw_encoders)
    return cfg


def read(path: Path, default: str = "") -> str:
    text = read_text(path)
    return default if text is None else text.strip()


def governor(root: Path, i: int = 0) -> str:
    return read(cpu_dir(root, i) / "cpufreq/scaling_governor", "schedutil")


def set_cur_freq(root: Path, busy: list[float], b: Board | None = None) -> None:
    """Model cpufreq: performance pins max, schedutil follows load between min and max."""
    b = b or board(root)
    for i in range(b.ncpu):
        d = cpu_dir(root, i) / "cpufreq"
        gov = read(d / "scaling_governor", "schedutil")
        lo, hi = (
            int(read(d / "scaling_min_freq", str(b.min_khz))),
            int(read(d / "scaling_max_freq", str(b.max_khz))),
        )
        if gov == "performance":
            cur = hi
        elif gov == "powersave":
            cur = lo
        else:
            load = busy[i % len(busy)] if busy else 0.0
            target = lo + (hi - lo) * min(1.0, load / 80.0)
            cur = min((f for f in b.freqs if f >= target), default=hi)
            cur = max(lo, min(hi, cur))
        (d / "scaling_cur_freq").write_text(f"{cur}\n")
