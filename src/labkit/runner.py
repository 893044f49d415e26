"""One experiment run on one host, start to finish, always leaving the host as it was.

Phases: connect -> lock -> facts -> preflight -> settings (journaled) -> start the
supervisor (detached: tegrastats + lerobot-record) -> watch -> *finally*: stop the
recording, restore the settings, pull the logs, release the lock, write the manifest.
The finally-part runs on success, failure, watchdog timeout, Ctrl-C and SIGTERM; while
it runs, a second Ctrl-C is refused so the target cannot be left half-restored. If the
connection is lost and does not come back, the recording goes on on the target and
``invoke collect`` / ``invoke restore`` finish the job later.
"""

from __future__ import annotations

import contextlib
import json
import os
import posixpath
import shlex
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from labkit.config.params import cpu_list_problem
from labkit.config.plan import Plan
from labkit.errors import ConnectError, LabkitError, LockedError, PreflightError, RemoteError
from labkit.records.store import (
    mark_restored,
    new_run_id,
    provenance,
    run_path,
    store_id,
    write_manifest,
)
from labkit.remote import lock
from labkit.remote.connect import HostSession, open_host
from labkit.remote.reboot import boot_id_path
from labkit.remote.settings import (
    Change,
    FileSpec,
    apply_changes,
    journal_body,
    journal_path,
    plan_changes,
    restore_journal,
)
from labkit.remote.target import Target
from labkit.remote.transfer import leftovers, pull_run
from labkit.workloads.lerobot_flags import shell

q = shlex.quote
SUPERVISOR = Path(__file__).resolve().parent / "remote" / "supervise.py"


