"""What labkit costs beyond the recording, against raw ssh and Ansible doing the same steps.

    .venv/bin/python bench/overhead.py [--rounds 7] [--no-ansible] [--baseline CHECKOUT]
                                       [--split-cores] [--shares-cpu] [--plain-shell]

One simulated Jetson behind a real sshd on 127.0.0.1. Every flow does the same thing:
set the CPU governor, start tegrastats, run a 3 s lerobot-record (3 cameras, 30 fps),
stop tegrastats, put the governor back, fetch the logs. Measured, alternating, in the same
run:
  raw-ssh          a shell script: plain `ssh` over one ControlMaster connection (floor)
  ansible          ansible-playbook, gather_facts: false (ansible-core installed into
  ansible+facts    bench/.work/ansible-venv for this benchmark only), and with facts
  labkit           `invoke experiment` (facts, preflight, settings journal, supervisor,
                   restore, pull, parse): a fresh Python process each time
  labkit-baseline  with --baseline: the same from another checkout of labkit (e.g. a
                   `git worktree` of the commit before a change), in the same rounds, so
                   a change to the run path is measured against its baseline on the same
                   (possibly shared) machine at the same time
Overhead = median wall time minus the 3 s recording. Results go to docs/benchmarks.md.

The simulated board stands in for a Jetson across the network, and labkit is told so
(``labkit_shares_cpu: false``): as with a real board it loads the summary's modules
during the recording, at nice 10. ``--shares-cpu`` measures labkit treating it as what it
is, a simulated host on this machine, whose tegrastats would see that import: they then
load when the recording has ended.

Every raw `ssh` command starts a login shell on the board, and bash sources `~/.bashrc`
for a command sshd starts: this machine's runs `pyenv init` (~0.12 s a command), which
raw ssh pays for each of its 7 commands and labkit once (its one shell starts while it
plans). ``--plain-shell`` measures a board whose shell reads no `~/.bashrc` for a command,
as Ubuntu's default returns at once when not interactive (the board's sshd sets
`SHLVL=1`, which bash takes for a nested shell; nobody's `~/.bashrc` is edited).

By default the controller (each flow's own processes) and the simulated board share the
machine's cores, so the controller's CPU slows the board's facts and the recording's
start. ``--split-cores`` pins the board (the sshd and everything it starts) to one core
and the flows to another, as a workstation and a Jetson are two machines.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import venv
from pathlib import Path

import yaml
from lab import RECORD_S, WORK, Lab, append_results, compiled, machine, make_lab

from labkit.config.inventory import Inventory
from labkit.config.plan import resolve
from labkit.config.playbook import load_playbook
from labkit.core.argv import shell

ANSIBLE_VENV = WORK / "ansible-venv"
TARGET_OVER_RAW_S = 0.1  # labkit's overhead at most this much above raw ssh's
TARGET_ANSIBLE_X = 5  # and Ansible's at least this many times labkit's


def record_line(lab: Lab, run_id: str) -> tuple[str, str, str]:
    """(run dir, monitor command, record command) exactly as labkit would run them."""
    plan = resolve(load_playbook(lab.playbook), Inventory(lab.inventory), "bench", "jet1")
    plan.run_id = run_id
    return (
        plan.remote_run_dir,
        shell(plan.probe_launches()[0].shown(plan.remote_run_dir)),
        shell(plan.workload_command()),
    )


def steps(lab: Lab, run_id: str) -> dict[str, str]:
    """The flow's remote commands, shared by the shell script and the Ansible playbook."""
    wd = lab.workdirs["jet1"]
    cpu = wd / "sim/root/sys/devices/system/cpu"
    rd, monitor, record = record_line(lab, run_id)
    path = f"export PATH={shlex.quote(str(wd / 'sim/bin'))}:$PATH"
    saved = shlex.quote(str(wd / "governors.saved"))
    govs = f"{shlex.quote(str(cpu))}/cpu*/cpufreq/scaling_governor"
    return {
        "set": f'for f in {govs}; do echo "$f $(cat $f)"; done > {saved} && '
        f"for f in {govs}; do echo performance > $f; done",
        "start": f"{path}; mkdir -p {shlex.quote(rd)} && cd {shlex.quote(rd)} && "
        f"{{ nohup {monitor} > /dev/null 2>&1 < /dev/null & echo $! > teg.pid; }}",
        "record": f"{path}; cd {shlex.quote(rd)} && {record} > record.log 2>&1",
        "stop": f"kill $(cat {shlex.quote(rd)}/teg.pid)",
        "restore": f"while read f g; do echo $g > $f; done < {saved}",
        "pack": f"cd {shlex.quote(rd)} && tar -czf logs.tgz record.log tegrastats.log",
        "rd": rd,
    }


