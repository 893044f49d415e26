"""Runs one ``gst-launch-1.0`` pipeline for a fixed time (stdlib only; runs on the target).

labkit places this file in the run directory and starts it as the workload:

    python3 run_gst.py --seconds 10 --target-fps 30 -- gst-launch-1.0 -v -e videotestsrc ! ...

gst-launch-1.0 prints no times, and a pipeline only ends cleanly (EOS through every
element, exit 0) when it is interrupted, so this runner starts it as its child (same
process group), stamps each of its output lines with the epoch time it was read
(``<epoch s> <line>``), sends it SIGINT once ``--seconds`` have passed since it set the
pipeline PLAYING (``-e``: EOS, then a clean exit) and exits with its exit code. The
first line is ``#labkit-gst <epoch s> <UTC offset s> <seconds> <target fps>``.
SIGINT/SIGTERM sent to the group (the run stopped early) reach gst-launch-1.0 directly;
the runner reads on until it has printed everything. When the pipeline fails, the last
line is ``labkit: gst-launch-1.0 failed: <its first ERROR line>``, so the run's error
names GStreamer's own message.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
import time

# after the SIGINT, how long EOS may take before SIGTERM, then SIGKILL
EOS_WAIT_S = 10.0
TERM_WAIT_S = 5.0
# how long gst-launch-1.0 may take to set the pipeline playing (a busy board loading its
# plug-ins) before the run's time starts anyway
START_WAIT_S = 60.0
PLAYING = "Setting pipeline to PLAYING"


def pump(src, out, errors: list[str], playing: threading.Event) -> None:
    """Copy ``src`` to ``out`` line by line, each stamped with the time it was read."""
    for raw in iter(src.readline, b""):
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line.startswith("ERROR:") or line.startswith("WARNING: erroneous pipeline"):
            errors.append(line)
        out.write(f"{time.time():.6f} {line}\n")
        out.flush()
        if line.startswith(PLAYING):
            playing.set()
    playing.set()  # ended before playing: nothing to wait for


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--target-fps", type=float, default=0.0)
    ap.add_argument("command", nargs=argparse.REMAINDER)
    args = ap.parse_args(argv)
    cmd = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not cmd:
        ap.error("no command after --")
    out = sys.stdout
    out.write(
        f"#labkit-gst {time.time():.6f} {time.localtime().tm_gmtoff} {args.seconds:g} "
        f"{args.target_fps:g}\n"
    )
    out.flush()
    # the group's SIGINT is for gst-launch-1.0 (EOS); the runner reads on to the end
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    except OSError as exc:
        out.write(f"labkit: cannot start {cmd[0]}: {exc}\n")
        return 127
    signal.signal(signal.SIGTERM, lambda *_: proc.poll() is None and proc.terminate())
    errors: list[str] = []
    playing = threading.Event()
    reader = threading.Thread(target=pump, args=(proc.stdout, out, errors, playing), daemon=True)
    reader.start()
    # the time runs from PLAYING: a SIGINT before gst-launch-1.0 handles it would kill it
    playing.wait(timeout=START_WAIT_S)
    try:
        proc.wait(timeout=args.seconds)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        for nxt, wait in ((proc.terminate, EOS_WAIT_S), (proc.kill, TERM_WAIT_S)):
            try:
                proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                out.write(f"labkit: no EOS after {wait:g} s; stopping it harder\n")
                out.flush()
                nxt()
    code = proc.wait()
    reader.join()
    if code != 0 and errors:
        out.write(f"labkit: gst-launch-1.0 failed: {errors[0]}\n")
    out.flush()
    return code if code >= 0 else 128 - code


if __name__ == "__main__":
    sys.exit(main())
