"""The client of the target-side supervisor (``labkit.remote.supervise``).

``start`` places the spec (workload argv and log, the probes' ``ProbeLaunch`` list,
watchdog, grace), the run's record, the supervisor and the workload's files in the run
directory and starts the supervisor detached from the SSH session; ``poll`` reads its
``status.json`` and the part of the workload's log written since the last poll (the
workload's progress signal) in one round trip; ``stop`` asks it to stop the workload and,
should it be gone, signals what it started; ``outcome`` says how the run ended.
"""

from __future__ import annotations

import base64
import binascii
import json
import posixpath
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labkit.errors import ConnectError, RemoteError
from labkit.records.model import RunRecord
from labkit.registry import PROBES, workload_class_of
from labkit.remote import lock
from labkit.remote.reboot import boot_id_path
from labkit.remote.target import Target
from labkit.remote.waits import checking

q = shlex.quote
SUPERVISOR = Path(__file__).resolve().parents[1] / "remote" / "supervise.py"
CHUNK = 256 * 1024  # most of the workload's log read per poll
LOG_MARK = "@@labkit-log@@"
# how a probe may end when it is stopped: by itself, or by SIGINT/SIGTERM (as a signal or
# as Python's and the shell's 128 + n)
STOPPED_OK = (0, -2, -15, 130, 143, None)


@dataclass
class Watch:
    """The workload's progress across polls: how far its log was read, events so far."""

    offset: int = 0
    count: int = 0
    last: float | None = None


def spec(
    plan, record: RunRecord, grace_s: float, watchdog: float, boot_id_path: str = ""
) -> dict[str, Any]:
    skipped = {n for n, p in record.probes.items() if p.skipped}
    return {
        "run_dir": plan.remote_run_dir,
        "workload_argv": plan.workload_command(),
        "workload_log": plan.workload.log,
        "probes": [p.spec() for p in plan.probe_launches() if p.name not in skipped],
        "timeout_s": watchdog,
        "grace_s": grace_s,
        "store": record.store,
        "boot_id_path": boot_id_path,  # which boot it runs in (labkit.remote.reboot)
    }


def poll(
    target: Target,
    rd: str,
    wait_s: float = 0,
    until: str = "done",
    before: str = "",
    workload=None,
    watch: Watch | None = None,
    on_done: str = "",
) -> dict:
    """The supervisor's status (``{}`` if none yet); with ``workload`` and ``watch``, the
    workload's new log lines are read and counted into ``watch``, in the same round trip.

    With ``wait_s``, the target waits (checking every 10 ms, ``remote.waits``) until the
    status file shows ``"state": "<until>"`` (an alternation such as ``running|done``) or
    the time is up, so the end of a run is seen at once instead of a poll interval late.
    ``before`` runs first in the same round trip (starting the supervisor, or a CPU
    sample's first reading near the workload's expected end); ``on_done`` runs on the
    target as soon as the wait sees the run done (no round trip of its own).
    """
    wait = f"{before}\n" if before else ""
    if wait_s > 0:
        # bash builtins read and match the file, and pause between checks: no process
        # started 100 times a second on a busy board
        states = "|".join(f'*\'"state": "{s}"\'*' for s in until.split("|"))
        path = f"{q(rd)}/status.json"
        check = f"s=; IFS= read -r -d '' s < {path}; case $s in {states}) break;; esac;"
        wait += f"{checking(check, wait_s)} 2>/dev/null; "
        if on_done:
            wait += f'case $s in *\'"state": "done"\'*) {on_done};; esac; '
    tail = ""
    if workload is not None and watch is not None:
        log = posixpath.join(rd, workload.log)
        tail = (
            f"echo {LOG_MARK}; tail -c +{watch.offset + 1} {q(log)} 2>/dev/null "
            f"| head -c {CHUNK} | base64 -w0"
        )
    res = target.run(
        f"{wait}cat {q(rd)}/status.json 2>/dev/null; echo; {tail}", timeout=30, check=False
    )
    head, _, chunk = res.stdout.partition(LOG_MARK)
    try:
        status = json.loads(head) if head.strip() else {}
    except json.JSONDecodeError:
        status = {}
    if tail:
        _count(workload, watch, chunk.strip())
    return status


def _count(workload, watch: Watch, encoded: str) -> None:
    try:
        data = base64.b64decode(encoded) if encoded else b""
    except (binascii.Error, ValueError):
        return
    cut = data.rfind(b"\n") + 1  # complete lines only; the rest is read next time
    if cut == 0 and len(data) >= CHUNK:
        cut = len(data)  # one line longer than a chunk: take it as it is
    watch.offset += cut
    n, last = workload.progress(data[:cut].decode("utf-8", errors="replace"))
    watch.count += n
    if last is not None:
        watch.last = last


