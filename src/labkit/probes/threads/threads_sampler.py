"""Per-thread CPU of a process tree, sampled from /proc (stdlib only; runs on the target).

labkit places this file in the run directory and starts it once the workload runs:

    python3 threads_sampler.py --pid PID --interval-ms 100 [--pyspy PATH]

Every interval it reads ``/proc/<pid>/task/<tid>/stat`` of the workload and its
descendants (rescanned once a second) and prints one line per thread:

    S <epoch s> <pid> <tid> <utime+stime ticks> <cpu it last ran on> <comm>

At start it prints ``H <clock ticks per s> <epoch s> <UTC offset s>`` and, when py-spy is
given, one ``N <os tid> <python thread name>`` line per Python thread from ``py-spy dump``
(the kernel's ``comm`` of a Python thread is the program's name), asked again -- at most
once a second, in the first minute -- when new threads appear. At the end (the workload is
gone, or SIGTERM/SIGINT) it prints ``SELF <cpu seconds>``: its own cost.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

STOP = {"now": False}


def _stat(path: str) -> tuple[int, int, str] | None:
    """(utime + stime, processor, comm) from a ``stat`` file; None when it is gone."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read().decode("utf-8", "replace")
    except OSError:
        return None
    left, right = raw.find("("), raw.rfind(")")
    comm = raw[left + 1 : right].replace(" ", "_") or "?"
    fields = raw[right + 2 :].split()
    try:
        return int(fields[11]) + int(fields[12]), int(fields[36]), comm
    except (IndexError, ValueError):
        return None


def descendants(root: int) -> list[int]:
    """``root`` and every process below it (one pass over /proc)."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as fh:
                raw = fh.read().decode("utf-8", "replace")
        except OSError:
            continue
        fields = raw[raw.rfind(")") + 2 :].split()
        if len(fields) > 1 and fields[1].isdigit():
            children.setdefault(int(fields[1]), []).append(int(name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def python_names(pyspy: str, pid: int) -> dict[int, str]:
    """OS thread id -> Python thread name, from one ``py-spy dump --json``."""
    try:
        res = subprocess.run(
            [pyspy, "dump", "--json", "--nonblocking", "--pid", str(pid)],
            capture_output=True,
            timeout=20,
            check=False,
        )
        threads = json.loads(res.stdout or b"[]")
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return {}
    return {
        int(t["os_thread_id"]): str(t.get("thread_name") or "")
        for t in threads
        if isinstance(t, dict) and t.get("os_thread_id")
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--interval-ms", type=float, default=100.0)
    ap.add_argument("--pyspy", default="")
    args = ap.parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: STOP.update(now=True))
    out = sys.stdout
    out.write(f"H {os.sysconf('SC_CLK_TCK')} {time.time():.6f} {time.localtime().tm_gmtoff}\n")
    pyspy = args.pyspy if args.pyspy and os.path.exists(args.pyspy) else ""
    pyspy = pyspy or shutil.which("py-spy") or ""  # else one on PATH, if any
    named: dict[int, str] = {}
    unnamed: set[int] = set()
    asked: set[int] = set()  # threads a dump has already seen, named or not (native ones)
    last_dump = -1e9

    def name_threads() -> None:
        """Ask py-spy for Python thread names (again when threads appeared that it has not
        named yet: a workload starts its threads after the probe attaches)."""
        nonlocal last_dump
        if not pyspy or time.monotonic() - last_dump < 1.0:
            return
        last_dump = time.monotonic()
        for tid, name in sorted(python_names(pyspy, args.pid).items()):
            if named.get(tid) != name:
                named[tid] = name
                out.write(f"N {tid} {name}\n")
        asked.update(unnamed)
        unnamed.clear()

    name_threads()
    out.flush()
    period = args.interval_ms / 1000.0
    pids: list[int] = [args.pid]
    nxt = time.monotonic()
    n = 0
    while not STOP["now"] and os.path.exists(f"/proc/{args.pid}"):
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
                got = _stat(f"/proc/{pid}/task/{tid}/stat")
                if got:
                    lines.append(f"S {now:.6f} {pid} {tid} {got[0]} {got[1]} {got[2]}\n")
                    if pid == args.pid and int(tid) not in named and int(tid) not in asked:
                        unnamed.add(int(tid))
        out.write("".join(lines))
        if unnamed and n < 600:  # new threads in the first minute: name them once more
            name_threads()
        out.flush()
        n += 1
        nxt += period
        time.sleep(max(0.0, nxt - time.monotonic()))
    for sig in (signal.SIGTERM, signal.SIGINT):  # a stop that comes as we end is not a kill
        signal.signal(sig, signal.SIG_IGN)
    use = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = use.ru_utime + use.ru_stime + kids.ru_utime + kids.ru_stime
    out.write(f"SELF {cpu:.6f}\n")
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
