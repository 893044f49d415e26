"""Run one experiment on the target, detached from the SSH session (stdlib only).

labkit copies this file into the run directory and starts it with ``setsid nohup``, so a
dropped connection or a closed laptop does not end the recording. It starts tegrastats,
then lerobot-record in its own process group, waits (with the run's own watchdog), stops
exactly the tegrastats it started, and records everything in ``status.json`` (written
atomically). ``SIGTERM`` to the supervisor means "stop the recording now": SIGINT to the
record's group so LeRobot finalises, then SIGTERM and SIGKILL after the grace period.

Usage: python3 supervise.py SPEC.json
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time

STOP = {"requested": False}


def write_status(run_dir: str, status: dict) -> None:
    tmp = os.path.join(run_dir, ".status.json.tmp")
    with open(tmp, "w") as fh:
        json.dump(status, fh)
    os.replace(tmp, os.path.join(run_dir, "status.json"))


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def signal_group(pgid: int, sig: int) -> bool:
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def stop_record(proc: subprocess.Popen, grace_s: float) -> str:
    """SIGINT (LeRobot saves and exits), then SIGTERM, then SIGKILL; returns the last used."""
    for sig, wait in ((signal.SIGINT, grace_s), (signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
        if proc.poll() is not None:
            break
        signal_group(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return signal.Signals(sig).name
        except subprocess.TimeoutExpired:
            continue
    return "SIGKILL"


def spawn(argv: list[str], out, cwd: str | None = None) -> subprocess.Popen:
    """A child in its own session (signalled as a group), stdout+stderr into ``out``."""
    return subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=cwd,
    )


def main(spec_path: str) -> int:
    with open(spec_path) as fh:
        spec = json.load(fh)
    run_dir = spec["run_dir"]
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # children must not inherit an ignored SIGINT
    signal.signal(signal.SIGTERM, lambda *_: STOP.update(requested=True))
    status = {"state": "starting", "supervisor_pid": os.getpid(), "started_at": now()}
    try:  # which boot this supervisor runs in: after a reboot its pid is someone else's
        with open(spec.get("boot_id_path") or "/proc/sys/kernel/random/boot_id") as fh:
            status["boot_id"] = fh.read().strip()
    except OSError:
        pass
    write_status(run_dir, status)
    monitor_out = open(os.path.join(run_dir, "tegrastats.out"), "wb")  # noqa: SIM115
    record_log = open(os.path.join(run_dir, "record.log"), "wb")  # noqa: SIM115
    monitor = None
    try:
        monitor = spawn(spec["monitor_argv"], monitor_out)
        status["tegrastats_pid"] = monitor.pid
    except OSError as exc:
        status["tegrastats_error"] = str(exc)
    try:
        record = spawn(spec["record_argv"], record_log, cwd=run_dir)
    except OSError as exc:
        record_log.write(f"labkit: cannot start {spec['record_argv'][0]}: {exc}\n".encode())
        record_log.flush()
        status.update(state="done", record_exit=127, ended_at=now(), stopped_by=None)
        _stop_monitor(monitor, status)
        write_status(run_dir, status)
        return 0
    status.update(state="running", record_pid=record.pid, record_started_at=now())
    write_status(run_dir, status)
    deadline = time.monotonic() + float(spec["timeout_s"])
    stopped_by = None
    while record.poll() is None:
        if STOP["requested"] or time.monotonic() > deadline:
            stopped_by = "request" if STOP["requested"] else "watchdog"
            status["stop_signal"] = stop_record(record, float(spec.get("grace_s", 30)))
            break
        with contextlib.suppress(subprocess.TimeoutExpired):
            record.wait(timeout=0.2)
    status.update(record_exit=record.wait(), ended_at=now(), stopped_by=stopped_by)
    _stop_monitor(monitor, status)
    status["state"] = "done"
    write_status(run_dir, status)
    return 0


def _stop_monitor(monitor: subprocess.Popen | None, status: dict) -> None:
    """Stop exactly the tegrastats this run started (``tegrastats --stop`` would stop all)."""
    if monitor is None:
        return
    if monitor.poll() is None:
        signal_group(monitor.pid, signal.SIGTERM)
        try:
            monitor.wait(timeout=10)
        except subprocess.TimeoutExpired:
            signal_group(monitor.pid, signal.SIGKILL)
    status["tegrastats_exit"] = monitor.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