def start(run) -> None:
    """Place everything in the run dir (made with the lock) and start the supervisor; the
    same round trip waits for it to report ``running``."""
    p, t, rd = run.plan, run.t, run.rd
    files = p.workload.files(p)
    dirs = sorted({posixpath.dirname(n) for n in files if posixpath.dirname(n)})
    if dirs:
        t.run("mkdir -p " + " ".join(q(posixpath.join(rd, d)) for d in dirs))
    for name, text in files.items():
        t.put(text.encode(), posixpath.join(rd, name))
    body = spec(p, run.manifest, run.opts.grace_s, run.watchdog, boot_id_path(run.hs.sysroot))
    t.put(json.dumps(body, indent=1).encode(), posixpath.join(rd, "spec.json"))
    t.put(
        json.dumps(
            {k: v for k, v in run.manifest.as_dict().items() if k != "facts"},
            indent=1,
            default=str,
        ).encode(),
        posixpath.join(rd, "run.json"),
    )
    t.put(SUPERVISOR.read_bytes(), posixpath.join(rd, "supervise.py"))
    # `a && b &` would background a subshell holding the session's stdout open until the
    # run ends; only the supervisor itself goes to the background.
    python = run.facts.get("python_path") or "python3"  # the shim resolved, when known
    # -S: without the site module, which a stdlib-only script does not need; an
    # interpreter with many .pth files (a pyenv build here) starts in 0.04 s, not 0.07-0.13,
    # and the workload starts that much sooner
    begin = (
        f"( cd {q(rd)} || exit 1; setsid nohup {q(python)} -S supervise.py spec.json "
        "> supervisor.log 2>&1 < /dev/null & ); "
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = poll(t, rd, wait_s=5.0, until="running|done", before=begin)
        begin = ""
        if status.get("state") in ("running", "done"):
            run.status = status
            lock.update(
                t,
                run.hs.workdir,
                owner=run.owner or None,
                run_dir=rd,
                supervisor_pid=status["supervisor_pid"],
            )
            return
        time.sleep(0.2)
    tail = t.run(f"tail -n 20 {q(rd)}/supervisor.log", check=False).stdout
    raise RemoteError(f"{t.name}: the run supervisor did not start:\n{tail}")


def stop(run) -> None:
    """Ask the supervisor to stop the workload; fall back to signalling the pids."""
    t, st = run.t, run.status
    pid = st.get("supervisor_pid")
    if not pid:
        return
    t.run(f"kill -TERM {int(pid)} 2>/dev/null; true", check=False)
    deadline = time.monotonic() + run.opts.grace_s + 30
    while time.monotonic() < deadline:
        status = poll(t, run.rd)
        run.status = status or run.status
        if status.get("state") == "done":
            return
        if not t.run(f"kill -0 {int(pid)}", check=False).ok:
            break
        time.sleep(0.5)
    # supervisor gone or stuck: signal what it started, directly (each its own group)
    groups = [(run.status.get("workload_pid"), "KILL")]
    launches = {p.name: p for p in run.plan.probe_launches()}
    for name, entry in (run.status.get("probes") or {}).items():
        sig = launches[name].stop_signal if name in launches else "TERM"
        groups.append((entry.get("pid"), sig))
    for gpid, sig in groups:
        if gpid:
            t.run(f"kill -{sig} -- -{int(gpid)} 2>/dev/null; true", check=False)
    if t.run(f"kill -0 {int(pid)}", check=False).ok:
        t.run(f"kill -KILL {int(pid)}", check=False)


def outcome(
    st: dict,
    local_dir: Path,
    watchdog: float,
    record: RunRecord,
    interrupted: bool = False,
    error: str | None = None,
) -> tuple[str, str | None]:
    """The run's status and, unless complete, why — from the supervisor's ``status.json``.
    A required probe (tegrastats) that failed fails the run; an optional one is noted in
    the record (its exit and error) and the run stands."""
    kind = workload_class_of(record)  # how the messages name it
    if interrupted:
        return "interrupted", error or "interrupted by the user"
    if error:
        return "failed", error
    if st.get("state") != "done":
        return "failed", f"{kind.noun} did not finish"
    if st.get("stopped_by") == "watchdog":
        return "failed", f"watchdog: {kind.noun} ran past {watchdog:.0f} s and was stopped"
    code = st.get("workload_exit")
    log = record.workload.log
    if code != 0:
        return "failed", f"{kind.program_noun} exited {code}:\n{tail(local_dir / log)}"
    for name, entry in (st.get("probes") or {}).items():
        cls = PROBES.get(name)
        if cls is None or not cls.required:
            continue
        probe = record.probes.get(name)
        out = (probe.log if probe is not None else "") or f"{name}.out"
        if entry.get("error"):
            return "failed", f"{name} did not start: {entry['error']}"
        if entry.get("exit") not in STOPPED_OK:
            return "failed", f"{name} exited {entry['exit']}:\n{tail(local_dir / out)}"
    return "complete", None


def tail(path: Path, n: int = 15) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no output was pulled)"
    return "\n".join("    " + line for line in lines[-n:])


def reconnect(target: Target, opts) -> None:
    """Try to get the link back for ``reconnect_s`` seconds; ConnectError if not."""
    deadline = time.monotonic() + opts.reconnect_s
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            target.reconnect()
            opts.say(f"labkit: reconnected to {target.name}")
            return
        except ConnectError as exc:
            last = exc
            time.sleep(min(2.0, max(0.1, deadline - time.monotonic())))
    raise ConnectError(
        f"{target.name}: connection lost and not back after {opts.reconnect_s:g} s ({last})"
    )


def with_link(target: Target, opts, fn, *args, **kwargs):
    """``fn`` once more after the link is back, should it drop."""
    try:
        return fn(*args, **kwargs)
    except ConnectError:
        reconnect(target, opts)
        return fn(*args, **kwargs)


__all__ = ["Watch", "outcome", "poll", "start", "stop", "with_link"]
