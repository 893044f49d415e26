"""Waiting on the target for a file to change, without a process per check.

A wait that runs ``sleep`` between checks starts a process 20 times a second on the board
it measures, and sees the change up to a tick late. Here the pause is bash's own ``read
-t`` on a pipe nobody writes (opened read-write, so it never ends): a builtin, so the
check can run every 10 ms at a fraction of the CPU that ``sleep 0.05`` took.
"""

from __future__ import annotations

TICK_S = 0.01  # how often a wait checks


def checking(check: str, wait_s: float) -> str:
    """bash: run ``check`` (commands ending in ``;``, which may ``break``) every
    ``TICK_S``, at most ``wait_s`` long (at least once)."""
    ticks = max(1, round(wait_s / TICK_S))
    return (
        f"i=0; {{ while [ $i -lt {ticks} ]; do {check} "
        f"read -t {TICK_S} -u 9; i=$((i+1)); done; }} 9<> <(:)"
    )
