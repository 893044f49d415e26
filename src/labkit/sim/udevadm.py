"""``udevadm`` for the simulated Jetson: ``control --reload-rules`` and ``trigger`` are
recorded (``<root>/run/udev/calls.log``, one line each) so a run can show that deployed
rules were reloaded, and put back, like on a board."""

from __future__ import annotations

import sys

from labkit.sim.root import sim_root


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:2] == ["control", "--reload-rules"] or args[:1] == ["trigger"]:
        log = sim_root() / "run/udev/calls.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as fh:
            fh.write(" ".join(args) + "\n")
        return 0
    print("udevadm: simulated: only `control --reload-rules` and `trigger`", file=sys.stderr)
    return 1
