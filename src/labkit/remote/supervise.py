"""Run one experiment on the target, detached from the SSH session (stdlib only).

labkit copies this file into the run directory and starts it with ``setsid nohup``, so a
dropped connection or a closed laptop does not end the run. It starts the probes
that run before the workload (tegrastats), then the workload in its own process group,
then the probes that attach to the workload's pid; it waits (with the run's own
watchdog), stops exactly the probes it started (each one's own process group: its stop
signal, then SIGKILL after 10 s), and records everything in ``status.json`` (written
atomically). A probe that fails to start or exits early never stops the workload.
``SIGTERM`` to the supervisor means "stop the workload now": SIGINT to its group so it
can finalise (LeRobot saves the episode), then SIGTERM and SIGKILL after the grace period.

``spec.json``: ``run_dir``, ``workload_argv``, ``workload_log``, ``timeout_s``,
``grace_s`` and ``probes``, a list of ``{name, argv, attach, log, files, stop_signal}``
(``labkit.probes.base.ProbeLaunch``; ``{run_dir}`` and ``{pid}`` in argv are filled in).
``status.json``: ``state`` (starting, running, done), ``supervisor_pid``, the workload's
``workload_pid``, ``workload_started_at``, ``workload_exit``, ``workload_s``, ``ended_at``,
``stopped_by`` (request, watchdog or null), ``stop_signal``, and ``probes``:
``{name: {pid, exit, error, started_at}}``.

Usage: python3 supervise.py SPEC.json
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time

STOP = {"requested": False}
PROBE_KILL_AFTER_S = 10.0


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


def stop_workload(proc: subprocess.Popen, grace_s: float) -> str:
    """SIGINT (the workload saves and exits), then SIGTERM, then SIGKILL; returns the last."""
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


class EndWatch:
    """Waits of at most ``timeout`` s that return as ``proc`` ends: on a pidfd where the
    kernel has them (Linux 5.3, Python 3.9), so the run's end is seen at once; else
    ``Popen.wait``'s own polling, up to 50 ms late."""

    def __init__(self, proc: subprocess.Popen) -> None:
        self.proc = proc
        try:
            self.fd: int | None = os.pidfd_open(proc.pid)
        except (AttributeError, OSError):  # an older kernel or Python
            self.fd = None

    def wait(self, timeout: float) -> None:
        if self.fd is None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=timeout)
            return
        poller = select.poll()  # (select.select stops at fd 1024)
        poller.register(self.fd, select.POLLIN)  # readable once the process has ended
        poller.poll(timeout * 1000)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


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


class Probes:
    """The run's probes: started, watched and stopped one by one, each on its own."""

    def __init__(self, specs: list[dict], run_dir: str, status: dict) -> None:
        self.specs = specs
        self.run_dir = run_dir
        self.procs: dict[str, subprocess.Popen] = {}
        self.status = status.setdefault("probes", {})
        for spec in specs:
            self.status[spec["name"]] = {"pid": None, "exit": None, "error": None}

    def start(self, attach: bool, pid: int | None = None) -> None:
        for spec in self.specs:
            if bool(spec.get("attach")) != attach:
                continue
            entry = self.status[spec["name"]]
            try:
                for rel, text in (spec.get("files") or {}).items():
                    with open(os.path.join(self.run_dir, rel), "w") as fh:
                        fh.write(text)
                argv = [
                    a.replace("{run_dir}", self.run_dir).replace("{pid}", str(pid))
                    for a in spec["argv"]
                ]
                log = os.path.join(self.run_dir, spec.get("log") or f"{spec['name']}.out")
                with open(log, "wb") as out:
                    proc = spawn(argv, out, cwd=self.run_dir)
            except OSError as exc:
                entry["error"] = f"cannot start {spec['argv'][0]}: {exc}"
                continue
            self.procs[spec["name"]] = proc
            entry.update(pid=proc.pid, started_at=now())

    def poll(self) -> bool:
        """Note every probe that ended by itself; True when one did since the last poll."""
        changed = False
        for name, proc in self.procs.items():
            entry = self.status[name]
            if entry["exit"] is None and proc.poll() is not None:
                entry.update(exit=proc.returncode, ended_at=now(), ended="by itself")
                changed = True
        return changed

    def stop(self) -> None:
        """Stop exactly the probes this run started: the stop signal to each one's group,
        then SIGKILL after 10 s (``tegrastats --stop`` would stop every one)."""
        self.poll()
        running = {n: p for n, p in self.procs.items() if p.poll() is None}
        for name, proc in running.items():
            sig = getattr(signal, "SIG" + self._spec(name).get("stop_signal", "TERM"))
            signal_group(proc.pid, sig)
        deadline = time.monotonic() + PROBE_KILL_AFTER_S
        for name, proc in running.items():
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                signal_group(proc.pid, signal.SIGKILL)
                self.status[name]["killed"] = True
        for name, proc in self.procs.items():
            entry = self.status[name]
            if entry["exit"] is None:
                entry.update(exit=proc.wait(), ended_at=now())
            # a probe's leftover children (its group) go with it
            signal_group(proc.pid, signal.SIGKILL)

    def _spec(self, name: str) -> dict:
        return next(s for s in self.specs if s["name"] == name)


def main(spec_path: str) -> int:
    with open(spec_path) as fh:
        spec = json.load(fh)
    run_dir = spec["run_dir"]
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # children must not inherit an ignored SIGINT
    signal.signal(signal.SIGTERM, lambda *_: STOP.update(requested=True))
    status: dict = {"state": "starting", "supervisor_pid": os.getpid(), "started_at": now()}
    try:  # which boot this supervisor runs in: after a reboot its pid is someone else's
        with open(spec.get("boot_id_path") or "/proc/sys/kernel/random/boot_id") as fh:
            status["boot_id"] = fh.read().strip()
    except OSError:
        pass
    probes = Probes(spec.get("probes") or [], run_dir, status)
    write_status(run_dir, status)
    argv = spec["workload_argv"]
    log = open(os.path.join(run_dir, spec["workload_log"]), "wb")  # noqa: SIM115
    probes.start(attach=False)
    began = time.monotonic()
    try:
        workload = spawn(argv, log, cwd=run_dir)
    except OSError as exc:
        log.write(f"labkit: cannot start {argv[0]}: {exc}\n".encode())
        log.flush()
        status.update(state="done", workload_exit=127, ended_at=now(), stopped_by=None)
        probes.stop()
        write_status(run_dir, status)
        return 0
    status.update(state="running", workload_pid=workload.pid, workload_started_at=now())
    probes.start(attach=True, pid=workload.pid)
    write_status(run_dir, status)
    deadline = began + float(spec["timeout_s"])
    stopped_by = None
    watch = EndWatch(workload)
    while workload.poll() is None:
        if STOP["requested"] or time.monotonic() > deadline:
            stopped_by = "request" if STOP["requested"] else "watchdog"
            status["stop_signal"] = stop_workload(workload, float(spec.get("grace_s", 30)))
            break
        watch.wait(0.2)
        if probes.poll():
            write_status(run_dir, status)
    watch.close()
    status.update(
        workload_exit=workload.wait(),
        workload_s=round(time.monotonic() - began, 3),
        ended_at=now(),
        stopped_by=stopped_by,
    )
    probes.stop()
    status["state"] = "done"
    write_status(run_dir, status)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
