"""A fixed-rate loop with named stages, for the pyspy probe's tests: each tick reads a
sensor (a 3 ms wait for I/O), computes (2 ms busy) and waits for the next tick; every
``--stall-every``-th tick the computation runs ``--stall-ms`` longer, the tick is late and,
more than ``--late-ms`` late, prints one line with the time it noticed:

    LATE tick=10 lateness_ms=31.2 at=2026-02-10T10:00:01.234

A late tick does not wait (it is already behind) and the loop starts its next period from
there. Standard library only.
"""

from __future__ import annotations

import argparse
import time
from datetime import datetime


def read_sensor() -> None:
    """The sensor's reply takes 3 ms (blocked in I/O, as a serial read)."""
    time.sleep(0.003)


def compute(ms: float) -> None:
    """Busy computation for ``ms`` milliseconds (a controller's maths)."""
    end = time.perf_counter() + ms / 1000
    x = 0
    while time.perf_counter() < end:
        x += 1


def wait_tick(deadline: float) -> None:
    """Sleep until the next tick."""
    pause = deadline - time.monotonic()
    if pause > 0:
        time.sleep(pause)


def run_loop(rate: float, seconds: float, stall_every: int, stall_ms: float, late_ms: float) -> int:
    period = 1.0 / rate
    start = deadline = time.monotonic()
    ticks = late = 0
    while deadline - start < seconds:
        ticks += 1
        deadline += period
        read_sensor()
        compute(2.0 + (stall_ms if stall_every and ticks % stall_every == 0 else 0.0))
        lateness_ms = (time.monotonic() - deadline) * 1000
        if lateness_ms > 0:
            if lateness_ms > late_ms:
                late += 1
                at = datetime.now().isoformat(timespec="milliseconds")  # the host's clock
                print(f"LATE tick={ticks} lateness_ms={lateness_ms:.3f} at={at}", flush=True)
            deadline = time.monotonic()  # behind: start the next period now, no burst
            continue
        wait_tick(deadline)
    print(f"SUMMARY ticks={ticks} late={late}", flush=True)
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, default=20.0, help="ticks per second")
    ap.add_argument("--seconds", type=float, default=4.0, help="how long to run")
    ap.add_argument("--stall-every", type=int, default=10, help="every n-th tick stalls")
    ap.add_argument("--stall-ms", type=float, default=80.0, help="how long a stall lasts")
    ap.add_argument("--late-ms", type=float, default=10.0, help="a tick later than this is late")
    a = ap.parse_args()
    return run_loop(a.rate, a.seconds, a.stall_every, a.stall_ms, a.late_ms)


if __name__ == "__main__":
    raise SystemExit(main())
