"""A fixed-rate control loop, as a robot's: wake every 1/rate s, do a little work, sleep
until the next tick. Every tick that wakes more than --late-ms after its deadline prints
one line with its lateness; the end prints a summary. Stops early on SIGINT or SIGTERM
(still printing the summary).

    LATE tick=123 lateness_ms=4.210 at=2026-02-10T10:00:01.234
    SUMMARY ticks=600 late=7 rate_hz=60 max_lateness_ms=9.812 seconds=10.000

Shipped with playbooks/loop-jitter.yml (labkit places it in the run directory); it needs
only Python 3's standard library, on the workstation's simulated Jetson and on a board.
"""

from __future__ import annotations

import argparse
import signal
import time
from datetime import datetime

STOP = {"now": False}


def work(ms: float) -> None:
    """Busy computation for ``ms`` milliseconds (a controller's maths)."""
    end = time.perf_counter() + ms / 1000
    x = 0
    while time.perf_counter() < end:
        x += 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, required=True, help="ticks per second")
    ap.add_argument("--seconds", type=float, required=True, help="how long to run")
    ap.add_argument("--late-ms", type=float, default=1.0, help="a tick later than this is late")
    ap.add_argument("--work-ms", type=float, default=0.5, help="computation per tick")
    a = ap.parse_args()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: STOP.update(now=True))
    period = 1.0 / a.rate
    start = time.monotonic()
    deadline = start
    ticks = late = 0
    worst = 0.0
    while not STOP["now"] and deadline - start < a.seconds:
        work(a.work_ms)
        deadline += period
        pause = deadline - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        lateness_ms = (time.monotonic() - deadline) * 1000
        ticks += 1
        worst = max(worst, lateness_ms)
        if lateness_ms > a.late_ms:
            late += 1
            at = datetime.now().isoformat(timespec="milliseconds")  # the host's local clock
            print(f"LATE tick={ticks} lateness_ms={lateness_ms:.3f} at={at}", flush=True)
        if lateness_ms > period * 1000:  # a whole period behind: skip, do not burst
            deadline = time.monotonic()
    print(
        f"SUMMARY ticks={ticks} late={late} rate_hz={a.rate:g} max_lateness_ms={worst:.3f} "
        f"seconds={time.monotonic() - start:.3f}",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
