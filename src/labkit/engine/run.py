"""One experiment run on one host, start to finish, always leaving the host as it was.

States: connect -> lock (and put back a dead run's leftovers) -> facts -> preflight ->
settings (journaled) -> start the supervisor (detached: probes + workload) -> watch ->
*finally*: stop the workload, restore the settings, pull the logs, release the lock,
finish the record. The finally-part runs on success, failure, watchdog timeout, Ctrl-C
and SIGTERM; while it runs, a second Ctrl-C is refused so the target cannot be left
half-restored. If the connection is lost and does not come back, the workload goes on on
the target and ``invoke collect`` / ``invoke restore`` finish the job later. Progress and
messages leave as events (``labkit.engine.events``); nothing here prints.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import shlex
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.config.hostvars import HostConfig
from labkit.config.plan import Plan
from labkit.core.argv import shell
from labkit.engine import record as records
from labkit.engine import supervisor
from labkit.engine.changes import render_files, show_changes
from labkit.engine.events import Finished, Message, Progress
from labkit.engine.options import RunOptions
from labkit.engine.preflight import devices, preflight
from labkit.engine.prewarm import can_idle, prewarm
from labkit.engine.restore import put_back
from labkit.engine.signals import shielded, signals_interrupt
from labkit.engine.supervisor import Watch, with_link
from labkit.errors import ConnectError, LabkitError, LockedError, PreflightError, RemoteError
from labkit.measure import one_line
from labkit.records.model import RunRecord
from labkit.records.store import new_run_id, run_path, write_manifest
from labkit.remote import lock
from labkit.remote.connect import HostSession, open_host, ssh_params
from labkit.remote.early import Early
from labkit.remote.facts import (
    Fact,
    detached,
    parse_top_processes,
    read_detached,
    top_detached,
    top_mark,
    top_read,
    top_since,
)
from labkit.remote.reboot import boot_id_path
from labkit.remote.settings import (
    Change,
    FileSpec,
    apply_changes,
    journal_body,
    journal_path,
    plan_changes,
)
from labkit.remote.target import Target
from labkit.remote.transfer import leftovers, pull_run

q = shlex.quote


def watchdog_s(plan: Plan) -> float:
    """How long a run may take on the target before it is stopped: 1.5x expected + 60 s."""
    return plan.expected_duration_s * 1.5 + 60


@dataclass
class Run:
    plan: Plan
    hs: HostSession
    opts: RunOptions
    run_id: str
    facts: dict[str, Any] = field(default_factory=dict)
    changes: list[Change] = field(default_factory=list)
    status: dict[str, Any] = field(default_factory=dict)
    manifest: RunRecord = field(init=False)  # the run's record, from its start on
    owner: dict[str, Any] = field(default_factory=dict)  # the lock record as taken
    journal: dict[str, Any] | None = None  # what this run changed, as journaled
    # the facts from before a reboot into a power mode (the run's ``facts`` are after it)
    facts_before: dict[str, Any] | None = None
    skipped: dict[str, str] = field(default_factory=dict)  # optional probes that cannot run
    watch: Watch = field(default_factory=Watch)
    # the summary of the pulled logs, under way while the last round trip runs
    summary: Callable[[], dict[str, Any]] | None = None

    @property
    def t(self) -> Target:
        return self.hs.target

    @property
    def rd(self) -> str:
        return self.plan.remote_run_dir

    @property
    def local_dir(self) -> Path:
        return run_path(self.opts.runs, self.plan.experiment, self.run_id)

    @property
    def watchdog(self) -> float:
        return watchdog_s(self.plan)


def shares_cpu(host: HostConfig, target: Target) -> bool:
    """Whether the workload runs on the controller's CPU (its CPU readings then see
    labkit's own work): ``labkit_shares_cpu`` when set; else a host reached without SSH
    (``ansible_connection: local``: labkit runs on it), or a simulated host whose sshd is
    this machine's. A real board at a loopback address is a tunnel's far end: elsewhere."""
    if host.labkit_shares_cpu is not None:
        return host.labkit_shares_cpu
    local = host.connection == "local" or host.labkit_simulate
    return local and target.on_this_machine()


def run_experiment(
    plan: Plan,
    opts: RunOptions,
    host_vars: dict[str, Any] | None = None,
    early: Early | None = None,
) -> RunRecord | dict[str, Any]:
    """Run ``plan`` once; returns the record (``--check``: a dict of the planned changes
    only). ``early``: the connection the CLI opened while it planned (it said so)."""
    if early is None or not early.matches(plan.host.name, ssh_params(plan.host)):
        opts.say(f"{plan.host.name}: connecting ({plan.host.describe()})")
    hs = open_host(
        plan.host,
        plan.tool_versions(),
        log=opts.say,
        defer_sim=True,
        install=not opts.check,
        early=early,
    )
    try:
        plan.host = plan.host.model_copy(update={"labkit_workdir": hs.workdir})
        plan.host_vars = host_vars or plan.host.model_dump()
        run_id = new_run_id(plan.host.name)
        plan.run_id = run_id
        run = Run(plan, hs, opts, run_id)
        files = render_files(plan, plan.host_vars)
        if opts.check:
            _prepare(run, files)
            return _report_check(run)
        return _execute(run, files)
    finally:
        hs.close()


def _prepare(run: Run, files: list[FileSpec]) -> None:
    """Facts, preflight and the settings plan: what the host is now, what would change."""
    plan, hs = run.plan, run.hs
    # a run's own facts sample top_processes in the background (``top_before``), over the
    # preflight, settings and start that follow; --check and --detach sample right here
    sampled = None if run.opts.check or run.opts.detach else top_detached(top_before(run))
    run.facts = hs.gather_facts(
        paths=sorted(set(devices(plan).values())), top=sampled, plugins=plan.plugin_facts()
    )
    if not run.opts.check:  # --check touches nothing: no tool installed for a probe
        for probe in plan.probes():
            probe.prepare(hs.target, run.facts, hs.workdir, run.opts.say)
    found = preflight(plan, run.facts)
    if found.problems:
        raise PreflightError(
            f"{plan.host.name}: preflight failed, nothing was changed:\n  - "
            + "\n  - ".join(found.problems)
        )
    run.skipped = found.skipped
    for name, why in found.skipped.items():
        run.opts.say(f"{plan.host.name}: probe {name} skipped: {why}")
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
    facts = run.hs.gather_facts(
        paths=sorted(set(devices(run.plan).values())), plugins=run.plan.plugin_facts()
    )
    if change.reboot:
        if run.facts_before is None:
            run.facts_before = run.facts
        run.facts = facts
        if facts.get("boot_id"):  # the lock is this boot's (written with its next update)
            run.owner["boot_id"] = facts["boot_id"]
    return _plan_settings(run, facts, files)


def _report_check(run: Run) -> dict:
    say, plan = run.opts.say, run.plan
    say(f"--check: {plan.experiment} on {plan.host.name}; nothing will be changed")
    show_changes(run.changes, say, detail=True, as_root=run.hs.needs_sudo)
    if not run.changes:
        say("  host settings: none requested")
    for p in plan.probe_launches():
        if p.name in run.skipped:
            say(f"  probe {p.name}: skipped ({run.skipped[p.name]})")
        else:
            say(f"  probe {p.name}: {shell(p.shown(plan.remote_run_dir))}")
    say(f"  {plan.workload.check_label} {shell(plan.workload_command())}")
    return {"check": True, "changes": [c.record() for c in run.changes]}


def _take_lock(run: Run) -> str | None:
    """The host's lock (a finished run's stale one is cleared), the run's directories, and
    any journal a dead run left, in one round trip; returns that journal's text."""
    t, hs, opts = run.t, run.hs, run.opts
    owner = {
        "run_id": run.run_id,
        "experiment": run.plan.experiment,
        "pid": os.getpid(),
        "run_dir": run.rd,
    }
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
    return left