@dataclass
class RunOptions:
    runs: Path = Path("runs")
    check: bool = False
    detach: bool = False
    grace_s: float = 30.0
    poll_s: float = 1.0
    reconnect_s: float = field(
        default_factory=lambda: float(os.environ.get("LABKIT_RECONNECT_S", "30"))
    )
    out: IO = field(default_factory=lambda: sys.stdout)
    # for batches: a stop request shared by every host's run, a progress callback
    # (elapsed s, expected s, warnings so far, last warned Hz) and manifest additions
    stop: threading.Event | None = None
    progress: Any = None
    manifest_extra: dict[str, Any] = field(default_factory=dict)

    def say(self, msg: str) -> None:
        print(msg, file=self.out, flush=True)

    def check_stop(self) -> None:
        """A batch asked every run to stop (Ctrl-C, --fail-fast): end this one like Ctrl-C."""
        if self.stop is not None and self.stop.is_set():
            raise Interrupted("batch stopped")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, SIGTERM or SIGHUP reached labkit during a run."""


def watchdog_s(plan: Plan) -> float:
    """How long a run may take on the target before it is stopped: 1.5x expected + 60 s."""
    return plan.expected_duration_s * 1.5 + 60


# -- signals ---------------------------------------------------------------------------


@contextlib.contextmanager
def signals_interrupt():
    """SIGTERM and SIGHUP end a run like Ctrl-C does (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Interrupted(signal.Signals(signum).name)

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextlib.contextmanager
def shield(notice):
    """During cleanup, Ctrl-C/SIGTERM/SIGHUP call ``notice()`` instead of interrupting:
    restoring must finish (main thread only; elsewhere signals do not arrive anyway)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        notice()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def shielded(opts: RunOptions):
    return shield(lambda: opts.say("labkit: still putting the target back; please wait"))


# -- pieces ----------------------------------------------------------------------------


def render_files(plan: Plan, host_vars: dict[str, Any]) -> list[FileSpec]:
    files = plan.playbook.files_for(plan.experiment)
    if not files:
        return []
    import jinja2  # ~45 ms with asyncio: only for playbooks that deploy files

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    out = []
    for f in files:
        path = plan.playbook.template_path(f)
        try:
            tpl = env.from_string(path.read_text())
            content = tpl.render(
                host=host_vars,
                params=plan.params,
                settings=plan.settings,
                experiment=plan.experiment,
            )
        except jinja2.TemplateError as exc:
            line = getattr(exc, "lineno", None)
            where = f"{path}:{line}" if line else str(path)
            raise LabkitError(f"{where}: template error: {exc}") from None
        out.append(FileSpec(f.dest, content, f.mode, f.after_change))
    return out


def devices(plan: Plan) -> dict[str, str]:
    """The device nodes the run uses (arms, and the cameras it records): what -> path."""
    used = set(plan.params.get("cameras") or [])
    return {
        k: v for k, v in plan.host.devices().items() if not k.startswith("camera ") or k[7:] in used
    }


def preflight(plan: Plan, hs: HostSession, facts: dict[str, Any]) -> list[str]:
    """Everything the run needs that the target lacks (empty: good to go)."""
    problems = []
    if not facts.get("tegrastats"):
        problems.append(f"tegrastats not found ({plan.host.labkit_tegrastats})")
    lr = facts.get("lerobot")
    if not lr:
        problems.append(
            f"lerobot-record not found ({plan.host.labkit_lerobot_record}); set "
            "labkit_lerobot_record to its full path (e.g. inside the conda env)"
        )
    elif lr.get("version") and lr["version"] != str(plan.version):
        problems.append(
            f"lerobot on the host is {lr['version']} but the plan uses {plan.version} flags; "
            f"set labkit_lerobot_version: {lr['version']!r} for this host"
        )
    if not facts.get("python"):
        problems.append("python3 not found (labkit's run supervisor needs it)")
    missing = set(facts.get("missing_paths") or [])
    problems += [
        f"{what} {dev} does not exist" for what, dev in devices(plan).items() if dev in missing
    ]
    disk = facts.get("disk")
    if disk and disk["free_mb"] < plan.host.labkit_min_free_mb:
        problems.append(
            f"only {disk['free_mb']} MB free on {disk['mount']} "
            f"(labkit_min_free_mb: {plan.host.labkit_min_free_mb})"
        )
    cpus = cpu_list_problem(plan.settings.get("settings.record_cpus"), _cpu_count(facts))
    if cpus:
        problems.append(cpus)
    return problems


def _cpu_count(facts: dict[str, Any]) -> int | None:
    return (facts.get("cpu") or {}).get("count")


def _poll(
    target: Target, rd: str, wait_s: float = 0, until: str = "done", before: str = ""
) -> tuple[dict, int, float | None]:
    """Status, warnings so far and last warned Hz, in one round trip.

    With ``wait_s``, the target waits (checking every 50 ms) until the status file shows
    ``"state": "<until>"`` (an alternation such as ``running|done``) or the time is up,
    so the end of a run is seen at once instead of up to a poll interval late.
    ``before`` runs first in the same round trip (starting the supervisor).
    """
    wait = before
    if wait_s > 0:
        # bash builtins read and match the file (no grep to fork 20 times a second on a
        # busy board); only `sleep` is a process
        ticks = max(1, int(wait_s / 0.05))
        states = "|".join(f'*\'"state": "{s}"\'*' for s in until.split("|"))
        wait += (
            f"i=0; while [ $i -lt {ticks} ]; do s=; IFS= read -r -d '' s < {q(rd)}/status.json; "
            f"case $s in {states}) break;; esac; sleep 0.05; i=$((i+1)); done 2>/dev/null; "
        )
    res = target.run(
        f"{wait}cat {q(rd)}/status.json 2>/dev/null; echo; echo @@; "
        f"grep -c 'loop is running slower' {q(rd)}/record.log 2>/dev/null; echo @@; "
        f"grep -o 'slower ([0-9.]* Hz)' {q(rd)}/record.log 2>/dev/null | tail -n 1",
        timeout=30,
        check=False,
    )
    parts = res.stdout.split("@@")
    try:
        status = json.loads(parts[0]) if parts[0].strip() else {}
    except json.JSONDecodeError:
        status = {}
    warnings = int(parts[1].split()[0]) if len(parts) > 1 and parts[1].split() else 0
    hz = None
    if len(parts) > 2 and "(" in parts[2]:
        with contextlib.suppress(ValueError):
            hz = float(parts[2].split("(")[1].split()[0])
    return status, warnings, hz


def _reconnect(target: Target, opts: RunOptions) -> None:
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


def _with_link(target: Target, opts: RunOptions, fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except ConnectError:
        _reconnect(target, opts)
        return fn(*args, **kwargs)


# -- the run ---------------------------------------------------------------------------


@dataclass
class Run:
    plan: Plan
    hs: HostSession
    opts: RunOptions
    run_id: str
    facts: dict[str, Any] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    status: dict[str, Any] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    owner: dict[str, Any] = field(default_factory=dict)  # the lock record as taken
    journal: dict[str, Any] | None = None  # what this run changed, as journaled
    # the facts from before a reboot into a power mode (the run's ``facts`` are after it)
    facts_before: dict[str, Any] = field(default_factory=dict)

    @property
    def t(self) -> Target:
        return self.hs.target

    @property
    def rd(self) -> str:
        return self.plan.remote_run_dir

    @property
    def local_dir(self) -> Path:
        return run_path(self.opts.runs, self.plan.experiment, self.run_id)


def run_experiment(plan: Plan, opts: RunOptions, host_vars: dict[str, Any] | None = None) -> dict:
    """Run ``plan`` once; returns the manifest (``--check``: the planned changes only)."""
    opts.say(f"{plan.host.name}: connecting ({plan.host.describe()})")
    hs = open_host(
        plan.host, str(plan.version), log=opts.say, defer_sim=True, install=not opts.check
    )
    try:
        plan.host = plan.host.model_copy(update={"labkit_workdir": hs.workdir})
        run_id = new_run_id(plan.host.name)
        plan.run_id = run_id
        run = Run(plan, hs, opts, run_id)
        files = render_files(plan, host_vars or plan.host.model_dump())
        if opts.check:
            _prepare(run, files)
            return _report_check(run)
        return _execute(run, files)
    finally:
        hs.close()


def _prepare(run: Run, files: list[FileSpec]) -> None:
    """Facts, preflight and the settings plan: what the host is now, what would change."""
    plan, hs = run.plan, run.hs
    run.facts = hs.gather_facts(paths=sorted(set(devices(plan).values())))
    problems = preflight(plan, hs, run.facts)
    if problems:
        raise PreflightError(
            f"{plan.host.name}: preflight failed, nothing was changed:\n  - "
            + "\n  - ".join(problems)
        )
    run.changes = _plan_settings(run, run.facts, files)


def _plan_settings(run: Run, facts: dict[str, Any], files: list[FileSpec]) -> list[Change]:
    """The settings plan against ``facts``; also after a reboot into a power mode (whatever
    a boot resets is planned again from fresh facts)."""
    host = run.plan.host
    return plan_changes(
        run.hs.target,
        run.plan.settings,
        facts,
        sysroot=run.hs.sysroot,
        state_dir=run.hs.state_dir,
        files=files,
        allow_reboot=host.labkit_allow_reboot,
        reboot_timeout_s=host.labkit_reboot_timeout_s,
    )


def _replan(run: Run, change: Change, files: list[FileSpec]) -> list[Change]:
    """After a power mode change, every setting is planned again on fresh facts. After a
    reboot those are the run's ``facts`` (the host the recording finds; the earlier ones
    are kept as ``facts_before_reboot``); a live switch keeps the facts from before the
    run's changes, as every other setting does."""
    facts = run.hs.gather_facts(paths=sorted(set(devices(run.plan).values())))
    if change.reboot:
        run.facts_before.setdefault("facts_before_reboot", run.facts)
        run.facts = facts
        if facts.get("boot_id"):  # the lock is this boot's (written with its next update)
            run.owner["boot_id"] = facts["boot_id"]
    return _plan_settings(run, facts, files)


