"""Host tasks around the run: show facts, keep settings, put settings back, collect runs.

``collect`` and ``restore`` finish what a run could not: after ``--detach``, a lost
connection or a workstation crash, the recording goes on on the target (its supervisor
is detached from the SSH session) and the target keeps a journal of the settings it
changed. Everything here is safe to repeat: a run already collected is skipped, a
journal already restored is gone.
"""

from __future__ import annotations

import json
import posixpath
import shlex
import time
from typing import Any

from labkit.config.hostvars import HostConfig
from labkit.config.plan import Plan
from labkit.engine import record as records
from labkit.engine.changes import render_files, show_changes
from labkit.engine.options import RunOptions
from labkit.engine.restore import put_back
from labkit.errors import LockedError, RemoteError
from labkit.measure import one_line
from labkit.records.model import RecordError, RunRecord, current
from labkit.records.store import FINAL, load_manifest, run_path, started_here, write_manifest
from labkit.remote import lock
from labkit.remote.connect import HostSession, open_host
from labkit.remote.reboot import boot_id_path
from labkit.remote.settings import (
    apply_changes,
    journal_body,
    parse_journal,
    plan_changes,
    read_journal,
)
from labkit.remote.transfer import pull_run

q = shlex.quote


def host_facts(host: HostConfig, opts: RunOptions) -> dict[str, Any]:
    """The host's facts and every registered plug-in's, gathered in one round trip (a run
    records the host's and its own plug-ins')."""
    hs = open_host(host, log=opts.say)
    try:
        return hs.gather_facts()
    finally:
        hs.close()


def setup_path(workdir: str) -> str:
    """What ``setup-host`` changed, with the values before it: ``restore --setup`` reads it."""
    return posixpath.join(workdir, "state", "setup-host.json")


def _busy(name: str, info: lock.LockInfo) -> LockedError:
    if info.stale:
        hint = f"it is over: `invoke restore --target {name}` puts its settings back first"
    else:
        hint = (
            "it is still recording: wait for it to end "
            f"(`invoke collect --target {name}` brings it back)"
        )
    return LockedError(
        f"{name} is busy ({info.describe()}): its settings are not changed while a run may "
        f"put them back; {hint}"
    )


def setup_host(plan: Plan, opts: RunOptions, host_vars: dict[str, Any]) -> list[dict]:
    """Apply an experiment's host settings and files and *keep* them (no run journal).

    A busy host is refused before anything is shown. What changed, and the values before
    the first ``setup-host``, are kept in ``state/setup-host.json`` for ``restore --setup``.
    """
    hs = open_host(plan.host, plan.tool_versions(), log=opts.say, install=not opts.check)
    try:
        t = hs.target
        info = lock.inspect(t, hs.workdir, boot_id_path=boot_id_path(hs.sysroot))
        if info is not None and not opts.check:
            raise _busy(t.name, info)
        facts = hs.gather_facts()
        plan.host = plan.host.model_copy(update={"labkit_workdir": hs.workdir})
        if not opts.check:  # the experiment's probes get what they need (py-spy) now
            for probe in plan.probes():
                probe.prepare(hs.target, facts, hs.workdir, opts.say)
        files = render_files(plan, host_vars)

        def planned(facts: dict) -> list:
            return plan_changes(
                t,
                plan.settings,
                facts,
                sysroot=hs.sysroot,
                state_dir=hs.state_dir,
                files=files,
                allow_reboot=plan.host.labkit_allow_reboot,
                reboot_timeout_s=plan.host.labkit_reboot_timeout_s,
            )

        changes = planned(facts)
        verb = "would change" if opts.check else "changing"
        opts.say(f"{t.name}: settings of {plan.experiment} ({verb} what differs)")
        if not changes:
            opts.say("  no host settings or files in this experiment")
        show_changes(changes, opts.say, detail=opts.check, as_root=hs.needs_sudo)
        if info is not None:
            opts.say(f"  note: {_busy(t.name, info)}")
        if opts.check or not any(c.changed for c in changes):
            return [c.record() for c in changes]
        hs.enable_sudo()
        _record_setup(hs, changes)
        apply_changes(
            t,
            hs.workdir,
            "setup-host",
            changes,
            journal=False,
            replan=lambda c: planned(hs.gather_facts()),
            log=opts.say,
        )
        opts.say(
            f"{t.name}: settings kept (runs leave them; `invoke restore --setup --target "
            f"{t.name}` puts back what they were before)"
        )
        return [c.record() for c in changes]
    finally:
        hs.close()


def _record_setup(hs: HostSession, changes: list) -> None:
    """Add these changes to ``setup-host.json``, written before anything changes; a key
    already there keeps its first ``before`` (the value from before any setup-host)."""
    t = hs.target
    res = t.run(f"cat {q(setup_path(hs.workdir))}", check=False)
    old = parse_journal(t, hs.workdir, res.stdout) if res.ok else None
    body = journal_body("setup-host", changes)
    if old:
        keys = {c["key"] for c in old["changes"]}
        body["changes"] = old["changes"] + [c for c in body["changes"] if c["key"] not in keys]
    t.run(f"mkdir -p {q(hs.state_dir)}")
    t.put(json.dumps(body, indent=1).encode(), setup_path(hs.workdir))