def _apply(run: Run, files: list[FileSpec]) -> None:
    """Journal, then change what differs (a reboot into a power mode re-plans the rest)."""
    t, hs, opts = run.t, run.hs, run.opts
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
        run.manifest.facts = run.facts  # the host as the workload finds it
        if run.facts_before is not None:
            run.manifest.facts_before_reboot = run.facts_before
        run.manifest.settings_changes = [c.record() for c in run.changes]
        write_manifest(run.local_dir, run.manifest)


def _execute(run: Run, files: list[FileSpec]) -> RunRecord:
    """Lock -> put back a dead run's leftovers -> facts -> plan -> apply -> run -> finish."""
    t, hs, opts = run.t, run.hs, run.opts
    left = _take_lock(run)
    try:
        with signals_interrupt():
            # the host as it is once a dead run's leftovers are back: only then its facts
            with shielded(opts):
                put_back(t, hs, opts, text=left, by=run.run_id)
            _prepare(run, files)
    except BaseException:
        # nothing was changed: give the lock back and leave no empty run dir behind
        with shielded(opts), contextlib.suppress(ConnectError):
            lock.release(t, hs.workdir, empty_dirs=[run.rd], run_id=run.run_id)
        raise
    run.manifest = records.start(run)
    opts.say(f"{t.name}: run {run.run_id} -> {run.local_dir}")
    write_manifest(run.local_dir, run.manifest)
    opts.log_to(run.local_dir / "labkit.log")  # if the terminal goes, the lines go there
    interrupted, error, lost, started = False, None, False, False
    try:
        with signals_interrupt():
            _apply(run, files)
            opts.check_stop()
            started = True  # from here on the supervisor may be running: stop it in finish
            supervisor.start(run)
            if opts.detach:
                run.manifest.status, run.manifest.detached_at = "detached", records.now()
                run.manifest.settings_changes = [c.record() for c in run.changes]
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
        run.manifest.traceback = traceback.format_exc()
    files_pulled: dict[str, int] | None = None
    with shielded(opts):
        if not lost:
            try:
                files_pulled = _finish(run, started)
            except ConnectError as exc:
                lost, error = True, f"{error + '; ' if error else ''}{exc}"
            except LabkitError as exc:
                files_pulled = getattr(exc, "files", None)
                error = f"{error + '; ' if error else ''}{exc}"
        if lost:
            run.manifest.status, run.manifest.error = "lost-connection", error
            run.manifest.ended_at = records.now()
            run.manifest.settings_changes = [c.record() for c in run.changes]
            write_manifest(run.local_dir, run.manifest)
            what = run.plan.workload.noun
            if started:
                opts.say(
                    f"{t.name}: connection lost; {what} goes on on the target. "
                    f"Later: `invoke collect --target {t.name}` (logs) and "
                    f"`invoke restore --target {t.name}` (settings)"
                )
            else:
                opts.say(
                    f"{t.name}: connection lost before {what} started ({error}); "
                    f"once it answers, `invoke restore --target {t.name}` puts its settings back"
                )
            return run.manifest
    status, reason = records.finish(
        run.manifest,
        run.local_dir,
        run.status,
        files_pulled,
        interrupted,
        error,
        summary=run.summary,
    )
    write_manifest(run.local_dir, run.manifest)
    summary = one_line(run.manifest)
    opts.emit(Message(f"{run.plan.experiment} {run.run_id}: {status} — {summary}", outcome=True))
    if reason and status != "complete":
        opts.say(f"  {reason}")
    if opts.store is not None:  # its metrics; a shared store: uploaded, record last, or pending
        opts.store.publish(run.local_dir, opts.say)
    opts.emit(Finished(run.manifest))
    return run.manifest


