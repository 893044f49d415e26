"""``tegrastats`` for the simulated Jetson: real samples of this machine, in the board's
dialect (AGX Thor r38: ``GR3D_FREQ @[...]`` without a load, NVENC0/1; AGX Orin and Orin
Nano, JetPack 6 under sudo: ``EMC_FREQ x%@f``, ``GR3D_FREQ x%@[f,...]``, lowercase
sensors, their own rails — as the captures in tests/data/tegrastats show)."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from pathlib import Path

from labkit.sim.root import Board, board, cpu_dir, read, set_cur_freq, sim_root

USAGE = (
    "Usage: tegrastats [-option]\nOptions:\n  --help\n  --interval <millisec>\n"
    "  --logfile <filename>\n  --start\n  --stop\n  --verbose\n"
)


def _proc_stat() -> list[tuple[int, int]]:
    """(busy, total) jiffies per real core."""
    out = []
    with open("/proc/stat") as fh:
        for line in fh:
            if line.startswith("cpu") and line[3:4].isdigit():
                v = [int(x) for x in line.split()[1:]]
                idle = v[3] + (v[4] if len(v) > 4 else 0)
                out.append((sum(v) - idle, sum(v)))
    return out


def _meminfo() -> dict[str, int]:
    info = {}
    with open("/proc/meminfo") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            info[key] = int(rest.split()[0])
    return info


ZONES = {
    "thor": ["cpu", "tj", "soc012", "gpu", "soc345"],
    "agx-orin": ["cpu", "soc2", "soc0", "gpu", "tj", "soc1"],
    "orin-nano": ["cpu", "soc2", "soc0", "gpu", "tj", "soc1"],
}


def _temps(names_of: list[str]) -> list[tuple[str, float]]:
    """Real thermal zones where the machine has them, named like the board's."""
    out = []
    names = iter(names_of)
    for zone in sorted(Path("/sys/class/thermal").glob("thermal_zone*")):
        try:
            milli = int((zone / "temp").read_text())
        except (OSError, ValueError):
            continue
        name = next(names, None)
        if name is None:
            break
        out.append((name, milli / 1000))
    return out