def restore(host: HostConfig, opts: RunOptions, setup: bool = False) -> list[dict]:
    """Put back what a dead run left changed and clear its lock; refuse while it records.

    ``setup``: then also undo every ``setup-host`` (the values from before the first one).
    """
    hs = open_host(host, log=opts.say)
    try:
        done = _restore(hs, opts)
        if setup:
            done += _undo_setup(hs, opts)
        return done
    finally:
        hs.close()


def _undo_setup(hs: HostSession, opts: RunOptions) -> list[dict]:
    t = hs.target
    res = t.run(f"cat {q(setup_path(hs.workdir))}", check=False)
    body = parse_journal(t, hs.workdir, res.stdout) if res.ok else None
    if not body:
        opts.say(f"{t.name}: no setup-host settings to put back")
        return []
    opts.say(f"{t.name}: putting back what setup-host changed")
    hs.enable_sudo()
    # the run journal is gone by now (restored above), so its removal by the restore
    # is a no-op; the setup record goes once every entry came back
    done = put_back(t, hs, opts, journal=body)
    t.run(f"rm -f {q(setup_path(hs.workdir))}")
    return done


def _restore(hs: HostSession, opts: RunOptions, by: str = "invoke restore") -> list[dict]:
    t = hs.target
    info = lock.inspect(t, hs.workdir, boot_id_path=boot_id_path(hs.sysroot))
    if info is not None and not info.stale:
        raise LockedError(
            f"{t.name}: {info.describe()} is still running; its settings are restored when it "
            f"ends (wait, or `invoke collect --target {t.name}` once it is done)"
        )
    done = put_back(t, hs, opts, by=by)
    if not done and not read_journal(t, hs.workdir):
        opts.say(f"{t.name}: no settings left changed")
    if info is not None:
        lock.release(t, hs.workdir, run_id=info.owner.get("run_id"))  # still that one
        opts.say(f"{t.name}: cleared the lock of {info.describe()}")
    return done


# -- collect ---------------------------------------------------------------------------


def _remote_runs(hs: HostSession) -> list[tuple[str, dict, dict]]:
    """Every run directory on the target: (path, status.json, run.json)."""
    root = posixpath.join(hs.workdir, "runs")
    res = hs.target.run(
        f'for d in {q(root)}/*/*/; do [ -f "$d/run.json" ] || continue; '
        'echo "@@run $d"; cat "$d/status.json" 2>/dev/null; echo; echo @@meta; '
        'cat "$d/run.json"; echo; done',
        timeout=60,
        check=False,
    )
    out = []
    for chunk in res.stdout.split("@@run ")[1:]:
        head, _, rest = chunk.partition("\n")
        status_text, _, meta_text = rest.partition("@@meta")
        try:
            status = json.loads(status_text) if status_text.strip() else {}
        except json.JSONDecodeError:
            status = {}
        try:
            meta = json.loads(meta_text)
        except json.JSONDecodeError:
            meta = {}
        out.append((head.strip().rstrip("/"), status, meta))
    return out


def collect(host: HostConfig, opts: RunOptions) -> list[RunRecord]:
    """Pull every finished run not yet in the local store; restore the host when it is idle."""
    hs = open_host(host, log=opts.say)
    t = hs.target
    collected: list[RunRecord] = []
    try:
        running = others = 0
        for rd, status, meta in _remote_runs(hs):
            experiment, run_id = rd.split("/")[-2:]
            local = run_path(opts.runs, experiment, run_id)
            manifest = load_manifest(local)
            if manifest is not None and manifest.status in FINAL:
                continue
            if not started_here(meta, manifest, opts.runs):
                others += 1  # another checkout's run store started it: its collect takes it
                continue
            if status.get("state") != "done":
                pid = status.get("supervisor_pid")
                alive = bool(pid) and t.run(f"kill -0 {int(pid)}", check=False).ok
                if alive:
                    running += 1
                    opts.say(f"{t.name}: {experiment} {run_id} is still recording")
                    continue
            # the record as the run started it (its run.json there), with what this
            # store noted since; ``finish`` gives it its status
            kept = {**meta, **(manifest.as_dict() if manifest else {})}
            try:
                manifest = current({"status": "running", **kept}, local)
            except RecordError as exc:
                opts.say(f"{t.name}: {experiment} {run_id}: its record cannot be read: {exc}")
                continue
            try:
                files = pull_run(t, rd, local, hs.state_dir)
            except (RemoteError, OSError, ValueError) as exc:
                opts.say(f"{t.name}: {experiment} {run_id}: pulling failed: {exc}")
                continue
            manifest.collected_at = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            st, reason = records.finish(manifest, local, status, files, collected=True)
            write_manifest(local, manifest)
            collected.append(manifest)
            opts.say(f"{experiment} {run_id}: {st} — {one_line(manifest)} -> {local}")
            if reason:
                opts.say(f"  {reason}")
            if opts.store is not None:  # its metrics; a shared store: uploaded now
                opts.store.publish(local, opts.say)
        if not collected and not running:
            opts.say(f"{t.name}: nothing to collect")
        if others:
            opts.say(f"{t.name}: {others} run(s) there belong to another run store; left alone")
        info = lock.inspect(t, hs.workdir, boot_id_path=boot_id_path(hs.sysroot))
        if info is not None and info.stale:
            _restore(hs, opts, by="invoke collect")  # notes it in the run's record
        return collected
    finally:
        hs.close()
