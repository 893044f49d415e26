"""``jetson_clocks`` for the simulated Jetson: ``--show``, ``--store``, ``--restore``, pin."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from labkit.sim.root import NCPU, NV_MODES, cpu_dir, read, sim_root

FIELDS = ("scaling_governor", "scaling_min_freq", "scaling_max_freq")


def show(root: Path) -> str:
    lines = [
        "SOC family:tegra264  Machine:NVIDIA Jetson AGX Thor Developer Kit",
        f"Online CPUs: 0-{NCPU - 1}, Offline CPUs: ",
    ]
    for i in range(NCPU):
        d = cpu_dir(root, i) / "cpufreq"
        lines.append(
            f"cpu{i}:  Governor={read(d / 'scaling_governor')} "
            f"MinFreq={read(d / 'scaling_min_freq')} "
            f"MaxFreq={read(d / 'scaling_max_freq')} "
            f"CurrentFreq={read(d / 'scaling_cur_freq')} IdleStates: WFI=0 cc7=0"
        )
    lines += [
        "GPU MinFreq=600000000 MaxFreq=1575000000 CurrentFreq=600000000",
        "EMC MinFreq=204000000 MaxFreq=4266000000 CurrentFreq=2750000000 FreqOverride=0",
    ]
    mode = int(read(root / "etc/nvpmodel_mode", "1"))
    lines.append(f"NV Power Mode: {NV_MODES[mode]}")
    return "\n".join(lines)


def snapshot(root: Path) -> dict:
    return {
        str(i): {f: read(cpu_dir(root, i) / "cpufreq" / f) for f in FIELDS} for i in range(NCPU)
    }


def apply(root: Path, state: dict) -> None:
    for i, fields in state.items():
        for f, value in fields.items():
            (cpu_dir(root, int(i)) / "cpufreq" / f).write_text(value + "\n")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    root = sim_root()
    default_store = root / "etc/l4t_dfs.conf"
    if args[:1] == ["--show"]:
        print(show(root))
        return 0
    if args[:1] in (["--store"], ["--restore"]):
        path = Path(args[1]) if len(args) > 1 else default_store
        if args[0] == "--store":
            path.write_text(json.dumps(snapshot(root)))
        else:
            try:
                apply(root, json.loads(path.read_text()))
            except FileNotFoundError:
                print(f"Error: {path} not found", file=sys.stderr)
                return 1
        return 0
    if args:
        print("Usage: jetson_clocks [--show] [--store [file]] [--restore [file]]", file=sys.stderr)
        return 1
    for i in range(NCPU):  # pin: min = max = cpuinfo max
        d = cpu_dir(root, i) / "cpufreq"
        top = read(d / "cpuinfo_max_freq")
        (d / "scaling_min_freq").write_text(top + "\n")
        (d / "scaling_max_freq").write_text(top + "\n")
    (root / "run/jetson_clocks_on").write_text("1\n")
    print("All done.")
    return 0
