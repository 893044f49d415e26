"""``jetson_clocks`` for the simulated Jetson: ``--show``, ``--store``, ``--restore``, pin.

As the real script (tests/data/jetson-real/): ``--store F`` onto an existing F asks
``File F already exists. Can I overwrite it? Y/N:`` and, without ``Y`` on stdin, exits 1
storing nothing; ``--restore`` exits 0 even when a write fails (it only prints the
error), so a restore has to be checked by reading sysfs back; pinning sets each online
CPU's min to its current max (``scaling_max_freq``, the power mode's cap) and leaves the
governor alone. The default store file is ``$HOME/.jetsonclocks_conf.txt``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from labkit.sim.root import board, cpu_dir, current_mode, load_config, read, sim_root

FIELDS = ("scaling_min_freq", "scaling_max_freq")


def _online(root: Path, n: int) -> list[int]:
    return [i for i in range(n) if read(cpu_dir(root, i) / "online", "1") == "1"]


def _ranges(cpus: list[int]) -> str:
    out, start = [], None
    for k, c in enumerate(cpus):
        if start is None:
            start = c
        if k + 1 == len(cpus) or cpus[k + 1] != c + 1:
            out.append(f"{start}" if start == c else f"{start}-{c}")
            start = None
    return ",".join(out)


def show(root: Path) -> str:
    b = board(root)
    online = _online(root, b.ncpu)
    offline = [i for i in range(b.ncpu) if i not in online]
    lines = [
        f"SOC family:{b.soc}  Machine:{b.machine}",
        f"Online CPUs: {_ranges(online)}, Offline CPUs: {_ranges(offline)}",
    ]
    for i in online:
        d = cpu_dir(root, i) / "cpufreq"
        lines.append(
            f"{f'cpu{i}:':<6} Governor={read(d / 'scaling_governor')} "
            f"MinFreq={read(d / 'scaling_min_freq')} "
            f"MaxFreq={read(d / 'scaling_max_freq')} "
            f"CurrentFreq={read(d / 'scaling_cur_freq')} IdleStates: {b.idle_states}"
        )
    pinned = read(root / "run/jetson_clocks_on") == "1"
    emc_cur = "4266000000" if pinned else "2750000000"
    lines += [
        "GPU MinFreq=600000000 MaxFreq=1575000000 CurrentFreq=600000000",
        f"EMC MinFreq=204000000 MaxFreq=4266000000 CurrentFreq={emc_cur} "
        f"FreqOverride={int(pinned)}",
        f"NV Power Mode: {b.modes[current_mode(root, b)].name}",
    ]
    return "\n".join(lines)


def snapshot(root: Path) -> dict:
    b = board(root)
    return {
        str(i): {f: read(cpu_dir(root, i) / "cpufreq" / f) for f in FIELDS}
        for i in _online(root, b.ncpu)
    }


def apply(root: Path, state: dict) -> list[str]:
    """Write the stored values back; returns the errors (the real script prints them and
    carries on)."""
    fails = {str(i) for i in load_config(root).get("restore_fails", [])}
    errors = []
    for i, fields in state.items():
        for f, value in fields.items():
            path = cpu_dir(root, int(i)) / "cpufreq" / f
            try:
                if i in fails:
                    raise OSError(16, "Device or resource busy")
                path.write_text(value + "\n")
            except OSError as exc:
                errors.append(f"/sys/devices/system/cpu/cpu{i}/cpufreq/{f}: {exc.strerror}")
    return errors


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    root = sim_root()
    # the default store file: $HOME of the user running it, inside the simulated root
    shown_default = os.environ.get("HOME", "/root").rstrip("/") + "/.jetsonclocks_conf.txt"
    if args[:1] == ["--show"]:
        print(show(root))
        return 0
    if args[:1] in (["--store"], ["--restore"]):
        shown = args[1] if len(args) > 1 else shown_default
        path = Path(args[1]) if len(args) > 1 else root / shown_default.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        if args[0] == "--store":
            if path.exists():
                print(f"File {shown} already exists. Can I overwrite it? Y/N:", flush=True)
                if sys.stdin.readline().strip() not in ("Y", "y"):
                    return 1
            print(f"Storing system configuration in {shown}")
            path.write_text(json.dumps(snapshot(root)))
            return 0
        try:
            state = json.loads(path.read_text())
        except FileNotFoundError:
            print(f"Error: {shown} file not found !")
            return 1
        for err in apply(root, state):
            print(f"/usr/bin/jetson_clocks: line 1: echo: write error: {err}", file=sys.stderr)
        (root / "run/jetson_clocks_on").unlink(missing_ok=True)
        return 0  # as the real script: even when a write failed
    if args:
        print("Usage: jetson_clocks [--show] [--store [file]] [--restore [file]]", file=sys.stderr)
        return 1
    b = board(root)
    for i in _online(root, b.ncpu):  # pin: min = the current max (the mode's cap)
        d = cpu_dir(root, i) / "cpufreq"
        top = read(d / "scaling_max_freq")
        (d / "scaling_min_freq").write_text(top + "\n")
        (d / "scaling_cur_freq").write_text(top + "\n")
    (root / "run/jetson_clocks_on").write_text("1\n")
    if b.key == "thor":
        print("Enabled Legacy persistence mode for GPU 00000000:01:00.0.")
    print("All done.")
    return 0