def sample_line(
    prev: list[tuple[int, int]],
    cur: list[tuple[int, int]],
    root: Path,
    nvenc_active: bool,
    b: Board | None = None,
) -> str:
    b = b or board(root)
    loads = []
    for (b0, t0), (b1, t1) in zip(prev, cur, strict=False):
        loads.append(100.0 * (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0)
    loads = loads or [0.0]
    set_cur_freq(root, loads, b)
    cpu = []
    for i in range(b.ncpu):
        if read(cpu_dir(root, i) / "online", "1") != "1":
            cpu.append("off")
            continue
        mhz = int(read(cpu_dir(root, i) / "cpufreq/scaling_cur_freq", "972000")) // 1000
        cpu.append(f"{round(loads[i % len(loads)])}%@{mhz}")
    mem = _meminfo()
    total = mem.get("MemTotal", 0) // 1024
    used = total - mem.get("MemAvailable", mem.get("MemFree", 0)) // 1024
    swap_total = mem.get("SwapTotal", 0) // 1024
    swap = ""
    if swap_total:
        swap = (
            f" SWAP {swap_total - mem.get('SwapFree', 0) // 1024}/{swap_total}MB "
            f"(cached {mem.get('SwapCached', 0) // 1024}MB)"
        )
    mean = sum(loads) / len(loads)
    cpu_mw = int(3000 + 60 * mean * b.ncpu / 2)  # linear model of load, see module docstring
    temps = " ".join(f"{n}@{t:.3f}C" for n, t in _temps(ZONES[b.key]))
    stamp = time.strftime("%m-%d-%Y %H:%M:%S")
    parts = [f"{stamp} RAM {used}/{total}MB (lfb 34x4MB){swap} CPU [{','.join(cpu)}]"]
    if b.key == "thor":
        nvenc = "NVENC0_FREQ @1164 NVENC1_FREQ @1164" if nvenc_active else "NVENC0 off NVENC1 off"
        vin = cpu_mw + 1962 + 5635 + 6000
        parts += [
            "EMC_FREQ 0%@2750 GR3D_FREQ @[314,314,314]",
            f"{nvenc} NVDEC0_FREQ @314 NVDEC1_FREQ @314 NVJPG0_FREQ @314 VIC off OFA_FREQ @315",
            "PVA0_FREQ off APE 300",
        ]
        rails = (
            f"VDD_GPU 1962mW/1962mW VDD_CPU_SOC_MSS {cpu_mw}mW/{cpu_mw}mW "
            f"VIN_SYS_5V0 5635mW/5635mW VIN {vin}mW/{vin}mW"
        )
    elif b.key == "agx-orin":
        nvenc = "NVENC 12%@1113" if nvenc_active else "NVENC off"
        parts += [
            "EMC_FREQ 1%@2133 GR3D_FREQ 0%@[305,305]",
            f"{nvenc} NVDEC off NVJPG off NVJPG1 off VIC off OFA off NVDLA0 off NVDLA1 off",
            "PVA0_FREQ off APE 174",
        ]
        rails = (
            f"VDD_GPU_SOC 3205mW/3205mW VDD_CPU_CV {cpu_mw}mW/{cpu_mw}mW VIN_SYS_5V0 4767mW/4767mW"
        )
    else:  # orin-nano: no NVENC
        parts += [
            "EMC_FREQ 4%@2133 GR3D_FREQ 0%@[306]",
            "NVJPG off NVJPG1 off VIC off OFA off APE 174",
        ]
        vin = cpu_mw + 1428 + 2800
        rails = f"VDD_IN {vin}mW/{vin}mW VDD_CPU_GPU_CV {cpu_mw}mW/{cpu_mw}mW VDD_SOC 1428mW/1428mW"
    if temps:
        parts.append(temps)
    parts.append(rails)
    return " ".join(parts)


def run(interval_ms: int, out, root: Path) -> None:
    stop = False

    def _stop(*_):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    prev = _proc_stat()
    b = board(root)
    nvenc_flag = root / "run/nvenc_sessions"
    next_t = time.monotonic()
    while not stop:
        next_t += interval_ms / 1000
        delay = next_t - time.monotonic()
        while delay > 0 and not stop:
            time.sleep(min(delay, 0.05))
            delay = next_t - time.monotonic()
        if stop:
            break
        cur = _proc_stat()
        active = nvenc_flag.exists() and read(nvenc_flag, "0") not in ("", "0")
        out.write(sample_line(prev, cur, root, active, b) + "\n")
        out.flush()
        prev = cur


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    root = sim_root()
    interval, logfile, start, stop = 1000, None, False, False
    while args:
        a = args.pop(0)
        if a == "--interval" and args:
            interval = int(args.pop(0))
        elif a == "--logfile" and args:
            logfile = args.pop(0)
        elif a == "--start":
            start = True
        elif a == "--stop":
            stop = True
        elif a in ("--help", "-h"):
            sys.stdout.write(USAGE)
            return 0
        elif a in ("--verbose", "--readall"):
            continue
        else:
            sys.stderr.write(f"tegrastats: unknown option {a}\n{USAGE}")
            return 1
    pids = root / "run/tegrastats"
    if stop:  # like the real tool: stops every daemonised instance
        for f in pids.glob("*.pid") if pids.exists() else []:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(f.read_text()), signal.SIGTERM)
            f.unlink(missing_ok=True)
        return 0
    if start:
        if os.fork():
            return 0
        os.setsid()
        pids.mkdir(parents=True, exist_ok=True)
        (pids / f"{os.getpid()}.pid").write_text(str(os.getpid()))
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
    try:
        if logfile:
            with open(logfile, "a") as fh:
                run(interval, fh, root)
        else:
            run(interval, sys.stdout, root)
    finally:
        if start:
            (pids / f"{os.getpid()}.pid").unlink(missing_ok=True)
    return 0