def ssh_base(lab: Lab, control: Path) -> list[str]:
    s = lab.servers["jet1"]
    return [
        "ssh", "-F", "none", "-i", str(s.key), "-p", str(s.port),
        "-o", f"UserKnownHostsFile={lab.home / '.ssh/known_hosts'}",
        "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "LogLevel=ERROR",
        "-o", f"ControlPath={control}", f"{s.user}@127.0.0.1",
    ]  # fmt: skip


def run_raw(lab: Lab, i: int, out: Path) -> None:
    st = steps(lab, f"raw-{i}")
    control = WORK / f"cm-{i}"
    base = ssh_base(lab, control)
    host = base[-1]
    opts = base[:-1]
    script = "\n".join(
        [
            "set -e",
            f"S=({shlex.join(opts)})",
            f'"${{S[@]}}" -o ControlMaster=yes -o ControlPersist=60 -fN {host}',
            *(f'"${{S[@]}}" {host} {shlex.quote(st[k])}' for k in ("set", "start", "record")),
            f'"${{S[@]}}" {host} {shlex.quote(st["stop"])}',
            f'"${{S[@]}}" {host} {shlex.quote(st["restore"])}',
            f'"${{S[@]}}" {host} {shlex.quote(st["pack"])}',
            f'"${{S[@]}}" {host} cat {shlex.quote(st["rd"] + "/logs.tgz")} | tar -xz -C {out}',
            f'"${{S[@]}}" -O exit {host} 2>/dev/null',
        ]
    )
    subprocess.run(["bash", "-c", script], check=True, env=lab.env())


def ansible_ready() -> Path:
    exe = ANSIBLE_VENV / "bin" / "ansible-playbook"
    if not exe.exists():
        print("installing ansible-core into bench/.work/ansible-venv (once)", flush=True)
        venv.create(ANSIBLE_VENV, with_pip=True)
        subprocess.run([str(ANSIBLE_VENV / "bin/pip"), "install", "-q", "ansible-core"], check=True)
    return exe


def run_ansible(lab: Lab, i: int, out: Path, facts: bool) -> None:
    st = steps(lab, f"ansible-{i}-{int(facts)}")
    s = lab.servers["jet1"]
    base = lab.base / "ansible"
    base.mkdir(exist_ok=True)
    inv = base / "hosts.ini"
    inv.write_text(
        f"jet1 ansible_host=127.0.0.1 ansible_port={s.port} ansible_user={s.user} "
        f"ansible_ssh_private_key_file={s.key} ansible_python_interpreter={sys.executable} "
        f"ansible_ssh_common_args='-o UserKnownHostsFile={lab.home / '.ssh/known_hosts'}'\n"
    )

    tasks = [{"name": k, "ansible.builtin.shell": st[k]} for k in
             ("set", "start", "record", "stop", "restore", "pack")]  # fmt: skip
    tasks.append(
        {
            "name": "fetch",
            "ansible.builtin.fetch": {
                "src": st["rd"] + "/logs.tgz",
                "dest": str(out / "logs.tgz"),
                "flat": True,
            },
        }
    )
    book = base / f"flow-{int(facts)}.yml"
    book.write_text(yaml.safe_dump([{"hosts": "jet1", "gather_facts": facts, "tasks": tasks}]))
    env = {
        **lab.env(),
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_LOCAL_TEMP": str(base / "tmp"),
        "ANSIBLE_SSH_CONTROL_PATH_DIR": str(base / "cp"),
        "ANSIBLE_NOCOLOR": "1",
    }
    subprocess.run(
        [str(ansible_ready()), "-i", str(inv), str(book)],
        check=True,
        env=env,
        capture_output=True,
    )
    subprocess.run(["tar", "-xzf", str(out / "logs.tgz"), "-C", str(out)], check=True)


def run_labkit(
    lab: Lab, i: int, out: Path, checkout: Path | None = None, inventory: Path | None = None
) -> None:
    args = ("experiment", "--name", "bench", "--target", "jet1", "--inventory",
            str(inventory or lab.inventory), "--playbook", str(lab.playbook),
            "--runs", str(out))  # fmt: skip
    if checkout is None:
        res = lab.invoke(*args)
    else:  # that checkout's tasks.py and package
        res = subprocess.run(
            [sys.executable, "-m", "invoke", *args],
            cwd=checkout,
            env={**lab.env(), "PYTHONPATH": str(checkout / "src")},
            capture_output=True,
            text=True,
            timeout=600,
        )
    if res.returncode != 0:
        raise RuntimeError(f"invoke experiment failed:\n{res.stdout}{res.stderr}")