def show_changes(changes: list[Change], say, detail: bool, as_root: bool = False) -> None:
    """One line per setting (before -> after); with ``detail`` its commands and file diff."""
    for c in changes:
        say(f"  {c.describe()}")
        if not detail:
            continue
        for cmd in c.apply:
            say(f"      $ {cmd}{'   (as root)' if c.sudo and as_root else ''}")
        if c.diff:
            say("".join(f"      {line}" for line in c.diff.splitlines(keepends=True)).rstrip())


def _report_check(run: Run) -> dict:
    say = run.opts.say
    say(f"--check: {run.plan.experiment} on {run.plan.host.name}; nothing will be changed")
    show_changes(run.changes, say, detail=True, as_root=run.hs.needs_sudo)
    if not run.changes:
        say("  host settings: none requested")
    say(f"  monitor: {shell(run.plan.monitor_command())}")
    say(f"  record:  {shell(run.plan.record_command())}")
    return {"check": True, "changes": [c.record() for c in run.changes]}


def _base_manifest(run: Run) -> dict:
    p = run.plan
    return {
        "schema": 1,
        "run_id": run.run_id,
        "experiment": p.experiment,
        "status": "running",
        "host": {"name": p.host.name, "connection": p.host.describe()},
        "playbook": {
            "name": p.playbook.name,
            "file": str(p.playbook.file),
            "sha256": p.playbook.sha256,
        },
        "lerobot_version": str(p.version),
        **p.identity(),
        "overrides": p.overrides,
        "commands": {
            "record": shell(p.record_command()),
            "monitor": shell(p.monitor_command()),
            "record_argv": p.record_command(),
        },
        "remote_dir": run.rd,
        "store": store_id(run.opts.runs),  # which run store started it (invoke collect)
        "expected_duration_s": p.expected_duration_s,
        "watchdog_s": watchdog_s(p),
        "facts": run.facts,
        # the same, gathered again once the host is restored (null: could not be)
        "facts_after": None,
        "labkit": provenance(),
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **run.opts.manifest_extra,
    }


