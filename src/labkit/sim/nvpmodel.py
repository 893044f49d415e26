"""``nvpmodel`` for the simulated Jetson (``-q``, ``-m N``, ``-p --verbose``).

The board profile says which modes switch live and which need a reboot (a different GPU
power-gating mask, as ``/etc/nvpmodel.conf`` shows). For those, ``-m`` warns, asks
``DO YOU WANT TO REBOOT NOW? enter YES/yes to confirm:`` on stdin and, without that
answer, leaves the mode as it was (AGX Thor capture, r38.x); with it, saves the mode for
the next boot and reboots the simulated board (``labkit.sim.reboot``).
"""

from __future__ import annotations

import sys
import time

from labkit.sim import reboot
from labkit.sim.power import shown
from labkit.sim.root import apply_mode, board, current_mode, pending_path, sim_root


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    """With the board profile: ``-m N``, ``-p``, and ``-q`` on a board without the conf
    (``__main__`` answers ``-q`` from the conf, as the real tool does, without this
    module's imports)."""
    args = list(sys.argv[1:] if argv is None else argv)
    root = sim_root()
    b = board(root)
    if args[:1] == ["-q"]:
        mode = current_mode(root, b)
        if mode not in b.modes:
            print(f"NVPM ERROR: power mode {mode} is not one of this board's", file=sys.stderr)
            return 1
        print(shown(mode, b.modes[mode].name))
        return 0
    if args[:1] == ["-m"] and len(args) >= 2:
        try:
            mode = int(args[1])
        except ValueError:
            mode = -1
        if mode not in b.modes:
            print(f"NVPM ERROR: Invalid mode id {args[1]}", file=sys.stderr)
            return 1
        now = current_mode(root, b)
        if b.modes[mode].pg_mask == b.modes[now].pg_mask:
            apply_mode(root, b, mode)
            return 0
        if b.extra_warn:
            _say(b.extra_warn)
        _say(f"NVPM WARN: Reboot required for changing to this power mode: {mode}")
        _say("NVPM WARN: DO YOU WANT TO REBOOT NOW? enter YES/yes to confirm:")
        answer = sys.stdin.readline().strip()
        if answer not in ("YES", "yes"):
            _say("NVPM ERROR: bad input!")
            _say("NVPM ERROR: optMask is 1, no request for power mode")
            return 1
        pending = pending_path(root)
        pending.parent.mkdir(parents=True, exist_ok=True)
        pending.write_text(f"{mode}\n")
        _say("NVPM WARN: rebooting")
        reboot.start(root)
        time.sleep(60)  # the reboot ends this process, as it does on a board
        return 0
    if args[:1] == ["-p"]:
        for ident, m in b.modes.items():
            print(f"NVPM VERB: POWER_MODEL: ID={ident} NAME={m.name}")
        print(f"NVPM VERB: PM_CONFIG: DEFAULT={b.modes[b.default_mode].name}({b.default_mode})")
        return 0
    print("Usage: nvpmodel [-q] [-m <mode>] [-p --verbose]", file=sys.stderr)
    return 1