def _watch(run: Run) -> None:
    """Poll the supervisor until the workload is done, emitting progress."""
    t, opts, plan = run.t, run.opts, run.plan
    start = time.monotonic()
    expected = plan.expected_duration_s
    limit = run.watchdog + opts.grace_s + 60
    w = plan.workload
    # the summary's modules load while the workload runs, unless its CPU readings see this
    # machine's (``engine.prewarm``)
    early = can_idle() and not shares_cpu(plan.host, t)
    mark = top_mark(top_after(run))
    while True:
        # the CPU sample of the facts after the restore: its first reading at the start
        # of each poll that may see the workload end (from two poll intervals before its
        # expected end), or as a poll sees it end sooner; its second with those facts. It
        # spans the workload's last moments, the stop, restore and packing, so it seldom
        # waits out TOP_MIN_SPAN_S after them
        near = time.monotonic() - start >= expected - 2 * opts.poll_s
        status = with_link(
            t,
            opts,
            supervisor.poll,
            t,
            run.rd,
            wait_s=opts.poll_s,
            before=mark if near else "",
            workload=w,
            watch=run.watch,
            on_done="" if near else mark,
        )
        if status.get("state") == "done":
            run.status = status
            return
        if early:  # under way
            prewarm(idle=True)
        elapsed = time.monotonic() - start
        label = getattr(w, "progress_label", "events")
        opts.emit(
            Progress(
                plan.experiment,
                elapsed,
                expected,
                run.watch.count,
                run.watch.last,
                label,
                w.progress_unit,
            )
        )
        opts.check_stop()
        if elapsed > limit:
            raise RemoteError(
                f"{t.name}: the run supervisor did not finish within {limit:.0f} s; stopping it"
            )


