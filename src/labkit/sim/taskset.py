"""``taskset -c LIST command ...`` for the simulated Jetson: the board's CPUs onto real ones.

The simulated board has its profile's CPUs (14 on Thor); the machine under it may have
2. A CPU list meant for the board (``2-13``) is mapped CPU i -> real CPU ``i mod n`` of
the CPUs this process may use, so pinning still acts through the real scheduler (and a
list that names CPUs outside the board's fails the way the real taskset does). Only the
launch form labkit uses is accepted.
"""

from __future__ import annotations

import os
import sys

from labkit.sim.root import board, sim_root


def parse_list(text: str) -> list[int]:
    """``0,2-5,8`` -> [0, 2, 3, 4, 5, 8]; ValueError on a malformed list."""
    cpus: list[int] = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        first, last = int(lo), int(hi or lo)
        if first > last:
            raise ValueError(part)
        cpus.extend(range(first, last + 1))
    return cpus


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[0] not in ("-c", "--cpu-list"):
        sys.stderr.write("usage: taskset -c <cpu-list> <command> [args...] (simulated)\n")
        return 1
    try:
        wanted = parse_list(args[1])
    except ValueError:
        sys.stderr.write(f"taskset: failed to parse CPU list: {args[1]}\n")
        return 1
    if not wanted or max(wanted) >= board(sim_root()).ncpu:
        sys.stderr.write(f"taskset: failed to set pid {os.getpid()}'s affinity: Invalid argument\n")
        return 1
    real = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {real[i % len(real)] for i in wanted})
    try:
        os.execvp(args[2], args[2:])
    except OSError as exc:
        sys.stderr.write(f"taskset: failed to execute {args[2]}: {exc.strerror}\n")
        return 1