def _start(run: Run) -> None:
    p, t, rd = run.plan, run.t, run.rd  # rd exists: made with the lock
    spec = {
        "run_dir": rd,
        "record_argv": p.record_command(),
        "monitor_argv": p.monitor_command(),
        "timeout_s": watchdog_s(p),
        "grace_s": run.opts.grace_s,
        "store": run.manifest["store"],
        "boot_id_path": boot_id_path(run.hs.sysroot),
    }
    t.put(json.dumps(spec, indent=1).encode(), posixpath.join(rd, "spec.json"))
    t.put(
        json.dumps(
            {k: v for k, v in run.manifest.items() if k != "facts"}, indent=1, default=str
        ).encode(),
        posixpath.join(rd, "run.json"),
    )
    t.put(SUPERVISOR.read_bytes(), posixpath.join(rd, "supervise.py"))
    # `a && b &` would background a subshell holding the session's stdout open until the
    # run ends; only the supervisor itself goes to the background. The same round trip
    # then waits for it to report "running".
    start = (
        f"( cd {q(rd)} || exit 1; setsid nohup python3 supervise.py spec.json > supervisor.log "
        "2>&1 < /dev/null & ); "
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status, _, _ = _poll(t, rd, wait_s=5.0, until="running|done", before=start)
        start = ""
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


def _watch(run: Run) -> None:
    t, opts = run.t, run.opts
    start = time.monotonic()
    expected = run.plan.expected_duration_s
    limit = watchdog_s(run.plan) + opts.grace_s + 60
    tty = getattr(opts.out, "isatty", lambda: False)()
    last_line = 0.0
    while True:
        status, warnings, hz = _with_link(t, opts, _poll, t, run.rd, wait_s=opts.poll_s)
        if status.get("state") == "done":
            run.status = status
            if tty:
                opts.say("")
            return
        elapsed = time.monotonic() - start
        if opts.progress is not None:
            opts.progress(elapsed, expected, warnings, hz)
        opts.check_stop()
        line = (
            f"  {run.plan.experiment} {elapsed:5.0f}/{expected:.0f} s  "
            f"{warnings} slow-loop warnings" + (f", last {hz:g} Hz" if hz is not None else "")
        )
        if tty:
            print("\r" + line, end="", file=opts.out, flush=True)
        elif time.monotonic() - last_line >= 10:
            opts.say(line)
            last_line = time.monotonic()
        if elapsed > limit:
            raise RemoteError(
                f"{t.name}: the run supervisor did not finish within {limit:.0f} s; stopping it"
            )


def _stop(run: Run) -> None:
    """Ask the supervisor to stop the recording; fall back to signalling the pids."""
    t, st = run.t, run.status
    pid = st.get("supervisor_pid")
    if not pid:
        return
    t.run(f"kill -TERM {int(pid)} 2>/dev/null; true", check=False)
    deadline = time.monotonic() + run.opts.grace_s + 30
    while time.monotonic() < deadline:
        status, _, _ = _poll(t, run.rd)
        run.status = status or run.status
        if status.get("state") == "done":
            return
        if not t.run(f"kill -0 {int(pid)}", check=False).ok:
            break
        time.sleep(0.5)
    # supervisor gone or stuck: signal what it started, directly
    for key, sig in (("record_pid", "KILL"), ("tegrastats_pid", "TERM")):
        if run.status.get(key):
            t.run(f"kill -{sig} -- -{int(run.status[key])} 2>/dev/null; true", check=False)
    if t.run(f"kill -0 {int(pid)}", check=False).ok:
        t.run(f"kill -KILL {int(pid)}", check=False)


def outcome(
    st: dict, local_dir: Path, watchdog: float, interrupted: bool = False, error: str | None = None
) -> tuple[str, str | None]:
    """The run's status and, unless complete, why — from the supervisor's ``status.json``."""
    if interrupted:
        return "interrupted", error or "interrupted by the user"
    if error:
        return "failed", error
    if st.get("state") != "done":
        return "failed", "the recording did not finish"
    if st.get("stopped_by") == "watchdog":
        return "failed", f"watchdog: the recording ran past {watchdog:.0f} s and was stopped"
    code = st.get("record_exit")
    if code != 0:
        return "failed", f"lerobot-record exited {code}:\n{_tail(local_dir / 'record.log')}"
    teg = st.get("tegrastats_exit")
    if teg not in (0, -15, None):
        return "failed", f"tegrastats exited {teg}:\n{_tail(local_dir / 'tegrastats.out')}"
    return "complete", None


def _tail(path: Path, n: int = 15) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no output was pulled)"
    return "\n".join("    " + line for line in lines[-n:])


