"""``nvpmodel`` for the simulated Jetson (``-q``, ``-m N``, ``-p --verbose``)."""

from __future__ import annotations

import sys

from labkit.sim.root import NV_MODES, read, sim_root


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    root = sim_root()
    state = root / "etc/nvpmodel_mode"
    if args[:1] == ["-q"]:
        mode = int(read(state, "1"))
        print(f"NV Power Mode: {NV_MODES[mode]}\n{mode}")
        return 0
    if args[:1] == ["-m"] and len(args) >= 2:
        try:
            mode = int(args[1])
        except ValueError:
            mode = -1
        if mode not in NV_MODES:
            print(f"NVPM ERROR: Invalid mode id {args[1]}", file=sys.stderr)
            return 1
        state.write_text(f"{mode}\n")
        return 0
    if args[:1] == ["-p"]:
        for mode, name in NV_MODES.items():
            print(f"NVPM VERB: POWER_MODEL: ID={mode} NAME={name}")
        print("NVPM VERB: PM_CONFIG: DEFAULT=120W(1)")
        return 0
    print("Usage: nvpmodel [-q] [-m <mode>] [-p --verbose]", file=sys.stderr)
    return 1
