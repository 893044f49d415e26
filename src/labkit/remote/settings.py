"""Host settings as operations: read the state, change only what differs, know how to undo.

One operation per kind of setting (``OPERATIONS``: power mode, jetson_clocks, CPU
governor, sysctl; and the playbook's files), pyinfra-style: it reads its fact, plans its
``Change`` and says how to apply and undo it; ``plan_changes`` runs them in order.

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
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from labkit.errors import CommandFailed, ConnectError, PreflightError, RemoteError
from labkit.remote import lock, reboot
from labkit.remote.facts import parse_nvpmodel
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
    # a power mode nvpmodel can only reach through a reboot: applied and undone by
    # rebooting (``remote.reboot``); ``wait`` holds the boot id path and the time allowed
    reboot: bool = False
    wait: dict[str, Any] = field(default_factory=dict)

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


@dataclass(frozen=True)
class PlanContext:
    """What an operation plans against: the host, its facts, where its files live."""

    target: Target
    facts: dict[str, Any]
    sysroot: str
    state_dir: str
    allow_reboot: bool
    reboot_timeout_s: float


# an operation: one kind of host setting; it reads its fact, plans its change (the commands
# that apply it and those that undo it, run by ``apply_changes`` and ``restore_journal``)
# or raises ``PreflightError`` when the host cannot take it
Operation = Callable[[PlanContext, dict[str, Any]], list[Change]]


def plan_changes(
    target: Target,
    settings: dict[str, Any],
    facts: dict[str, Any],
    *,
    sysroot: str,
    state_dir: str,
    files: list[FileSpec] = (),
    allow_reboot: bool = False,
    reboot_timeout_s: float = reboot.DEFAULT_TIMEOUT_S,
) -> list[Change]:
    """Diff the desired settings against the host, one operation per kind of setting (in
    ``OPERATIONS``' order, then the files); raises ``PreflightError`` if impossible.

    A power mode that needs a reboot (``/etc/nvpmodel.conf``: its power-gating masks
    differ from the current mode's) is refused here, before anything changes, unless
    ``allow_reboot`` (the host's ``labkit_allow_reboot``).
    """
    ctx = PlanContext(target, facts, sysroot, state_dir, allow_reboot, reboot_timeout_s)
    changes = [c for operation in OPERATIONS for c in operation(ctx, settings)]
    changes += [_file_change(target, spec, sysroot, state_dir, i) for i, spec in enumerate(files)]
    for c in changes:
        if c.key != "nvpmodel" or not c.changed:
            continue
        volatile = boot_volatile(facts, changes, sysroot)
        if c.reboot or c.wait.get("allow_reboot"):
            # what a boot resets, as it is now: put back after rebooting back
            c.wait.update(boot_id=facts.get("boot_id"), after_boot=volatile)
        if not c.reboot:  # `nvpmodel -m` resets the CPU mins
            c.undo += volatile
    return changes


def nvpmodel_operation(ctx: PlanContext, settings: dict[str, Any]) -> list[Change]:
    """``settings.nvpmodel``: the power mode (live, or through a reboot when allowed)."""
    mode = settings.get("settings.nvpmodel")
    if mode is None:
        return []
    return [
        _nvpmodel_change(
            ctx.target, int(mode), ctx.facts, ctx.sysroot, ctx.allow_reboot, ctx.reboot_timeout_s
        )
    ]


def jetson_clocks_operation(ctx: PlanContext, settings: dict[str, Any]) -> list[Change]:
    """``settings.jetson_clocks``: clocks pinned with ``jetson_clocks``, undone from the
    ``--store`` file it wrote (and checked against sysfs read back)."""
    clocks = settings.get("settings.jetson_clocks")
    if clocks is None:
        return []
    pinned = bool((ctx.facts.get("cpu") or {}).get("clocks_pinned"))
    c = Change("jetson_clocks", "on" if pinned else "off", "on" if clocks else "off")
    # a fresh store file each run: `jetson_clocks --store F` onto an existing F asks
    # "Can I overwrite it? Y/N:" and, with no answer, exits 1 storing nothing
    store = posixpath.join(ctx.state_dir, "l4t_dfs.conf")
    expect = store + ".sysfs"
    snap = _clock_snapshot(ctx.sysroot)
    if clocks and not pinned:
        c.apply = [
            f"rm -f {q(store)} {q(expect)}",
            f"{snap} > {q(expect)}",
            f"jetson_clocks --store {q(store)}",
            "jetson_clocks",
        ]
        # `jetson_clocks --restore` exits 0 even when a write fails: read sysfs back
        c.undo = [
            f"jetson_clocks --restore {q(store)}",
            f"{snap} | diff {q(expect)} - >&2 || {{ echo 'jetson_clocks --restore "
            "exited 0 but the CPU clocks read back differ from the stored ones (above: "
            "< stored, > now)' >&2; false; }",
            f"rm -f {q(store)} {q(expect)}",
        ]
    elif pinned and not clocks:
        raise PreflightError(
            f"{ctx.target.name}: jetson_clocks is on and the playbook wants it off; labkit only "
            "undoes clocks it pinned itself (restore the board's --store file by hand)"
        )
    return [c]


def governor_operation(ctx: PlanContext, settings: dict[str, Any]) -> list[Change]:
    """``settings.cpu_governor``: every online CPU's governor, each put back to its own."""
    gov = settings.get("settings.cpu_governor")
    if gov is None:
        return []
    target, sysroot, cpu = ctx.target, ctx.sysroot, ctx.facts.get("cpu") or {}
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
    return [c]


def sysctl_operation(ctx: PlanContext, settings: dict[str, Any]) -> list[Change]:
    """``settings.sysctl.<key>``: each value read from /proc/sys, written, put back."""
    changes = []
    for key, value in sorted((settings.get("settings.sysctl") or {}).items()):
        path = sysctl_path(ctx.sysroot, key)
        res = ctx.target.run(f"cat {q(path)}", check=False)
        if not res.ok:
            raise PreflightError(f"{ctx.target.name}: sysctl {key} does not exist ({path})")
        before = " ".join(res.stdout.split())
        after = " ".join(str(value).split())
        c = Change(f"sysctl {key}", before, after)
        if before != after:
            c.apply, c.undo = [_write(after, [path])], [_write(before, [path])]
        changes.append(c)
    return changes


# the order they are planned and applied (and undone in reverse): the power mode first,
# as `nvpmodel -m` resets the CPU clocks and mins the later ones set
OPERATIONS: tuple[Operation, ...] = (
    nvpmodel_operation,
    jetson_clocks_operation,
    governor_operation,
    sysctl_operation,
)


def boot_volatile(facts: dict[str, Any], changes: list[Change], sysroot: str) -> list[str]:
    """Commands that bring back what a boot resets, as ``facts`` (and the sysctl values
    ``changes`` read) show it: every online CPU's governor, the planned sysctl keys, and
    jetson_clocks' pinning (last: it pins to the mode's cap)."""
    cpu = facts.get("cpu") or {}
    by_gov: dict[str, list[str]] = {}
    for k, v in (cpu.get("cpus") or {}).items():
        if v.get("online") and v.get("governor"):
            by_gov.setdefault(v["governor"], []).append(k)
    cmds = [
        _write(g, [cpu_path(sysroot, k, "scaling_governor") for k in ks])
        for g, ks in by_gov.items()
    ]
    for c in changes:
        if c.key.startswith("sysctl ") and c.before is not None:
            cmds.append(_write(str(c.before), [sysctl_path(sysroot, c.key[len("sysctl ") :])]))
    if cpu.get("clocks_pinned"):
        cmds.append("jetson_clocks")
    return cmds


def _clock_snapshot(sysroot: str) -> str:
    """Every CPU's scaling min/max, one ``cpuN/cpufreq/scaling_X_freq:value`` a line."""
    base = q(f"{sysroot}/sys/devices/system/cpu")
    return (
        f"(cd {base} && grep -H . cpu[0-9]*/cpufreq/scaling_min_freq "
        "cpu[0-9]*/cpufreq/scaling_max_freq | sort)"
    )


def needs_reboot(conf: dict | None, old: int, new: int) -> bool | None:
    """From the board's nvpmodel.conf (fact ``nvpmodel_modes``): whether going from mode
    ``old`` to ``new`` needs a reboot (their power-gating masks differ); None: unknown."""
    modes = (conf or {}).get("modes") or {}
    if str(old) not in modes or str(new) not in modes:
        return None
    return modes[str(old)]["pg_masks"] != modes[str(new)]["pg_masks"]


def _mode_name(conf: dict | None, ident: int) -> str:
    m = ((conf or {}).get("modes") or {}).get(str(ident))
    return f"{ident} ({m['name']})" if m else str(ident)


def _nvpmodel_change(
    target: Target, mode: int, facts: dict, sysroot: str, allow: bool, timeout_s: float
) -> Change:
    nv = facts.get("nvpmodel")
    if nv is None:
        raise PreflightError(f"{target.name}: settings.nvpmodel is set but nvpmodel is absent")
    c = Change("nvpmodel", nv["id"], mode)
    if nv["id"] == mode:
        return c
    conf = facts.get("nvpmodel_modes")
    if conf and str(mode) not in conf["modes"]:
        known = ", ".join(_mode_name(conf, int(k)) for k in conf["modes"])
        raise PreflightError(
            f"{target.name}: settings.nvpmodel {mode} is not a power mode of this board "
            f"(/etc/nvpmodel.conf has {known})"
        )
    if needs_reboot(conf, nv["id"], mode):
        if not allow:
            raise PreflightError(
                f"{target.name}: settings.nvpmodel {_mode_name(conf, mode)} needs a reboot: "
                f"the board is in mode {_mode_name(conf, nv['id'])} and nvpmodel only "
                "switches between them by rebooting (their power-gating masks differ in "
                "/etc/nvpmodel.conf). Nothing was changed. Set labkit_allow_reboot: true "
                "for this host to let labkit reboot it into that mode and back."
            )
        c.reboot = True
        c.wait = {"boot_id_path": reboot.boot_id_path(sysroot), "timeout_s": timeout_s}
        c.apply = [f"echo YES | nvpmodel -m {mode}"]
        c.undo = [f"echo YES | nvpmodel -m {int(nv['id'])}"]
        return c
    c.apply = [f"echo NO | nvpmodel -m {mode}"]
    c.undo = [f"echo NO | nvpmodel -m {int(nv['id'])}"]
    if allow:  # should nvpmodel say it needs a reboot after all (no nvpmodel.conf)
        wait = {"boot_id_path": reboot.boot_id_path(sysroot), "timeout_s": timeout_s}
        c.wait = {**wait, "allow_reboot": True}
    return c


def _as_reboot(c: Change) -> None:
    """A live-planned power mode change that nvpmodel says needs a reboot (allowed)."""
    c.reboot = True
    c.apply = [f"echo YES | nvpmodel -m {int(c.after)}"]
    c.undo = [f"echo YES | nvpmodel -m {int(c.before)}"]


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
            {
                "key": c.key,
                "before": c.before,
                "undo": c.undo,
                "sudo": c.sudo,
                **({"reboot": True, "mode": c.before, **c.wait} if c.reboot else {}),
            }
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
    replan=None,
    log=lambda msg: None,
) -> None:
    """Journal first, then change; on the first failure stop (``restore`` undoes the rest).

    ``journal=False`` (``invoke setup-host``) changes the host for good: nothing to undo.
    ``make_dir=False``: the state dir exists already (the run made it with its lock).
    A power mode change (always the first change) resets what a boot resets when it
    needs a reboot (``Change.reboot``), and the CPU clocks (jetson_clocks' pinning) when
    it is live, so the other settings are planned again afterwards (even those that were
    right before it): ``replan(change)`` returns them from fresh facts, and ``changes``
    is updated in place.
    """
    todo = [c for c in changes if c.changed and not c.applied]
    if not todo:
        return
    if make_dir:
        target.run(f"mkdir -p {q(posixpath.dirname(journal_path(workdir)))}")
    if journal:
        write_journal(target, workdir, run_id, changes)

    def rebooted(c: Change) -> bool:
        """Reboot into ``c``'s mode; True: the rest was planned again and applied."""

        def requested(old: str) -> None:
            # on the board's disk before nvpmodel is sent: a restore after Ctrl-C or a
            # dead controller waits for this reboot before reading the mode
            c.wait.update(boot_id=old, reboot_requested=True)
            if journal:
                write_journal(target, workdir, run_id, changes)

        try:
            reboot.reboot_into_mode(
                target,
                int(c.after),
                c.wait["boot_id_path"],
                float(c.wait["timeout_s"]),
                log=log,
                sudo=c.sudo,
                requested=requested,
                alive=lambda: lock.touch(target, workdir, c.wait["boot_id_path"]),
            )
        except (reboot.RebootRefused, reboot.NoReboot):
            c.wait["reboot_requested"] = False  # no reboot is coming
            if journal:
                write_journal(target, workdir, run_id, changes)
            raise
        c.applied = True
        return replanned(c)

    def replanned(c: Change) -> bool:
        if replan is None:
            return False
        changes[:] = [c] + [x for x in replan(c) if x.key != c.key]
        apply_changes(target, workdir, run_id, changes, journal, False, None, log)
        return True

    for c in todo:
        if c.reboot:
            if rebooted(c):  # a boot resets settings that were right before it
                return
            continue
        for path, content in c.upload.items():
            target.put(content.encode(), path)
        for cmd in c.apply:
            res = target.run(cmd, sudo=c.sudo, timeout=120, check=False, what=f"setting {c.key}")
            said = res.stdout + res.stderr
            if c.key == "nvpmodel" and "Reboot required" in said and c.wait.get("allow_reboot"):
                log(f"{target.name}: nvpmodel: {_line(said, 'Reboot required')}")
                _as_reboot(c)
                break
            if c.key == "nvpmodel" and "Reboot required" in said:
                raise RemoteError(
                    f"{target.name}: settings.nvpmodel {c.after} needs a reboot (nvpmodel: "
                    f"{_line(said, 'Reboot required')}); the mode was not "
                    "changed. Set labkit_allow_reboot: true for this host to let labkit "
                    "reboot it into that mode and back."
                )
            if not res.ok:
                raise CommandFailed(
                    f"{target.name}: setting {c.key} exited {res.exited}:\n{res.tail()}", res
                )
        if c.reboot:  # nvpmodel's warning revealed it: reboot (journaled first)
            if rebooted(c):
                return
            continue
        c.applied = True
        if c.key == "nvpmodel":
            _verify_nvpmodel(target, c)
            if replanned(c):  # it reset the CPU clocks (pinning): plan again
                return


def _line(text: str, needle: str) -> str:
    return next((ln.strip() for ln in text.splitlines() if needle in ln), needle)


def _verify_nvpmodel(target: Target, c: Change) -> None:
    res = target.run("nvpmodel -q", check=False)
    now_mode = (parse_nvpmodel(res.stdout, res.exited) or {}).get("id")
    if now_mode != c.after:
        raise RemoteError(
            f"{target.name}: nvpmodel is still {now_mode} after `nvpmodel -m {c.after}`"
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
    reboots = any(e.get("reboot") for e in entries)
    if not reboots and len({bool(e.get("sudo", True)) for e in entries}) == 1:
        return _restore_at_once(target, workdir, entries, log)
    done, errors = [], []
    for entry in entries:
        try:
            if entry.get("reboot"):
                _restore_mode(
                    target,
                    entry,
                    log,
                    alive=lambda e=entry: lock.touch(target, workdir, e["boot_id_path"]),
                )
            else:
                for cmd in entry["undo"]:
                    target.run(
                        cmd,
                        sudo=entry.get("sudo", True),
                        timeout=120,
                        what=f"restoring {entry['key']}",
                    )
            done.append(entry)
            log(f"  restored {entry['key']} -> {_show(entry['before'])}")
        except ConnectError:
            raise  # the board did not come back: the journal stays for `invoke restore`
        except RemoteError as exc:
            errors.append(f"{entry['key']}: {exc}")
    if errors:
        raise RemoteError(
            f"{target.name}: could not restore every setting (journal kept at "
            f"{journal_path(workdir)}):\n  " + "\n  ".join(errors)
        )
    target.run(f"rm -f {q(journal_path(workdir))}")
    return done


def _restore_mode(target: Target, entry: dict, log, alive=lambda: None) -> None:
    """Put back a power mode that was reached by rebooting: reboot back into it (unless
    the board is in it already: the run stopped before its reboot)."""
    path, old = entry["boot_id_path"], entry.get("boot_id")
    timeout_s = float(entry.get("timeout_s", reboot.DEFAULT_TIMEOUT_S))
    if entry.get("reboot_requested") and old:
        # the run asked for a reboot: until the board shows a new boot id it may still be
        # going down, and its mode is not the one it will come back in
        try:
            now = reboot.read_boot_id(target, path)
        except ConnectError:
            now = None
        if now in (None, old):
            log(f"{target.name}: waiting for the reboot the run started")
            try:
                reboot.wait_for_boot(target, path, old, timeout_s, log, alive=alive)
            except reboot.NoReboot:
                log(f"{target.name}: it never went down; putting its mode back as it is")
    res = target.run("nvpmodel -q", check=False)
    if (parse_nvpmodel(res.stdout, res.exited) or {}).get("id") != int(entry["mode"]):
        reboot.reboot_into_mode(
            target,
            int(entry["mode"]),
            path,
            timeout_s,
            log=log,
            sudo=entry.get("sudo", True),
            alive=alive,
        )
    elif reboot.read_boot_id(target, path) in (None, old):
        return  # the board was not rebooted since the run began: nothing was reset
    _after_boot(target, entry, log)


def _after_boot(target: Target, entry: dict, log) -> None:
    """After a reboot back: what the boot reset (governor, sysctl, pinning) as it was
    before the run, from the journal."""
    failed = []
    for cmd in entry.get("after_boot") or []:
        res = target.run(cmd, sudo=entry.get("sudo", True), timeout=120, check=False)
        if not res.ok:
            failed.append(f"$ {cmd}: exited {res.exited}: {res.tail()}")
    if failed:
        raise RemoteError(
            f"{target.name}: rebooted back into power mode {entry['mode']}, but could not put "
            "back what the boot reset to its value before the run:\n    " + "\n    ".join(failed)
        )
    if entry.get("after_boot"):
        log(f"  put back what the reboot reset ({len(entry['after_boot'])} setting(s))")


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