def base_inventory(lab: Lab, checkout: Path) -> Path:
    """The lab's inventory for another checkout: the same board with a work dir of its
    own (each checkout's simulator differs; sharing one, each flow would reinstall it in
    every round, inside the timing) and without the variables that checkout's labkit
    does not know (it refuses them), such as ``labkit_shares_cpu`` before it was."""
    doc = yaml.safe_load(lab.inventory.read_text())
    known = "labkit_shares_cpu" in (checkout / "src/labkit/config/hostvars.py").read_text()
    for name, host in doc["all"]["hosts"].items():
        host["labkit_workdir"] = str(lab.workdirs[name]) + "-baseline"
        if not known:
            host.pop("labkit_shares_cpu", None)
    path = lab.inventory.with_name("hosts-baseline.yml")
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def check_logs(out: Path) -> None:
    logs = list(out.rglob("record.log"))
    if not logs or "Recording episode" not in logs[0].read_text():
        raise RuntimeError(f"no record log came back into {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--no-ansible", action="store_true")
    ap.add_argument("--baseline", type=Path, help="another labkit checkout to time alongside")
    ap.add_argument("--split-cores", action="store_true",
                    help="the board on one core, the controller flows on another")  # fmt: skip
    ap.add_argument("--shares-cpu", action="store_true",
                    help="labkit treats the board as on this machine (the default for a "
                    "simulated host on loopback)")  # fmt: skip
    ap.add_argument("--plain-shell", action="store_true",
                    help="the board's shell reads no ~/.bashrc for a command, as Ubuntu's "
                    "default returns at once when not interactive")  # fmt: skip
    args = ap.parse_args()
    base = WORK / "overhead"
    shutil.rmtree(base, ignore_errors=True)
    lab = make_lab(base, 1, apart=not args.shares_cpu, plain_shell=args.plain_shell)
    if args.split_cores:
        allowed = sorted(os.sched_getaffinity(0))  # the cores this process may use
        if len(allowed) < 2:
            raise SystemExit("--split-cores needs two cores this process may run on")
        board, flows = allowed[-1], allowed[0]
        os.sched_setaffinity(lab.servers["jet1"].proc.pid, {board})  # sessions fork from it
        os.sched_setaffinity(0, {flows})  # the flows are this process's children
    flows = {
        "raw-ssh": lambda i, out: run_raw(lab, i, out),
        "labkit": lambda i, out: run_labkit(lab, i, out),
    }
    if args.baseline is not None:
        base_root = args.baseline.resolve()
        compiled(base_root)
        known = base_inventory(lab, base_root)
        flows["labkit-baseline"] = lambda i, out: run_labkit(lab, i, out, base_root, known)
    if not args.no_ansible:
        ansible_ready()
        flows["ansible"] = lambda i, out: run_ansible(lab, i, out, facts=False)
        flows["ansible+facts"] = lambda i, out: run_ansible(lab, i, out, facts=True)
    walls: dict[str, list[float]] = {k: [] for k in flows}
    # CPU of the flow's own processes on this side (the controller: invoke, ssh,
    # ansible-playbook): unlike wall time, barely moved by other work on a shared machine
    cpus: dict[str, list[float]] = {k: [] for k in flows}
    try:
        for name, flow in flows.items():  # warm-up, unmeasured
            (base / f"warm-{name}").mkdir()
            flow(0, base / f"warm-{name}")
        for i in range(1, args.rounds + 1):
            for name, flow in flows.items():
                out = base / f"{name}-{i}"
                out.mkdir(parents=True)
                for attempt in (1, 2):  # the simulated cameras can time out on a loaded machine
                    t0, c0 = time.perf_counter(), os.times()
                    try:
                        flow(i, out)
                        break
                    except (RuntimeError, subprocess.CalledProcessError) as exc:
                        if attempt == 2:
                            raise
                        print(f"round {i}: {name} failed, run again: {str(exc)[-200:]}")
                        shutil.rmtree(out)
                        out.mkdir(parents=True)
                walls[name].append(time.perf_counter() - t0)
                c1 = os.times()
                cpus[name].append(c1.children_user + c1.children_system
                                  - c0.children_user - c0.children_system)  # fmt: skip
                check_logs(out)
            print(f"round {i}: " + ", ".join(f"{k} {v[-1]:.2f}s" for k, v in walls.items()))
    finally:
        lab.stop()
    over = {k: statistics.median(v) - RECORD_S for k, v in walls.items()}
    rows = [
        "| flow | median wall s | overhead s (wall - 3 s) | min–max wall s | controller CPU s |",
        "|---|---|---|---|---|",
    ]
    for k, v in walls.items():
        rows.append(f"| {k} | {statistics.median(v):.2f} | {over[k]:.2f} | "
                    f"{min(v):.2f}–{max(v):.2f} | {statistics.median(cpus[k]):.2f} |")  # fmt: skip
    # issue 24: a run costs no more than ssh (within 0.1 s), and 5x less than Ansible
    notes = [f"- labkit - raw ssh: **{over['labkit'] - over['raw-ssh']:+.2f} s** "
             f"(target <= +{TARGET_OVER_RAW_S:.1f} s)"]  # fmt: skip
    if "labkit-baseline" in over:
        base, raw = over["labkit-baseline"], over["raw-ssh"]
        notes.append(f"- labkit-baseline - raw ssh: **{base - raw:+.2f} s**; "
                     f"labkit - labkit-baseline: **{over['labkit'] - base:+.2f} s**")  # fmt: skip
        # paired by round (the two ran back to back): less of the machine's load in it
        pairs = [a - b for a, b in zip(walls["labkit"], walls["labkit-baseline"], strict=True)]
        cpu = [a - b for a, b in zip(cpus["labkit"], cpus["labkit-baseline"], strict=True)]
        notes.append(f"- labkit - labkit-baseline in the same round, median of {len(pairs)}: "
                     f"**{statistics.median(pairs):+.2f} s** wall (each: "
                     f"{', '.join(f'{x:+.2f}' for x in pairs)}), "
                     f"**{statistics.median(cpu):+.2f} s** controller CPU")  # fmt: skip
    raw_pairs = [a - b for a, b in zip(walls["labkit"], walls["raw-ssh"], strict=True)]
    notes.append(f"- labkit - raw ssh in the same round, median of {len(raw_pairs)}: "
                 f"**{statistics.median(raw_pairs):+.2f} s** "
                 f"(target <= +{TARGET_OVER_RAW_S:.1f} s)")  # fmt: skip
    if "ansible" in over:
        notes.append(f"- ansible / labkit overhead: **{over['ansible'] / over['labkit']:.1f}x** "
                     f"(target >= {TARGET_ANSIBLE_X:g}x)")  # fmt: skip
        notes.append(f"- ansible+facts / labkit overhead: "
                     f"**{over['ansible+facts'] / over['labkit']:.1f}x**")  # fmt: skip
    notes.append(f"- labkit overhead: **{over['labkit']:.2f} s** beyond the 3 s recording "
                 f"(raw ssh's own: {over['raw-ssh']:.2f} s)")  # fmt: skip
    opts = " --no-ansible" if args.no_ansible else ""
    opts += f" --baseline {args.baseline}" if args.baseline is not None else ""
    opts += " --split-cores" if args.split_cores else ""
    opts += " --shares-cpu" if args.shares_cpu else ""
    opts += " --plain-shell" if args.plain_shell else ""
    load = os.getloadavg()
    body = (
        f"`bench/overhead.py --rounds {args.rounds}{opts}` on {machine()}, load average "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min) at the end. One "
        "simulated Jetson behind a real sshd on 127.0.0.1"
        + (" (the board pinned to one core, the flows to another)" if args.split_cores else "")
        + (
            "; labkit treats it as on this machine (`--shares-cpu`)"
            if args.shares_cpu
            else "; labkit treats it as a board elsewhere (`labkit_shares_cpu: false`)"
        )
        + (
            "; its shell reads no `~/.bashrc` for a command (`--plain-shell`)"
            if args.plain_shell
            else ""
        )
        + "; each flow sets the governor, "
        "starts tegrastats, "
        "records 3 s (3 cameras, 30 fps), stops tegrastats, restores, fetches the logs; "
        "medians over alternating rounds.\n\n" + "\n".join(rows) + "\n\n" + "\n".join(notes)
    )
    print(body)
    print(f"appended to {append_results('overhead', body)}")


if __name__ == "__main__":
    main()