def _execute(run: Run, files: list[FileSpec]) -> dict:
    """Lock -> put back a dead run's leftovers -> facts -> plan -> apply -> run -> finish."""
    t, hs, opts = run.t, run.hs, run.opts
    owner = {
        "run_id": run.run_id,
        "experiment": run.plan.experiment,
        "pid": os.getpid(),
        "run_dir": run.rd,
    }
    # one round trip: the lock, the run's directories, and any journal a dead run left
    boot = boot_id_path(hs.sysroot)
    take = {
        "dirs": (hs.state_dir, run.rd),
        "then": f"cat {q(journal_path(hs.workdir))} 2>/dev/null; true",
        "boot_id_path": boot,
    }
    try:
        run.owner, left = lock.acquire(t, hs.workdir, owner, **take)
    except LockedError:
        info = lock.inspect(t, hs.workdir, boot_id_path=boot)
        if info is None or not info.stale:
            raise
        opts.say(f"{t.name}: clearing a finished run's lock ({info.describe()})")
        run.owner, left = lock.acquire(t, hs.workdir, owner, stale=info, **take)
    try:
        with signals_interrupt():
            # the host as it is once a dead run's leftovers are back: only then its facts
            with shielded(opts):
                restore_leftovers(t, hs, opts, left, by=run.run_id)
            _prepare(run, files)
    except BaseException:
        # nothing was changed: give the lock back and leave no empty run dir behind
        with shielded(opts), contextlib.suppress(ConnectError):
            lock.release(t, hs.workdir, empty_dirs=[run.rd], run_id=run.run_id)
        raise
    run.manifest = _base_manifest(run)
    opts.say(f"{t.name}: run {run.run_id} -> {run.local_dir}")
    write_manifest(run.local_dir, run.manifest)
    interrupted, error, lost, started = False, None, False, False
    try:
        with signals_interrupt():
            if any(c.changed for c in run.changes):
                hs.enable_sudo()
                run.journal = journal_body(run.run_id, run.changes)
            opts.check_stop()
            try:
                apply_changes(
                    t,
                    hs.workdir,
                    run.run_id,
                    run.changes,
                    make_dir=False,
                    replan=lambda c: _replan(run, c, files),
                    log=opts.say,
                )
            finally:  # a reboot into a power mode re-plans the rest: journal what is now
                if run.journal is not None:
                    run.journal = journal_body(run.run_id, run.changes)
            show_changes(run.changes, opts.say, detail=False)
            if run.journal is not None:  # what changed, on record should this process die
                run.manifest["facts"] = run.facts  # the host as the recording finds it
                run.manifest.update(run.facts_before)
                run.manifest["settings_changes"] = [c.record() for c in run.changes]
                write_manifest(run.local_dir, run.manifest)
            opts.check_stop()
            started = True  # from here on the supervisor may be running: stop it in finish
            _start(run)
            _prewarm("labkit.analysis.summary")  # pandas loads while the target records
            if opts.detach:
                run.manifest.update(
                    status="detached", detached_at=time.strftime("%Y-%m-%dT%H:%M:%S%z")
                )
                run.manifest["settings_changes"] = [c.record() for c in run.changes]
                write_manifest(run.local_dir, run.manifest)
                opts.say(
                    f"{t.name}: detached; the run goes on on the target. "
                    f"`invoke collect --target {t.name}` brings it back and restores the host"
                )
                return run.manifest
            _watch(run)
    except KeyboardInterrupt:
        interrupted = True
        stopped = opts.stop is not None and opts.stop.is_set()
        why = "the batch is stopping" if stopped else "interrupted"
        if stopped:
            error = getattr(opts.stop, "reason", "") or "the batch was stopped"
        opts.say(f"\nlabkit: {why}; stopping the run on {t.name}")
    except ConnectError as exc:
        lost, error = True, str(exc)
    except LabkitError as exc:
        error = str(exc)
    except Exception as exc:  # a bug must not leave the target changed: clean up, then tell
        error = f"labkit internal error: {exc!r}"
        run.manifest["traceback"] = traceback.format_exc()
    with shielded(opts):
        if not lost:
            try:
                _finish(run, started)
            except ConnectError as exc:
                lost, error = True, f"{error + '; ' if error else ''}{exc}"
            except LabkitError as exc:
                error = f"{error + '; ' if error else ''}{exc}"
        if lost:
            run.manifest.update(
                status="lost-connection",
                error=error,
                ended_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                settings_changes=[c.record() for c in run.changes],
            )
            write_manifest(run.local_dir, run.manifest)
            if started:
                opts.say(
                    f"{t.name}: connection lost; the recording goes on on the target. "
                    f"Later: `invoke collect --target {t.name}` (logs) and "
                    f"`invoke restore --target {t.name}` (settings)"
                )
            else:
                opts.say(
                    f"{t.name}: connection lost before the recording started ({error}); "
                    f"once it answers, `invoke restore --target {t.name}` puts its settings back"
                )
            return run.manifest
    status, reason = outcome(run.status, run.local_dir, watchdog_s(run.plan), interrupted, error)
    summary = run.manifest.get("summary", {})
    run.manifest.update(status=status, error=reason)
    write_manifest(run.local_dir, run.manifest)
    from labkit.analysis.summary import one_line

    opts.say(f"{run.plan.experiment} {run.run_id}: {status} — {one_line(summary)}")
    if reason and status != "complete":
        opts.say(f"  {reason}")
    return run.manifest


