"""Run-queue waits of a process tree's threads, sampled from /proc (stdlib only; runs on
the target).

labkit places this file (and ``threads_sampler.py``, whose /proc readers it shares) in the
run directory and starts it once the workload runs:

    python3 runq_sampler.py --pid PID --interval-ms 100

Every interval it reads ``/proc/<pid>/task/<tid>/schedstat`` of the workload and its
descendants (rescanned once a second): the kernel's running totals, per thread, of the
time it ran on a CPU and the time it was runnable but waited for one (nanoseconds). One
line per thread:

    S <epoch s> <pid> <tid> <on-cpu ns> <waiting ns> <comm>

It starts with ``H <epoch s> <UTC offset s> <root pid>`` and ends (the workload is gone,
or SIGTERM/SIGINT) with ``SELF <cpu seconds>``: its own cost.
"""

from __future__ import annotations

import argparse
import os
import resource
import signal
import sys
import time

from threads_sampler import _stat, descendants

STOP = {"now": False}


def schedstat(path: str) -> tuple[int, int] | None:
    """(ns on a CPU, ns runnable but waiting) from a ``schedstat`` file; None if gone."""
    try:
        with open(path, "rb") as fh:
            fields = fh.read().split()
        return int(fields[0]), int(fields[1])
    except (OSError, IndexError, ValueError):
        return None


def alive(pid: int) -> bool:
    """The process is there and not a zombie (ended, not yet reaped by its parent)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            raw = fh.read()
    except OSError:
        return False
    return raw[raw.rfind(b")") + 2 : raw.rfind(b")") + 3] not in (b"Z", b"X")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--interval-ms", type=float, default=100.0)
    args = ap.parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: STOP.update(now=True))
    out = sys.stdout
    out.write(f"H {time.time():.6f} {time.localtime().tm_gmtoff} {args.pid}\n")
    out.flush()
    period = args.interval_ms / 1000.0
    pids: list[int] = [args.pid]
    names: dict[int, str] = {}  # tid -> comm, read once per thread
    nxt = time.monotonic()
    n = 0
    while not STOP["now"] and alive(args.pid):
        if n % max(1, round(1.0 / period)) == 0:
            pids = descendants(args.pid)
        now = time.time()
        lines = []
        for pid in pids:
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tids:
                got = schedstat(f"/proc/{pid}/task/{tid}/schedstat")
                if got is None:
                    continue
                if int(tid) not in names or n % 10 == 0:  # threads rename themselves
                    stat = _stat(f"/proc/{pid}/task/{tid}/stat")
                    names[int(tid)] = stat[2] if stat else "?"
                lines.append(f"S {now:.6f} {pid} {tid} {got[0]} {got[1]} {names[int(tid)]}\n")
        out.write("".join(lines))
        out.flush()
        n += 1
        nxt += period
        time.sleep(max(0.0, nxt - time.monotonic()))
    for sig in (signal.SIGTERM, signal.SIGINT):  # a stop that comes as we end is not a kill
        signal.signal(sig, signal.SIG_IGN)
    use = resource.getrusage(resource.RUSAGE_SELF)
    out.write(f"SELF {use.ru_utime + use.ru_stime:.6f}\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
