"""What the Invoke tasks do, kept out of ``tasks.py`` so it can be tested and reused.

Each function prints its result and raises ``LabkitError`` for user errors; ``guard``
turns those into a one-line message and exit code 2 instead of a traceback.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import gc
import inspect
import json
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from invoke import Exit

from labkit.config.params import ParamError, parse_set
from labkit.core import environment
from labkit.errors import ConnectError, HostKeyError, LabkitError

if TYPE_CHECKING:
    from labkit.engine.terminal import Lasting
    from labkit.records.backends import RunStore
    from labkit.records.model import RunRecord
    from labkit.remote.early import Early

ROOT = Path.cwd()
DEFAULT_INVENTORY = "inventory/hosts.yml"
DEFAULT_PLAYBOOK = "playbooks/lerobot-loop-lag.yml"
DEFAULT_TARGET = "sim"
DEFAULT_RUNS = None  # labkit.yml's `runs`, else runs/


def guard(fn: Callable[..., Any], *args: Any, verbose: bool = False, **kwargs: Any) -> Any:
    """Run ``fn``; a user error becomes ``invoke.Exit`` with its message (no traceback).

    Output piped into a reader that stops early (``invoke hosts | head``) ends quietly.
    ``verbose`` (-v): every remote command with its time and exit code, as LABKIT_TRACE=1.
    """
    if verbose:
        os.environ["LABKIT_TRACE"] = "1"
    warnings.showwarning = _one_line_warning
    try:
        environment.check()  # LABKIT_* variables: one clear line before anything happens
        _no_dangling_set()
        result = fn(*args, **kwargs)
        sys.stdout.flush()  # a reader that went away is noticed here, not at exit
        return result
    except ParamError as exc:
        raise Exit(f"labkit: error: --set: {exc}", code=2) from None
    except LabkitError as exc:
        raise Exit(f"labkit: error: {exc}", code=exit_code(exc)) from None
    except BrokenPipeError:
        _quiet_stdout()
        raise Exit(code=0) from None
    except OSError as exc:  # a folder for a file, permissions, ENAMETOOLONG, ELOOP, ...
        what = f"{exc.filename}: " if exc.filename else ""
        hint = OS_HINTS.get(exc.errno, "")
        raise Exit(f"labkit: error: {what}{exc.strerror or exc}{hint}", code=2) from None


# One table for every task (docs/running.md, "Exit codes"): the same condition, the same code.
COMPLETE, FAILED, USER_ERROR, UNREACHABLE, INTERRUPTED = 0, 1, 2, 3, 130
BY_STATUS = {"failed": FAILED, "lost-connection": UNREACHABLE, "interrupted": INTERRUPTED}
PRECEDENCE = (INTERRUPTED, UNREACHABLE, USER_ERROR, FAILED)  # a batch: the first that happened


def exit_code(exc: BaseException | None) -> int:
    """A labkit error's exit code: an unreachable host or a lost connection 3, a host key
    2 (the user's to trust), any other error of ours 2 (a busy host, a preflight, ...)."""
    if isinstance(exc, ConnectError) and not isinstance(exc, HostKeyError):
        return UNREACHABLE
    return USER_ERROR


def batch_exit(outcomes: list, stopped: str) -> tuple[int, str]:
    """A batch's exit code and, for 2 and 3, the line that says why (the first such run)."""
    found: dict[int, str] = {}
    if stopped.startswith("interrupted"):
        found[INTERRUPTED] = ""
    for o in outcomes:
        if o.status in ("complete", "not-run"):
            continue
        # a run stopped by --fail-fast is a failure's consequence (Ctrl-C is 130 above)
        lost = UNREACHABLE if o.status == "lost-connection" else FAILED
        code = exit_code(o.error) if o.error is not None else lost
        found.setdefault(code, f"{o.host} {o.experiment} #{o.repeat}: {o.reason}".splitlines()[0])
    code = next((c for c in PRECEDENCE if c in found), COMPLETE)
    return code, found.get(code, "") if code in (USER_ERROR, UNREACHABLE) else ""


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A library's warning reaches the user as one line of labkit's, not Python's two with
    a file name and a source line."""
    text = str(message).strip().splitlines()[0] if str(message).strip() else category.__name__
    print(f"labkit: warning: {text}", file=sys.stderr)


OS_HINTS = {
    errno.ENAMETOOLONG: "; expected a path whose every part is at most 255 bytes",
    errno.ELOOP: "; a symbolic link points back at itself: remove it or point it elsewhere",
    errno.EACCES: "; check the file's permissions",
}


def quick_exit() -> None:
    """Leave the objects still alive at exit out of Python's last garbage collection.
    Finalizing walks every object pandas, numpy and pydantic made at import (1.0-1.5 s
    after a run's last line on a busy 2-core machine; 0.2 s frozen); objects still alive
    then are freed by their modules' teardown all the same, and every file labkit writes
    is closed (and a record fsynced) before its task returns."""
    atexit.register(gc.freeze)


def quiet_when_reader_leaves() -> None:
    """Invoke's own output (``invoke --list | head -3``, ``invoke experiment --help | head``)
    ends quietly when its reader stops early, as a shell tool does, instead of with a
    BrokenPipeError traceback. Not ``signal(SIGPIPE, SIG_DFL)``: that would kill a
    recording mid-run (``invoke experiment | head``) before its host is restored; a task's
    own output is handled by ``guard``. Ctrl-C (SIGINT) is left alone."""

    previous = sys.excepthook

    def flush() -> None:  # output still buffered at exit (stdout a pipe) meets the reader
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            _quiet_stdout()
        except (OSError, ValueError):
            pass  # stdout already closed: Python's own flush at exit says nothing either

    atexit.register(flush)

    def hook(kind, exc, tb):
        if issubclass(kind, BrokenPipeError):
            _quiet_stdout()
            sys.stderr.flush()
            os._exit(0)  # the reader left: nothing went wrong (as `invoke hosts | head`)
        previous(kind, exc, tb)

    sys.excepthook = hook


def _no_dangling_set(argv: list[str] = sys.argv) -> None:
    """Invoke takes a list option with no value (``--set`` at the end, or followed by
    another flag: ``--set --name exp1``) as nothing; a key=value never starts with '-'."""
    run_by_invoke = Path(argv[0]).name in ("invoke", "inv") or "invoke" in Path(argv[0]).parts
    if not run_by_invoke:
        return
    for i, arg in enumerate(argv[1:], 1):
        if arg not in ("--set", "-s", "--extra-vars"):
            continue
        after = argv[i + 1] if i + 1 < len(argv) else None
        if after is None:
            raise ParamError("", "no key=value after it (e.g. --set dataset.fps=25)")
        if after.startswith("-"):
            raise ParamError(
                "", f"no key=value after it ({after} came next; e.g. --set dataset.fps=25)"
            )


def _quiet_stdout() -> None:
    """The reader of our stdout is gone: send what is still buffered nowhere."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


def number(
    flag: str, value: Any, minimum: int | None = None, maximum: int | None = None
) -> int | None:
    """An integer option given as text (``--repeat 3``); ``None`` stays ``None``."""
    if value is None:
        return None
    try:
        n = int(str(value).strip())
    except ValueError:
        raise LabkitError(f"{flag} {value!r}: expected a whole number (e.g. {flag} 3)") from None
    if minimum is not None and n < minimum:
        raise LabkitError(f"{flag} {n}: expected at least {minimum}")
    if maximum is not None and n > maximum:
        raise LabkitError(f"{flag} {n}: expected at most {maximum}")
    return n


def path_arg(flag: str, value: str | None, expect: str = "file") -> Path:
    """A path option: not empty, and a file where a file is expected (a folder is said so)."""
    if value is None or not str(value).strip():
        raise LabkitError(f"{flag} is empty: expected a {expect} path")
    p = Path(value)
    if expect == "file" and p.is_dir():
        raise LabkitError(f"{flag} {value}: is a folder; expected a file")
    if expect == "file" and not p.exists():
        raise LabkitError(f"{flag} {value}: file not found")
    if expect == "folder" and p.exists() and not p.is_dir():
        made = "" if flag == "--logs" else " (it is created if new)"
        raise LabkitError(f"{flag} {value}: is a file; expected a folder{made}")
    return p


def run_store(runs: str | None) -> RunStore:
    """The run store ``--runs`` names, else the project's (``labkit.yml``), else ``runs/``:
    a folder or ``s3://bucket/prefix``."""
    from labkit.config.project import load_project  # noqa: PLC0415 -- start-up time
    from labkit.records.backends import open_store  # noqa: PLC0415 -- start-up time

    project = load_project()
    if runs is not None and not str(runs).strip():
        raise LabkitError("--runs is empty: expected a folder or s3://bucket/prefix")
    spec = str(runs) if runs is not None else project.runs_spec()
    if not spec.startswith("s3://"):
        path_arg("--runs", spec, "folder")
    store = open_store(spec, project.dir)
    store.finish = RunMetrics()
    return store


def store_metrics(run_dir: Path, record: RunRecord) -> None:
    """A finished run's metrics, computed and kept beside it (``metrics.json``): once, when
    it is collected or imported, so they travel with it to a shared store's readers."""
    RunMetrics()(run_dir, record)


class RunMetrics:
    """A run store's ``finish``: each finished run's metrics stored beside it. A run
    computes them beside its last round trip (``prepare``, in its summary thread) and
    stores them once its record is final; the analysis is imported only then (numpy,
    pandas: start-up time)."""

    def __init__(self) -> None:
        self._ready: dict[Path, dict[str, Any]] = {}

    def prepare(self, run_dir: Path, record: RunRecord) -> None:
        from labkit.analysis.runs import compute_metrics  # noqa: PLC0415 -- start-up time

        self._ready[Path(run_dir)] = compute_metrics(run_dir, record)

    def __call__(self, run_dir: Path, record: RunRecord) -> None:
        from labkit.analysis.runs import store_metrics as store  # noqa: PLC0415 -- start-up time

        store(run_dir, record, self._ready.pop(Path(run_dir), None))


@contextlib.contextmanager
def writable(flag: str, value: str | None, folder: Path):
    """The run store's local folder a run writes into: created (with its parents) and
    proved writable before anything happens on a host, so a run never fails at its end for
    want of it; a folder created here and still empty at the end (the host was busy) is
    removed again."""
    new = [d for d in (folder, *folder.parents) if not d.exists()]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise LabkitError(
            f"{flag} {value}: cannot write there ({exc.strerror or exc}); expected a folder "
            "labkit can create and write (the run store)"
        ) from None
    try:
        yield folder
    finally:
        for d in new:  # deepest first
            with contextlib.suppress(OSError):
                d.rmdir()  # only when empty


def load_playbook(playbook: str):
    """The playbook named by ``--playbook``, checked."""
    from labkit.config.playbook import load_playbook as load  # noqa: PLC0415 -- start-up time

    path_arg("--playbook", playbook)
    return load(playbook)


def load_inventory(inventory: str):
    """The inventory named by ``--inventory`` (a file or, as in Ansible, a folder), with
    every host's variables checked."""
    from labkit.config.hostvars import load_inventory as load  # noqa: PLC0415 -- start-up time

    if inventory is None or not str(inventory).strip():
        raise LabkitError("--inventory is empty: expected an inventory file or folder")
    return load(inventory)


def hosts(inventory: str = DEFAULT_INVENTORY, as_json: bool = False, out=sys.stdout) -> None:
    """Print hosts, groups and resolved variables (``--json``: ansible-inventory --list)."""
    inv = load_inventory(inventory)
    if as_json:
        print(inv.to_json(), file=out)
        return
    print(f"inventory {inv.path}", file=out)
    print("groups:", file=out)

    def tree(name: str, depth: int) -> None:
        g = inv.groups[name]
        members = f"  hosts: {', '.join(g.hosts)}" if g.hosts else ""
        print(f"{'  ' * depth}- {name}{members}", file=out)
        for child in g.children:
            tree(child, depth + 1)

    tree("all", 1)
    print("hosts:", file=out)
    for name in inv.hosts:
        values, origins = inv.resolve(name)
        print(f"  {name}  (groups: {', '.join(inv.ancestors(name)) or 'ungrouped'})", file=out)
        for key in sorted(values):
            print(f"    {key}: {json.dumps(values[key], default=str)}   # {origins[key]}", file=out)


def plan(
    name: str,
    target: str = DEFAULT_TARGET,
    playbook: str = DEFAULT_PLAYBOOK,
    inventory: str = DEFAULT_INVENTORY,
    sets: list[str] | None = None,
    out=sys.stdout,
):
    """Print the fully resolved experiment without touching the host."""
    p, inv = _resolve(name, target, playbook, inventory, sets)
    values, _ = inv.resolve(target)  # the host's own variables, as a run renders with them
    p.host_vars = {**values, "inventory_hostname": target}
    print(p.render(), file=out)
    return p


def experiments(playbook: str = DEFAULT_PLAYBOOK, out=sys.stdout) -> None:
    """List a playbook's experiments and hypotheses."""
    pb = load_playbook(playbook)
    print(f"{pb.name}: {pb.model.description}", file=out)
    for name, exp in pb.experiments.items():
        print(f"  {name:8s} x{exp.repeats}  {exp.description}", file=out)
    for hyp in pb.model.hypotheses:
        print(f"  {hyp.id:8s} {hyp.title}", file=out)


def _resolve(name, target, playbook, inventory, sets):
    from labkit.config.plan import resolve  # noqa: PLC0415 -- start-up time

    pb = load_playbook(playbook)
    inv = load_inventory(inventory)
    return resolve(pb, inv, name, target, parse_set(sets, pb.known_params())), inv


def reach_hosts() -> None:
    """Wire the simulated Jetson's installer into the remote layer (which never imports the
    simulator) before a task reaches a host: a ``labkit_simulate`` host gets it."""
    from labkit import provision  # noqa: PLC0415 -- start-up time: only tasks that reach hosts

    provision.wire()


def experiment(
    name: str,
    target: str = DEFAULT_TARGET,
    playbook: str = DEFAULT_PLAYBOOK,
    inventory: str = DEFAULT_INVENTORY,
    sets: list[str] | None = None,
    runs: str | None = DEFAULT_RUNS,
    repeat: int | str | None = 1,
    check: bool = False,
    detach: bool = False,
    out=sys.stdout,
) -> list[RunRecord | dict]:
    """Run one experiment ``repeat`` times; exit code says how the last run ended
    (``--check``: each a dict of the planned changes)."""
    from labkit.engine.terminal import Lasting  # noqa: PLC0415 -- start-up time
    from labkit.remote.early import connect_early  # noqa: PLC0415 -- start-up time

    out = Lasting(out)  # a reader that leaves or a terminal that closes never stops a run
    # the host's shell starts while the rest of labkit imports and the run is planned
    early = None
    if inventory is not None and str(inventory).strip():
        early = connect_early(inventory, target, lambda line: print(line, file=out, flush=True))
    try:
        return _experiment(
            name, target, playbook, inventory, sets, runs, repeat, check, detach, out, early
        )
    finally:
        if early is not None:  # not taken: the checked host differs, or planning failed
            early.close()


def _experiment(
    name: str,
    target: str,
    playbook: str,
    inventory: str,
    sets: list[str] | None,
    runs: str | None,
    repeat: int | str | None,
    check: bool,
    detach: bool,
    out: Lasting,
    early: Early | None,
) -> list[RunRecord | dict]:
    from labkit.config.playbook import MAX_REPEATS  # noqa: PLC0415 -- start-up time
    from labkit.engine.options import RunOptions  # noqa: PLC0415 -- start-up time
    from labkit.engine.run import run_experiment  # noqa: PLC0415 -- start-up time
    from labkit.engine.signals import outlive_hangup  # noqa: PLC0415 -- start-up time
    from labkit.records.model import RunRecord  # noqa: PLC0415 -- start-up time

    reach_hosts()

    repeat = number("--repeat", 1 if repeat is None else repeat, minimum=1, maximum=MAX_REPEATS)
    store = run_store(runs)
    if detach and repeat > 1:
        raise LabkitError("--detach runs one experiment; drop --repeat")
    opts = RunOptions(runs=store.local, check=check, detach=detach, out=out, store=store)
    manifests = []
    folder = contextlib.nullcontext() if check else writable("--runs", runs, store.local)
    with folder, outlive_hangup(out):
        for i in range(repeat):
            plan, inv = _resolve(name, target, playbook, inventory, sets)
            if repeat > 1:
                print(f"== {name} repeat {i + 1}/{repeat}", file=out)
            values, _ = inv.resolve(target)
            m = run_experiment(
                plan, opts, {**values, "inventory_hostname": target}, early if i == 0 else None
            )
            manifests.append(m)
            if isinstance(m, RunRecord) and m.status in ("interrupted", "lost-connection"):
                break
    # --check: no run, no status
    worst = [m.status for m in manifests if isinstance(m, RunRecord) and m.status in BY_STATUS]
    if worst:
        raise Exit(code=BY_STATUS[worst[-1]])
    return manifests


def _host(target: str, inventory: str):
    """The inventory host (a host task that runs no workload needs no playbook)."""
    from labkit.config.hostvars import host_config  # noqa: PLC0415 -- start-up time

    return host_config(load_inventory(inventory), target)


def facts(
    target: str = DEFAULT_TARGET,
    inventory: str = DEFAULT_INVENTORY,
    as_json: bool = False,
    out=sys.stdout,
) -> dict:
    """Gather and print a host's facts (``--json``: one object, sorted keys)."""
    from labkit.engine.hostops import host_facts  # noqa: PLC0415 -- start-up time
    from labkit.engine.options import RunOptions  # noqa: PLC0415 -- start-up time

    reach_hosts()

    host = _host(target, inventory)
    log = sys.stderr if as_json else out
    result = host_facts(host, RunOptions(out=log))
    if as_json:
        print(json.dumps(result, indent=2, sort_keys=True, default=str), file=out)
        return result
    for line in plain_facts(result):
        print(line, file=out)
    return result


def plain_facts(facts: dict) -> list[str]:
    """The facts for reading: every value in full, one field per line, but a long list
    (GStreamer's elements) as its count and first items; CPUs that agree (online,
    governor, clocks) are one line (``cpu0-13 schedutil 972-2601 MHz``)."""
    lines = []
    for key in sorted(facts):
        value = facts[key]
        if key == "cpu" and isinstance(value, dict):
            body = cpu_lines(value)
        elif isinstance(value, dict):
            body = [f"{k}: {_plain(v)}" for k, v in sorted(value.items())] or ["none"]
        elif isinstance(value, list):
            body = [_plain(v) for v in value] or ["none"]
        else:
            body = [_plain(value)]
        lines += [f"  {key if i == 0 else '':13s} {text}" for i, text in enumerate(body)]
    return lines


# the items of a list the plain facts show on its line; a longer one shows its count and
# these first ones (the facts record and ``--json`` keep every item)
LIST_SHOWN = 8


def _plain(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        if len(value) > LIST_SHOWN:  # GStreamer's hundreds of elements: not one huge line
            first = ", ".join(_plain(v) for v in value[:LIST_SHOWN])
            return f"{len(value)} ({first}, ...; all of them with --json)"
        return ", ".join(_plain(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_plain(v)}" for k, v in sorted(value.items()))
    return str(value)


def cpu_lines(cpu: dict) -> list[str]:
    """Consecutive CPUs with the same online state, governor and min/max/hw-max clocks as
    one line; the current clocks of the group as a range."""
    head = [f"{cpu.get('count', '?')} CPUs, online {cpu.get('online', '?')}"]
    if "clocks_pinned" in cpu:
        head[0] += f", clocks pinned: {_plain(cpu['clocks_pinned'])}"
    groups: list[tuple[tuple, list[int], list[int]]] = []  # (shape, cpu ids, current kHz)
    for ident, c in sorted((cpu.get("cpus") or {}).items(), key=lambda kv: int(kv[0])):
        shape = (c.get("online"), c.get("governor"), c.get("min_khz"), c.get("max_khz"),
                 c.get("hw_max_khz"))  # fmt: skip
        n = int(ident)
        if groups and groups[-1][0] == shape and groups[-1][1][-1] == n - 1:
            groups[-1][1].append(n)
            groups[-1][2].append(c.get("cur_khz") or 0)
        else:
            groups.append((shape, [n], [c.get("cur_khz") or 0]))
    body = []
    for (online, governor, lo, hi, hw), ids, cur in groups:
        name = f"cpu{ids[0]}" + (f"-{ids[-1]}" if len(ids) > 1 else "")
        if not online:
            body.append(f"{name} offline")
            continue
        now = _mhz_range(min(cur), max(cur))
        hw_max = f", hw max {_mhz(hw)} MHz" if hw and hw != hi else ""
        body.append(f"{name} {governor or '-'} {_mhz_range(lo, hi)} MHz (now {now} MHz{hw_max})")
    if cpu.get("available_governors"):
        body.append(f"available governors: {_plain(cpu['available_governors'])}")
    return head + body


def _mhz(khz: Any) -> str:
    return f"{int(khz) // 1000}" if isinstance(khz, (int, float)) else "?"


def _mhz_range(lo: Any, hi: Any) -> str:
    return _mhz(lo) if _mhz(lo) == _mhz(hi) else f"{_mhz(lo)}-{_mhz(hi)}"


def setup_host(
    target: str = DEFAULT_TARGET,
    name: str | None = None,
    playbook: str = DEFAULT_PLAYBOOK,
    inventory: str = DEFAULT_INVENTORY,
    sets: list[str] | None = None,
    check: bool = False,
    out=sys.stdout,
) -> list[dict]:
    """Apply an experiment's settings (default: the playbook's first) and keep them."""
    from labkit.engine.hostops import setup_host as apply  # noqa: PLC0415 -- start-up time
    from labkit.engine.options import RunOptions  # noqa: PLC0415 -- start-up time

    reach_hosts()

    experiments = load_playbook(playbook).experiments
    if name is not None and not name.strip():
        raise LabkitError(
            f"--name is empty: expected one of {', '.join(experiments)} (or no --name for "
            "the playbook's first)"
        )
    name = name or next(iter(experiments))
    plan, inv = _resolve(name, target, playbook, inventory, sets)
    values, _ = inv.resolve(target)
    opts = RunOptions(check=check, out=out)
    return apply(plan, opts, {**values, "inventory_hostname": target})


def restore(
    target: str = DEFAULT_TARGET,
    inventory: str = DEFAULT_INVENTORY,
    setup: bool = False,
    out=sys.stdout,
) -> list[dict]:
    """Put back settings a dead run left changed on ``target`` and clear its lock;
    ``setup``: also what ``setup-host`` changed. The dead run's record (in the project's
    run store, ``labkit.yml``) notes it; a shared store gets the changed record."""
    from labkit.engine.hostops import restore as put_back  # noqa: PLC0415 -- start-up time
    from labkit.engine.options import RunOptions  # noqa: PLC0415 -- start-up time

    reach_hosts()

    store = run_store(None)
    host = _host(target, inventory)
    done = put_back(host, RunOptions(runs=store.local, out=out), setup=setup)
    if store.shared and store.pending()[0]:
        _push(store, out)
    return done


def collect(
    target: str = DEFAULT_TARGET,
    inventory: str = DEFAULT_INVENTORY,
    runs: str | None = DEFAULT_RUNS,
    out=sys.stdout,
) -> list[dict]:
    """Pull finished or orphaned runs from ``target`` into the run store (a shared
    store: and upload every run still pending)."""
    from labkit.engine.hostops import collect as pull  # noqa: PLC0415 -- start-up time
    from labkit.engine.options import RunOptions  # noqa: PLC0415 -- start-up time

    reach_hosts()

    store = run_store(runs)
    host = _host(target, inventory)
    with writable("--runs", runs, store.local):
        collected = pull(host, RunOptions(runs=store.local, out=out, store=store))
    if store.shared:
        _push(store, out)
    return collected


def push(runs: str | None = DEFAULT_RUNS, out=sys.stdout):
    """Upload the runs a shared store has not received yet (pending after a failed
    upload, or finished by ``invoke restore``); already uploaded ones are skipped."""
    store = run_store(runs)
    if not store.shared:
        raise LabkitError(
            f"--runs {store.spec} is a local folder: nothing to push (push uploads to a "
            "shared store, e.g. --runs s3://bucket/prefix or `runs:` in labkit.yml)"
        )
    result = _push(store, out)
    if result.failed:
        raise Exit(code=1)
    return result


def _push(store: RunStore, out):
    """Upload the pending runs of ``store`` and say what is left."""
    result = store.push(say=lambda m: print(m, file=out))
    waiting = len(result.failed)
    print(
        f"{store.spec}: {len(result.uploaded)} run(s) uploaded, {waiting} still pending"
        + (f" (in {store.local})" if waiting else ""),
        file=out,
    )
    if result.unfinished:
        print(
            f"  {len(result.unfinished)} run(s) not finished yet (running, detached or lost): "
            "`invoke collect --target <host>` finishes and uploads them",
            file=out,
        )
    return result


def import_logs(
    logs: str,
    playbook: str = DEFAULT_PLAYBOOK,
    runs: str | None = DEFAULT_RUNS,
    out=sys.stdout,
    jobs: int | None = None,
) -> list[dict]:
    """Import hand-run ``<experiment>_record.log`` / ``_tegrastats.log`` pairs as runs,
    parsed in ``jobs`` processes (default: one per CPU), each run's metrics stored."""
    from labkit.study.importer import import_logs as run_import  # noqa: PLC0415 -- start-up time

    if logs is None:
        raise LabkitError(
            "--logs is required: the folder with <experiment>_record.log and "
            "<experiment>_tegrastats.log files (e.g. --logs examples/seed-logs)"
        )
    path_arg("--logs", logs, "folder")
    store = run_store(runs)
    pb = load_playbook(playbook)
    if jobs is not None and int(jobs) < 1:
        raise LabkitError(f"--jobs {jobs}: expected a number of processes, 1 or more")
    added = run_import(
        Path(logs),
        pb,
        store.local,
        log=lambda m: print(m, file=out),
        jobs=int(jobs) if jobs is not None else None,
        finish=store_metrics,
    )
    print(f"{len(added)} run(s) imported into {store.local}", file=out)
    if store.shared:
        _push(store, out)
    return added


def report(
    playbook: str = DEFAULT_PLAYBOOK,
    runs: str | None = DEFAULT_RUNS,
    out: str = "reports",
    template: str | None = None,
    include_incomplete: bool = False,
    stdout=sys.stdout,
):
    """Render the investigation report of ``playbook`` from the run store."""
    path_arg("--out", out, "folder")
    store = run_store(runs)
    if template is not None:
        path_arg("--template", template)
    pb = load_playbook(playbook)
    # a shared store's listing and downloads wait on the network (and the store's own
    # CPU): they overlap importing the analysis, which waits on nothing
    stop = threading.Event()  # set if this leaves early (Ctrl-C): the mirror stops too
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="labkit-mirror")
    mirrored = pool.submit(store.read_dir, say=lambda m: print(m, file=stdout), stop=stop)
    pool.shutdown(wait=False)
    try:
        from labkit.report.build import build_report  # noqa: PLC0415 -- start-up time

        runs_dir = mirrored.result()
    except BaseException:
        stop.set()
        raise
    if store.shared:
        waiting, _ = store.pending()
        if waiting:
            print(
                f"  {len(waiting)} run(s) of this workstation not uploaded yet, so not in "
                "this report: `invoke push` uploads them",
                file=stdout,
            )
    before = store.remote.downloads if store.remote is not None else 0
    result = build_report(
        pb,
        runs_dir,
        Path(out),
        template=Path(template) if template else None,
        include_incomplete=include_incomplete,
        log=lambda m: print(m, file=stdout),
        fetch=store.fetch if store.shared else None,
    )
    if store.remote is not None and store.remote.downloads > before:
        print(
            f"{store.spec}: {store.remote.downloads - before} file(s) of the runs the "
            "figures draw (or whose metrics were made by other code) downloaded",
            file=stdout,
        )
    return result


def list_runs(
    runs: str = DEFAULT_RUNS,
    name: str | None = None,
    status: str | None = None,
    since: str | None = None,
    as_json: bool = False,
    out=sys.stdout,
) -> list:
    """List the run store: one row per run (``--json``: one object per run)."""
    from labkit.report import listing  # noqa: PLC0415 -- start-up time

    status, when = listing.status_arg(status), listing.since_arg(since)
    store = run_store(runs)
    log = sys.stderr if as_json else out  # --json: stdout is the JSON alone
    folder = store.read_dir(say=lambda m: print(m, file=log))
    rows = listing.list_store(folder, name, status, when)
    if as_json:
        print(json.dumps(listing.as_json(rows), indent=2), file=out)
        return rows
    if not rows:
        where = "" if folder.is_dir() else " (it does not exist yet)"
        some = " match" if (name or status or since) else ""
        print(f"no runs{some} in {store.spec}{where}", file=out)
        return rows
    for line in listing.table(rows):
        print(line, file=out)
    print(f"{len(rows)} run(s) in {store.spec}", file=out)
    return rows


def batch(
    playbook: str = DEFAULT_PLAYBOOK,
    target: str = DEFAULT_TARGET,
    inventory: str = DEFAULT_INVENTORY,
    runs: str | None = DEFAULT_RUNS,
    only: str | None = None,
    repeat: int | str | None = None,
    order: str = "interleaved",
    seed: int | str | None = None,
    forks: int | str | None = 5,
    fail_fast: bool = False,
    force: bool = False,
    check: bool = False,
    sets: list[str] | None = None,
    out=sys.stdout,
    until_decided: bool = False,
    max_runs: int | str | None = None,
):
    """Run the playbook's experiments x repeats x sweep points on every target host;
    ``until_decided``: in rounds, until the compare checks they reach are decided."""

    from labkit.config.playbook import MAX_REPEATS  # noqa: PLC0415 -- start-up time
    from labkit.engine.batch.expand import expand  # noqa: PLC0415 -- start-up time
    from labkit.engine.batch.fleet import Fleet, table  # noqa: PLC0415 -- start-up time
    from labkit.engine.signals import outlive_hangup  # noqa: PLC0415 -- start-up time
    from labkit.engine.terminal import Lasting  # noqa: PLC0415 -- start-up time
    from labkit.records.store import list_runs as stored_runs  # noqa: PLC0415 -- start-up time

    reach_hosts()

    if until_decided:
        return _until_decided(locals(), max_runs, out)
    if max_runs is not None:
        raise LabkitError("--max-runs goes with --until-decided (or use --repeat N)")
    repeat = number("--repeat", repeat, minimum=1, maximum=MAX_REPEATS)
    seed = number("--seed", seed)
    forks = number("--forks", 5 if forks is None else forks, minimum=1)
    store = run_store(runs)
    if only is not None and not only.strip(" ,"):
        raise LabkitError("--only is empty: expected experiment names (e.g. --only exp1,exp3)")
    pb = load_playbook(playbook)
    inv = load_inventory(inventory)
    if not (target or "").strip():
        raise LabkitError("--target is empty: expected an inventory host or group")
    if not inv.select(target):
        raise LabkitError(
            f"{inv.path}: group {target!r} has no hosts; add hosts under {target}.hosts "
            "or pick another --target (`invoke hosts` lists them)"
        )
    sets_ = parse_set(sets, pb.known_params())
    bp = expand(pb, inv, target, store.local, only, repeat, order, seed, sets_, force)
    reused = sum(sum(h.done.values()) for h in bp.hosts)
    seeded = f" (seed {bp.seed})" if bp.seed is not None else ""
    print(
        f"batch {pb.name}: {len(bp.experiments)} experiment(s) on {len(bp.hosts)} host(s), "
        f"{bp.total} run(s) to do, {reused} already complete; order {bp.order}{seeded}",
        file=out,
    )
    unreadable: list = []
    stored_runs(store.local, unreadable)
    if unreadable:  # they cannot count toward the repeats: say so rather than run silently
        print(
            f"  {len(unreadable)} run(s) in the store could not be read and do not count "
            "(`invoke runs --status unreadable` lists them)",
            file=out,
        )
    if check:
        for hb in bp.hosts:
            done = ", ".join(f"{k} x{v}" for k, v in hb.done.items())
            print(f"  {hb.host}: " + (" ".join(f"{s.experiment}#{s.repeat}" for s in hb.todo)
                                      or "nothing to do"), file=out)  # fmt: skip
            if done:
                print(f"  {hb.host}: already complete: {done}", file=out)
        return bp
    if bp.total == 0:
        print(
            "nothing to do: every run is already in the store (--force runs them again)", file=out
        )
        return bp
    out = Lasting(out)  # a reader that leaves or a terminal that closes never stops a batch
    live = out.isatty() and os.environ.get("TERM") != "dumb"
    with writable("--runs", runs, store.local), outlive_hangup(out):
        fleet = Fleet(bp, inv, store, min(forks, len(bp.hosts)), fail_fast, out, live)
        result = fleet.run()
        out.log_to(result.record.with_suffix(".log"), replay=False)  # the batch log has the rest
        print(_batch_table(table(bp, result.outcomes)), file=out)
        for o in result.failed:
            what = f"{o.run_id} " if o.run_id else ""
            reason = (o.reason or "").strip().replace("\n", "\n      ")
            print(
                f"  FAILED {o.host} {o.experiment} #{o.repeat} {what}({o.status}): {reason}",
                file=out,
            )
        for o in result.not_run:
            print(f"  NOT RUN {o.host} {o.experiment} #{o.repeat}: {o.reason}", file=out)
        print(f"batch record: {result.record}", file=out)
        code, why = batch_exit(result.outcomes, result.stopped)
        if code:
            raise Exit(f"labkit: error: {why}" if why else None, code=code)
    return result


def _until_decided(args: dict, max_runs, out):
    """``batch --until-decided``: rounds of ``batch --repeat k`` until decided."""
    # lazy imports, kept for the CLI's start-up time (the analysis loads pandas and scipy)
    from labkit.config.playbook import MAX_REPEATS  # noqa: PLC0415 -- start-up time
    from labkit.study.until_decided import until_decided  # noqa: PLC0415 -- start-up time

    if args["repeat"] is not None:
        raise LabkitError(
            "--until-decided sets the repeats itself: drop --repeat (or use --max-runs)"
        )
    max_runs = number(
        "--max-runs", 10 if max_runs is None else max_runs, minimum=2, maximum=MAX_REPEATS
    )
    pb = load_playbook(args["playbook"])
    names = [n.strip() for n in (args["only"] or "").split(",") if n.strip()]
    names = names or list(pb.experiments)
    skip = ("until_decided", "max_runs", "repeat", "out")
    rest = {k: args[k] for k in inspect.signature(batch).parameters if k not in skip}

    def round_(k: int):
        return batch(**rest, repeat=k, out=out)

    return until_decided(pb, run_store(args["runs"]).local, names, max_runs, round_, out)


def _batch_table(rows: list[dict]) -> str:
    # what the workload counts (``Workload.tally``: LeRobot's warnings, a command's event)
    what = next((r["counted"] for r in rows if r.get("counted")), "events")
    head = ("host", "experiment", "complete", "failed", "not run", "reused", what, "min Hz")
    cells = [
        (
            r["host"], r["experiment"], str(r["complete"]), str(r["failed"]), str(r["not_run"]),
            str(r["reused"]),
            "—" if r["count"] is None else f"{r['count']:.3g}",
            "—" if r["floor_hz"] is None else f"{r['floor_hz']:.1f}",
        )
        for r in rows
    ]  # fmt: skip
    if not any(r.get("has_floor") for r in rows):  # a workload without a loop rate
        head, cells = head[:-1], [c[:-1] for c in cells]
    widths = [max(len(c[i]) for c in [head, *cells]) for i in range(len(head))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)
