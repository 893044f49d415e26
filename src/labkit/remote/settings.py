"""Host settings as operations: read the state, change only what differs, know how to undo.

Each ``Change`` carries the commands that apply it and the commands that put the
previous value back. ``apply`` writes the undo commands to a journal on the target
*before* running the change, so a run that dies at any point can be restored later by
``invoke restore`` (or the next run) from the target's own record.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import posixpath
import shlex
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from labkit.errors import PreflightError, RemoteError
from labkit.remote.target import Target

q = shlex.quote


@dataclass
class Change:
    """One setting: its value before and after, and how to apply and undo it."""

    key: str
    before: Any
    after: Any
    apply: list[str] = field(default_factory=list)
    undo: list[str] = field(default_factory=list)
    sudo: bool = True
    diff: str = ""
    upload: dict[str, str] = field(default_factory=dict)  # remote path -> content
    applied: bool = False
    restored: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.apply)

    def describe(self) -> str:
        if not self.changed:
            return f"{self.key}: {_show(self.before)} (unchanged)"
        return f"{self.key}: {_show(self.before)} -> {_show(self.after)}"

    def record(self) -> dict:
        d = asdict(self)
        d.pop("upload")
        return d


@dataclass
class FileSpec:
    """A config file to deploy: rendered content, destination, mode, and a command to run
    (as root) once it is placed and again once it is put back (e.g. a udev reload)."""

    dest: str
    content: str
    mode: str = "0644"
    after_change: str = ""


def _show(v: Any) -> str:
    if isinstance(v, dict):
        vals = sorted(set(map(str, v.values())))
        return vals[0] if len(vals) == 1 else json.dumps(v, sort_keys=True)
    return "absent" if v is None else str(v)


def cpu_path(root: str, cpu: str, leaf: str) -> str:
    return f"{root}/sys/devices/system/cpu/cpu{cpu}/cpufreq/{leaf}"


def sysctl_path(root: str, key: str) -> str:
    return f"{root}/proc/sys/{key.replace('.', '/')}"


def _write(value: str, paths: list[str]) -> str:
    return f"printf '%s\\n' {q(value)} | tee {' '.join(q(p) for p in paths)} > /dev/null"


def plan_changes(
    target: Target,
    settings: dict[str, Any],
    facts: dict[str, Any],
    *,
    sysroot: str,
    state_dir: str,
    files: list[FileSpec] = (),
) -> list[Change]:
    """Diff the desired settings against the host; raises ``PreflightError`` if impossible."""
    changes: list[Change] = []
    mode = settings.get("settings.nvpmodel")
    if mode is not None:
        nv = facts.get("nvpmodel")
        if nv is None:
            raise PreflightError(f"{target.name}: settings.nvpmodel is set but nvpmodel is absent")
        c = Change("nvpmodel", nv["id"], int(mode))
        if nv["id"] != int(mode):
            c.apply = [f"echo NO | nvpmodel -m {int(mode)}"]
            c.undo = [f"echo NO | nvpmodel -m {int(nv['id'])}"]
        changes.append(c)
    cpu = facts.get("cpu") or {}
    clocks = settings.get("settings.jetson_clocks")
    if clocks is not None:
        pinned = bool(cpu.get("clocks_pinned"))
        c = Change("jetson_clocks", "on" if pinned else "off", "on" if clocks else "off")
        store = posixpath.join(state_dir, "l4t_dfs.conf")
        if clocks and not pinned:
            c.apply = [f"jetson_clocks --store {q(store)}", "jetson_clocks"]
            c.undo = [f"jetson_clocks --restore {q(store)}"]
        elif pinned and not clocks:
            raise PreflightError(
                f"{target.name}: jetson_clocks is on and the playbook wants it off; labkit only "
                "undoes clocks it pinned itself (restore the board's --store file by hand)"
            )
        changes.append(c)
    gov = settings.get("settings.cpu_governor")
    if gov is not None:
        online = {k: v for k, v in (cpu.get("cpus") or {}).items() if v["online"]}
        if not online or not all(v["governor"] for v in online.values()):
            raise PreflightError(f"{target.name}: no cpufreq governors under {sysroot}/sys")
        first = next(iter(online))
        avail = (
            cpu.get("available_governors")
            or target.run(
                f"cat {q(cpu_path(sysroot, first, 'scaling_available_governors'))}", check=False
            ).stdout.split()
        )
        if avail and gov not in avail:
            raise PreflightError(
                f"{target.name}: settings.cpu_governor {gov!r} is not available "
                f"(scaling_available_governors: {' '.join(avail)})"
            )
        before = {k: v["governor"] for k, v in online.items()}
        c = Change("cpu_governor", before, gov)
        differ = [k for k, g in before.items() if g != gov]
        if differ:
            c.apply = [_write(gov, [cpu_path(sysroot, k, "scaling_governor") for k in differ])]
            by_old: dict[str, list[str]] = {}
            for k in differ:
                by_old.setdefault(before[k], []).append(k)
            c.undo = [
                _write(old, [cpu_path(sysroot, k, "scaling_governor") for k in ks])
                for old, ks in by_old.items()
            ]
        changes.append(c)
    for key, value in sorted((settings.get("settings.sysctl") or {}).items()):
        path = sysctl_path(sysroot, key)
        res = target.run(f"cat {q(path)}", check=False)
        if not res.ok:
            raise PreflightError(f"{target.name}: sysctl {key} does not exist ({path})")
        before = " ".join(res.stdout.split())
        after = " ".join(str(value).split())
        c = Change(f"sysctl {key}", before, after)
        if before != after:
            c.apply, c.undo = [_write(after, [path])], [_write(before, [path])]
        changes.append(c)
    for i, spec in enumerate(files):
        changes.append(_file_change(target, spec, sysroot, state_dir, i))
    return changes


def _file_change(target: Target, spec: FileSpec, sysroot: str, state_dir: str, i: int) -> Change:
    dest = sysroot + spec.dest
    res = target.run(
        f"if [ -e {q(dest)} ]; then stat -c %a {q(dest)}; cat {q(dest)}; else echo absent; fi",
        check=False,
    )
    exists = res.ok and not res.stdout.startswith("absent")
    old_mode, _, old = res.stdout.partition("\n") if exists else ("", "", "")
    c = Change(f"file {spec.dest}", _digest(old) if exists else None, _digest(spec.content))
    if exists and old == spec.content and old_mode.strip() == spec.mode.lstrip("0"):
        return c
    staged = posixpath.join(state_dir, f"file{i}.new")
    backup = posixpath.join(state_dir, f"file{i}.orig")
    c.upload = {staged: spec.content}
    c.diff = "".join(
        difflib.unified_diff(
            old.splitlines(keepends=True),
            spec.content.splitlines(keepends=True),
            fromfile=f"{spec.dest} (on {target.name})" if exists else "/dev/null",
            tofile=f"{spec.dest} (rendered)",
        )
    )
    c.apply = []
    if exists:
        c.apply.append(f"cp -p {q(dest)} {q(backup)}")
        c.undo = [f"install -m {q(old_mode.strip())} {q(backup)} {q(dest)}"]
    else:
        c.undo = [f"rm -f {q(dest)}"]
    c.apply.append(f"mkdir -p {q(posixpath.dirname(dest))}")
    c.apply.append(f"install -m {q(spec.mode)} {q(staged)} {q(dest)}")
    if spec.after_change:  # the playbook's own command, run as written (like a handler)
        c.apply.append(spec.after_change)
        c.undo.append(spec.after_change)
    return c


def _digest(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:12]


# -- journal ---------------------------------------------------------------------------


def journal_path(workdir: str) -> str:
    return posixpath.join(workdir, "state", "restore.json")


def journal_body(run_id: str, changes: list[Change]) -> dict:
    """What the journal says: every change made (or about to be) with its undo commands."""
    return {
        "run_id": run_id,
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "changes": [
            {"key": c.key, "before": c.before, "undo": c.undo, "sudo": c.sudo}
            for c in changes
            if c.applied or c.changed
        ],
    }


def write_journal(target: Target, workdir: str, run_id: str, changes: list[Change]) -> None:
    body = journal_body(run_id, changes)
    target.put(json.dumps(body, indent=1).encode(), journal_path(workdir))


def read_journal(target: Target, workdir: str) -> dict | None:
    res = target.run(f"cat {q(journal_path(workdir))}", check=False)
    return parse_journal(target, workdir, res.stdout) if res.ok else None


def parse_journal(target: Target, workdir: str, text: str) -> dict | None:
    """The journal from its text (as ``cat`` printed it); empty text: no journal."""
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RemoteError(f"{target.name}: {journal_path(workdir)} is corrupt: {exc}") from None


def apply_changes(
    target: Target,
    workdir: str,
    run_id: str,
    changes: list[Change],
    journal: bool = True,
    make_dir: bool = True,
) -> None:
    """Journal first, then change; on the first failure stop (``restore`` undoes the rest).

    ``journal=False`` (``invoke setup-host``) changes the host for good: nothing to undo.
    ``make_dir=False``: the state dir exists already (the run made it with its lock).
    """
    todo = [c for c in changes if c.changed]
    if not todo:
        return
    if make_dir:
        target.run(f"mkdir -p {q(posixpath.dirname(journal_path(workdir)))}")
    if journal:
        write_journal(target, workdir, run_id, changes)
    for c in todo:
        for path, content in c.upload.items():
            target.put(content.encode(), path)
        for cmd in c.apply:
            target.run(cmd, sudo=c.sudo, timeout=120, what=f"setting {c.key}")
        c.applied = True
    if any(c.key == "nvpmodel" for c in todo):
        _verify_nvpmodel(target, next(c for c in todo if c.key == "nvpmodel"))


def _verify_nvpmodel(target: Target, c: Change) -> None:
    from labkit.remote.facts import parse_nvpmodel

    res = target.run("nvpmodel -q", check=False)
    now_mode = (parse_nvpmodel(res.stdout, res.exited) or {}).get("id")
    if now_mode != c.after:
        raise RemoteError(
            f"{target.name}: nvpmodel is still {now_mode} after `nvpmodel -m {c.after}`: "
            "this mode change needs a reboot, which labkit does not do"
        )


UNDO_MARK = "@@labkit-undo"


def restore_journal(
    target: Target, workdir: str, log=print, journal: dict | None = None
) -> list[dict]:
    """Undo every change in the target's journal (last first), then remove the journal.

    ``journal``: its content as this run wrote it (saves reading it back). When every
    entry runs with the same privileges, all undos and the removal go in one round trip.
    """
    if journal is None:
        journal = read_journal(target, workdir)
    if journal is None:
        return []
    entries = list(reversed(journal["changes"]))
    if len({bool(e.get("sudo", True)) for e in entries}) == 1:
        return _restore_at_once(target, workdir, entries, log)
    done, errors = [], []
    for entry in entries:
        try:
            for cmd in entry["undo"]:
                target.run(
                    cmd, sudo=entry.get("sudo", True), timeout=120, what=f"restoring {entry['key']}"
                )
            done.append(entry)
            log(f"  restored {entry['key']} -> {_show(entry['before'])}")
        except RemoteError as exc:
            errors.append(f"{entry['key']}: {exc}")
    if errors:
        raise RemoteError(
            f"{target.name}: could not restore every setting (journal kept at "
            f"{journal_path(workdir)}):\n  " + "\n  ".join(errors)
        )
    target.run(f"rm -f {q(journal_path(workdir))}")
    return done


def _restore_at_once(target: Target, workdir: str, entries: list[dict], log) -> list[dict]:
    """One script: each entry's undo commands, its exit code marked; the journal is
    removed only if every entry came back."""
    parts = ["fail=0"]
    for i, entry in enumerate(entries):
        cmds = " && ".join(f"{{ {c}\n}}" for c in entry["undo"]) or "true"
        parts.append(f'( {cmds}\n) 2>&1; rc=$?; echo "{UNDO_MARK} {i} $rc"; [ $rc = 0 ] || fail=1')
    parts.append(f"[ $fail = 0 ] && rm -f {q(journal_path(workdir))}; exit $fail")
    keys = ", ".join(e["key"] for e in entries)
    res = target.run(
        "\n".join(parts),
        sudo=bool(entries[0].get("sudo", True)) if entries else False,
        timeout=120 * max(1, len(entries)),
        check=False,
        what=f"restoring {keys}",
    )
    done, errors, buf = [], [], []
    for line in res.stdout.splitlines():
        if line.startswith(UNDO_MARK + " "):
            _, i, rc = line.split()
            entry = entries[int(i)]
            if rc == "0":
                done.append(entry)
                log(f"  restored {entry['key']} -> {_show(entry['before'])}")
            else:
                out = "\n".join(buf[-10:])
                errors.append(f"{entry['key']}: exited {rc}: {out}".rstrip(": "))
            buf = []
        else:
            buf.append(line)
    marked = {e["key"] for e in done} | {x.split(":")[0] for x in errors}
    errors += [f"{e['key']}: not attempted ({res.stderr.strip()[:200]})" for e in entries
               if e["key"] not in marked]  # fmt: skip
    if errors:
        raise RemoteError(
            f"{target.name}: could not restore every setting (journal kept at "
            f"{journal_path(workdir)}):\n  " + "\n  ".join(errors)
        )
    return done
