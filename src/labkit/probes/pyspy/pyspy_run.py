"""Run ``py-spy record`` on the workload and note what its trace needs (stdlib only; on the
target, from the run directory):

    python3 pyspy_run.py --pyspy PATH --pid PID --rate 100 --out pyspy.json

py-spy's chrometrace stamps samples in microseconds from its own start, so this wrapper
writes the start time (epoch and the target's UTC offset, for the record log's local
times) to ``pyspy-meta.json`` before starting it, and adds py-spy's exit code and CPU time
when it ends. SIGINT or SIGTERM to the wrapper is passed to py-spy as SIGINT, which makes
it write its trace and exit; py-spy also ends by itself when the workload does.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pyspy", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--rate", type=int, default=100)
    ap.add_argument("--out", default="pyspy.json")
    ap.add_argument("--meta", default="pyspy-meta.json")
    args = ap.parse_args(argv)
    if not os.path.exists(args.pyspy):  # not in labkit's work dir: one on PATH will do
        args.pyspy = shutil.which("py-spy") or args.pyspy
    cmd = [
        args.pyspy, "record", "--nonblocking", "--idle", "--threads",
        "--format", "chrometrace", "--rate", str(args.rate),
        "--pid", str(args.pid), "--output", args.out,
    ]  # fmt: skip
    meta = {
        "argv": cmd,
        "rate": args.rate,
        "pid": args.pid,
        "start_epoch": time.time(),
        "utc_offset_s": time.localtime().tm_gmtoff,
    }
    with open(args.meta, "w") as fh:
        json.dump(meta, fh)
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
    except OSError as exc:
        meta.update(exit=127, error=str(exc))
        with open(args.meta, "w") as fh:
            json.dump(meta, fh)
        return 127

    def forward(*_):
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGINT)

    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGTERM, forward)
    code = proc.wait()
    for sig in (signal.SIGINT, signal.SIGTERM):  # a stop that comes as we end is not a kill
        signal.signal(sig, signal.SIG_IGN)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    meta.update(
        exit=code,
        end_epoch=time.time(),
        cpu_s=kids.ru_utime + kids.ru_stime + own.ru_utime + own.ru_stime,
        trace_bytes=os.path.getsize(args.out) if os.path.exists(args.out) else 0,
    )
    with open(args.meta, "w") as fh:
        json.dump(meta, fh)
    return 0 if code in (0, -signal.SIGINT) else code


if __name__ == "__main__":
    sys.exit(main())