def top_before(run: Run) -> str:
    """Where the background CPU sample from the run's facts is kept on the target (a dot
    file of the run dir: never pulled with the logs)."""
    return posixpath.join(run.rd, ".top-before")


def top_after(run: Run) -> str:
    return posixpath.join(run.rd, ".top-after")


def facts_after(run: Run) -> str:
    """Where the facts after the restore are gathered to (a dot file: never pulled)."""
    return posixpath.join(run.rd, ".facts-after")


class FinishError(RemoteError):
    """Some step of the finish failed (the others were still tried); ``files``: what was
    pulled, if anything."""

    def __init__(self, message: str, files: dict[str, int] | None) -> None:
        super().__init__(message)
        self.files = files


def _finish(run: Run, started: bool) -> dict[str, int] | None:
    """Stop, restore, pull, unlock — each step tried even if an earlier one failed;
    returns the pulled files (None: nothing was started, or pulling failed)."""
    t, hs, opts = run.t, run.hs, run.opts
    errors = []
    if started:  # unless they loaded while the workload ran (``_watch``)
        prewarm()
    if started and not run.status:
        run.status = with_link(t, opts, supervisor.poll, t, run.rd)
    if started and run.status.get("state") != "done":
        with_link(t, opts, supervisor.stop, run)
    try:
        if run.journal is not None:  # nothing changed: nothing to put back
            restored = with_link(t, opts, put_back, t, hs, opts, journal=run.journal)
            keys = {e["key"] for e in restored}
            for c in run.changes:
                c.restored = c.key in keys
    except ConnectError:
        raise
    except RemoteError as exc:
        errors.append(str(exc))
    run.manifest.settings_changes = [c.record() for c in run.changes]
    leftover: list[str] = []
    files = None
    # the host once more, after the restore (still locked): gathered in the background
    # from the pull's round trip (over the packing, the transfer and the summary), read in
    # the unlock's; with the CPU sampled from the workload's end, and the one sampled
    # from the facts before it
    after_file = facts_after(run)
    before = Fact("top_processes_before", lambda r, w: top_read(top_before(run), False),
                  parse_top_processes)  # fmt: skip
    probe, parse = hs.facts_probe(
        paths=sorted(set(devices(run.plan).values())),
        top=top_since(top_after(run), launched=after_file + ".own"),
        extra=[before],
        plugins=run.plan.plugin_facts(),
    )
    gathered = probe  # gathered in the unlock's round trip unless the pull started it
    if started:
        try:
            leftover = leftovers(run.rd, hs.state_dir)
            files = with_link(t, opts, pull_run, t, run.rd, run.local_dir, hs.state_dir,
                              cleanup=False, before=detached(probe, after_file))  # fmt: skip
            gathered = read_detached(after_file, probe, wait_s=60)
        except ConnectError:
            raise
        except (RemoteError, OSError, ValueError) as exc:
            errors.append(f"pulling the logs failed: {exc}")
            gathered = read_detached(after_file, probe, wait_s=60)
    if files is not None:  # parsed here while the target gathers its facts and unlocks
        prepare = opts.store.prepare if opts.store is not None else None  # its metrics
        run.summary = records.summarize_soon(run.manifest, run.local_dir, run.status, prepare)
    out = lock.release(
        t,
        hs.workdir,
        also_remove=leftover,
        first=gathered,
        what="facts after the restore + unlock",
        run_id=run.run_id,
    )
    after = parse(out)
    if after is not None:
        sampled = after.pop("top_processes_before", None)
        if run.manifest.facts is None:
            run.manifest.facts = {}
        facts = run.manifest.facts
        if facts.get("top_processes") is None:  # sampled here unless a reboot re-gathered
            facts["top_processes"] = sampled
    run.manifest.facts_after = after
    if errors:
        raise FinishError("; ".join(errors), files)
    return files