def _prewarm(module: str) -> None:
    """Import a heavy module in the background; a later import waits for it if needed."""
    import importlib

    threading.Thread(target=importlib.import_module, args=(module,), daemon=True).start()


def _finish(run: Run, started: bool) -> None:
    """Stop, restore, pull, unlock — each step tried even if an earlier one failed."""
    t, hs, opts = run.t, run.hs, run.opts
    errors = []
    if started and not run.status:
        run.status, _, _ = _with_link(t, opts, _poll, t, run.rd)
    if started and run.status.get("state") != "done":
        _with_link(t, opts, _stop, run)
    try:
        if run.journal is not None:  # nothing changed: nothing to put back
            restored = _with_link(
                t, opts, restore_journal, t, hs.workdir, log=opts.say, journal=run.journal
            )
            keys = {e["key"] for e in restored}
            for c in run.changes:
                c.restored = c.key in keys
    except ConnectError:
        raise
    except RemoteError as exc:
        errors.append(str(exc))
    run.manifest["settings_changes"] = [c.record() for c in run.changes]
    leftover: list[str] = []
    if started:
        try:
            leftover = leftovers(run.rd, hs.state_dir)
            files = _with_link(
                t, opts, pull_run, t, run.rd, run.local_dir, hs.state_dir, cleanup=False
            )
            run.manifest["files"] = files
            from labkit.analysis.summary import summarize_run

            run.manifest["summary"] = summarize_run(run.local_dir)
        except ConnectError:
            raise
        except (RemoteError, OSError, ValueError) as exc:
            errors.append(f"pulling the logs failed: {exc}")
    run.manifest["remote_status"] = run.status
    run.manifest["ended_at"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    # the host once more, after the restore (still locked), in the unlock round trip
    probe, parse = hs.facts_probe(paths=sorted(set(devices(run.plan).values())))
    out = lock.release(
        t,
        hs.workdir,
        also_remove=leftover,
        first=probe,
        what="facts after the restore + unlock",
        run_id=run.run_id,
    )
    run.manifest["facts_after"] = parse(out)
    if errors:
        raise RemoteError("; ".join(errors))


def restore_leftovers(
    t: Target, hs: HostSession, opts: RunOptions, text: str | None = None, by: str = ""
) -> None:
    """Put back what a dead run's journal lists (``text``: the journal as already read);
    ``by``: the run doing it, noted in the dead run's record when it is in this store."""
    from labkit.remote.settings import parse_journal, read_journal

    journal = read_journal(t, hs.workdir) if text is None else parse_journal(t, hs.workdir, text)
    if journal:
        dead = journal.get("run_id")
        opts.say(f"{t.name}: putting back settings left changed by run {dead}")
        hs.enable_sudo()
        done = restore_journal(t, hs.workdir, log=opts.say, journal=journal)
        if dead:
            mark_restored(opts.runs, dead, [e["key"] for e in done], by or "invoke restore")
