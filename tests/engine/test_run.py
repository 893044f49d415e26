"""The experiment engine end to end: `invoke experiment` over a real sshd to a simulated Jetson.

Each test runs labkit as a user would (a subprocess of ``python -m invoke``) and then checks
the run store *and* the target: settings back in the simulated sysfs, no process left,
no lock, no journal.
"""

from __future__ import annotations

import json
import shlex
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import yaml

from labkit.analysis.runs import analysis_version, compute_metrics
from labkit.parse import read_tegrastats
from labkit.records.metrics_cache import input_sizes, json_value, read_stored
from labkit.records.model import read_record
from labkit.workloads.lerobot.log import read_record_log
from tests.conftest import DATA, REPO
from tests.labhost import (
    alive,
    env,
    governors,
    invoke,
    invoke_argv,
    manifests,
    power_state,
    recording,
    remote_run_dirs,
    ssh_host,
    sysctl,
    trust,
    wait_for,
    write_inventory,
)
from tests.sshd import start_sshd

E2E = DATA / "playbooks" / "e2e"


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("thor-sim")


@pytest.fixture
def lab(sshd, workdir, tmp_path, fake_home):
    """A playbook copy, an inventory with host `simthor` behind the sshd, a run store."""
    trust(fake_home, sshd)
    pb_dir = tmp_path / "pb"
    shutil.copytree(E2E, pb_dir)
    pwned = tmp_path / "PWNED"
    doc = yaml.safe_load((pb_dir / "e2e.yml").read_text())
    doc["record"]["dataset"]["single_task"] = doc["record"]["dataset"]["single_task"].replace(
        "PWNED", str(pwned)
    )
    (pb_dir / "e2e.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    inv = write_inventory(tmp_path / "hosts.yml", {"simthor": ssh_host(sshd, workdir)})

    class Lab:
        home = fake_home
        runs = tmp_path / "runs"
        playbook = pb_dir / "e2e.yml"
        inventory = inv
        task = doc["record"]["dataset"]["single_task"]
        injected = pwned

        def args(self, *extra: str) -> list[str]:
            return [
                "--target", "simthor",
                "--inventory", str(self.inventory),
                "--playbook", str(self.playbook),
                *extra,
            ]  # fmt: skip

        def run(self, task: str, *extra: str, timeout: float = 240):
            runs = ("--runs", str(self.runs)) if task in ("experiment", "collect") else ()
            return invoke(task, *self.args(*runs, *extra), home=self.home, timeout=timeout)

    return Lab()


def untouched(workdir) -> None:
    """The target as labkit found it: settings back, no lock, no journal, no rules file."""
    assert power_state(workdir) == (
        "1",
        "cpu0:  Governor=schedutil MinFreq=972000 MaxFreq=2601000 ",
    )
    assert governors(workdir) == ["schedutil"] * 3 + ["powersave"] + ["schedutil"] * 10
    assert sysctl(workdir, "vm.swappiness") == "60"
    assert not (workdir / "lock").exists()
    assert not (workdir / "state" / "restore.json").exists()
    rules = workdir / "sim" / "root" / "etc/udev/rules.d/99-labkit-cameras.rules"
    assert not rules.exists()


def prepare(lab, workdir) -> None:
    """Provision the simulator (via `invoke facts`) and give cpu3 its own governor."""
    res = lab.run("facts", "--json")
    assert res.returncode == 0, res.stderr
    facts = json.loads(res.stdout)
    assert facts["cpu"]["count"] == 14 and facts["lerobot"]["version"] == "0.4.4"
    gov = workdir / "sim/root/sys/devices/system/cpu/cpu3/cpufreq/scaling_governor"
    gov.write_text("powersave\n")


def test_full_run_over_one_ssh_connection_records_and_restores(lab, sshd, workdir):
    prepare(lab, workdir)
    udev = workdir / "sim/root/run/udev/calls.log"
    seen = udev.read_text() if udev.exists() else ""
    before = sshd.accepted()
    res = lab.run("experiment", "--name", "short")
    assert res.returncode == 0, res.stdout + res.stderr
    # the connection opened while labkit planned is the run's (the one connection; sshd
    # logs it as it lets it in, before any command runs)
    assert sshd.accepted() - before == 1
    assert res.stdout.count("simthor: connecting (") == 1
    assert "complete" in res.stdout and "slow-loop warnings" in res.stdout
    [(run_dir, m)] = manifests(lab.runs)
    assert m["status"] == "complete" and m["experiment"] == "short"
    assert m["facts"]["cpu"]["cpus"]["3"]["governor"] == "powersave"
    assert m["remote_status"]["workload_exit"] == 0
    changes = {c["key"]: c for c in m["settings_changes"]}
    assert changes["cpu_governor"]["before"]["3"] == "powersave"
    assert changes["cpu_governor"]["after"] == "performance"
    assert all(c["applied"] and c["restored"] for c in changes.values())
    assert set(changes) == {
        "nvpmodel",
        "jetson_clocks",
        "cpu_governor",
        "sysctl vm.swappiness",
        "file /etc/udev/rules.d/99-labkit-cameras.rules",
    }
    untouched(workdir)
    # the rules were reloaded when placed and again when removed (the file's after_change)
    reload = ["control --reload-rules", "trigger --subsystem-match=video4linux"]
    assert udev.read_text()[len(seen) :].splitlines() == reload * 2
    # logs came back whole and parse
    for name, size in m["files"].items():
        assert (run_dir / name).stat().st_size == size
    teg = read_tegrastats(run_dir / "tegrastats.log")
    assert len(teg) >= 2 and teg.attrs["skipped"] == 0
    events = read_record_log(run_dir / "record.log")
    assert "episode_start" in set(events["kind"]) and "codec" in set(events["kind"])
    assert m["summary"]["samples"] == len(teg)
    # the governor really was performance while recording (tegrastats saw pinned clocks)
    assert (run_dir / "tegrastats.parquet").exists()
    # the task text reached lerobot-record literally; nothing in it ran
    task = json.loads((run_dir / "dataset/meta/tasks.jsonl").read_text())["task"]
    assert task == lab.task
    assert not lab.injected.exists()
    assert m["commands"]["workload_argv"][0] == "lerobot-record"
    assert f"--dataset.single_task={lab.task}" in m["commands"]["workload_argv"]
    # its metrics, stored as it was collected: the ones a report would compute, valid
    # for this code and these files (a report reads them instead of the logs)
    stored = read_stored(run_dir)
    assert stored is not None, "no metrics.json beside the run"
    assert stored["version"] == analysis_version()
    assert stored["inputs"] == input_sizes(run_dir)
    fresh = compute_metrics(run_dir, read_record(run_dir / "manifest.json"))
    assert json.dumps(stored["metrics"], sort_keys=True) == json.dumps(
        fresh, sort_keys=True, default=json_value
    )


def test_check_prints_changes_and_touches_nothing(lab, workdir):
    prepare(lab, workdir)
    res = lab.run("experiment", "--name", "short", "--check")
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert "cpu_governor: {schedutil x13, powersave x1} -> performance" in out or (
        "cpu_governor" in out and "-> performance" in out
    )
    assert "sysctl vm.swappiness: 60 -> 10" in out
    assert '+KERNEL=="video0", SUBSYSTEM=="video4linux", SYMLINK+="labkit-context"' in out
    assert "$ install -m 0644" in out
    assert "$ udevadm control --reload-rules && udevadm trigger" in out
    assert "record:  lerobot-record" in out
    untouched(workdir)
    assert not lab.runs.exists()


def test_failing_record_is_failed_with_its_output_and_host_restored(lab, sshd, tmp_path):
    wd = tmp_path / "old-build"
    host = ssh_host(sshd, wd, labkit_sim={"unsupported_flags": ["dataset.streaming_encoding"]})
    write_inventory(lab.inventory, {"simthor": host})
    res = lab.run("experiment", "--name", "short")
    assert res.returncode == 1, res.stdout + res.stderr
    assert "failed" in res.stdout
    assert "lerobot-record exited 2" in res.stdout
    assert "unrecognized arguments: --dataset.streaming_encoding" in res.stdout
    [(_, m)] = manifests(lab.runs)
    assert m["status"] == "failed" and "unrecognized arguments" in m["error"]
    assert all(c["restored"] for c in m["settings_changes"] if c["apply"])
    assert governors(wd) == ["schedutil"] * 14 and sysctl(wd, "vm.swappiness") == "60"
    assert not (wd / "lock").exists()
    assert not alive(m["probes"]["tegrastats"]["pid"])


def test_second_run_refused_then_ctrl_c_stops_and_restores(lab, workdir):
    prepare(lab, workdir)
    proc = subprocess.Popen(
        invoke_argv("experiment", *lab.args("--runs", str(lab.runs), "--name", "long")),
        cwd=REPO,
        env=env(lab.home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        rd = wait_for(lambda: recording(workdir, "long"), 60, "the recording to start")
        assert governors(workdir) == ["performance"] * 14
        # a second run on the same host is refused and changes nothing
        second = lab.run("experiment", "--name", "short")
        assert second.returncode == 2
        assert "simthor is busy" in second.stderr and "long" in second.stderr
        assert governors(workdir) == ["performance"] * 14
        status = json.loads((rd / "status.json").read_text())
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out + err
    [(run_dir, m)] = manifests(lab.runs)
    assert m["status"] == "interrupted"
    assert m["remote_status"]["stopped_by"] == "request"
    assert m["remote_status"]["workload_exit"] is not None
    for pid in (
        status["workload_pid"],
        status["probes"]["tegrastats"]["pid"],
        status["supervisor_pid"],
    ):
        assert not alive(pid), pid
    untouched(workdir)
    # the partial logs came back
    log = (run_dir / "record.log").read_text()
    assert "Recording episode 0" in log
    assert read_tegrastats(run_dir / "tegrastats.log").attrs["skipped"] == 0


@pytest.mark.slow
def test_readme_main_job_on_the_local_simulated_jetson(tmp_path, fake_home):
    """The README's first command, on the repository's own inventory and playbook
    (only the work dir moved into tmp and the episode shortened)."""
    readme = (REPO / "README.md").read_text()
    assert ".venv/bin/invoke experiment --name exp2b\n" in readme
    inv_dir = tmp_path / "inventory"
    shutil.copytree(REPO / "inventory", inv_dir)
    hosts = yaml.safe_load((inv_dir / "hosts.yml").read_text())
    hosts["all"]["children"]["simulated"]["hosts"]["sim"]["labkit_workdir"] = str(tmp_path / "wd")
    (inv_dir / "hosts.yml").write_text(yaml.safe_dump(hosts))
    runs = tmp_path / "runs"
    res = invoke(
        "experiment", "--name", "exp2b", "--inventory", str(inv_dir / "hosts.yml"),
        "--runs", str(runs), "--set", "dataset.episode_time_s=3", home=fake_home,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    [(run_dir, m)] = manifests(runs)
    assert m["status"] == "complete" and m["host"]["connection"].startswith("local")
    assert m["params"]["dataset.fps"] == 20
    assert m["summary"]["target_hz"] in (20, 20.0, None)
    events = read_record_log(run_dir / "record.log")
    assert (events["kind"] == "episode_start").sum() == 1
    assert m["playbook"]["name"] == "lerobot-loop-lag" and len(m["playbook"]["sha256"]) == 64

    # ... followed by `invoke report`: the Markdown with its figures and data beside it
    out = tmp_path / "reports"
    res = invoke("report", "--runs", str(runs), "--out", str(out), home=fake_home)
    assert res.returncode == 0, res.stdout + res.stderr
    # the verdicts and the recommendation are on the terminal, not only in the file
    lines = res.stdout.splitlines()
    verdicts = lines[lines.index("verdicts:") + 1 :]
    assert verdicts[0].startswith("  H1 ") and any(v.startswith("  H2 ") for v in verdicts)
    assert any(line.startswith("recommendation: ") for line in lines)
    text = (out / "lerobot-loop-lag.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `exp2b` | 1 |"))
    assert f"| {m['summary']['warnings']} |" in row
    # a run without warnings gets a sentence instead of an empty warnings chart
    warned = bool(m["summary"]["warnings"])
    figure = "![Bar chart of slow-loop warnings per minute" if warned else "No warnings in any run"
    assert figure in text
    assert (out / "lerobot-loop-lag" / "warnings.png").exists() is warned
    assert "![Heatmap of per-core CPU load" in text
    assert (out / "lerobot-loop-lag" / "cpu-heatmap.png").read_bytes()[:4] == b"\x89PNG"
    assert "Not run yet: `exp1`" in text


def dead_run_left(workdir, run_id: str = "19700101T000000Z-simthor-dead") -> None:
    """What a run that died hard leaves: every governor at performance and its journal."""
    base = workdir / "sim/root/sys/devices/system/cpu"
    paths = [str(base / f"cpu{i}/cpufreq/scaling_governor") for i in range(14)]
    before = {str(i): "powersave" if i == 3 else "schedutil" for i in range(14)}
    for p in paths:
        Path(p).write_text("performance\n")
    others = " ".join(shlex.quote(p) for p in paths if "cpu3/" not in p)
    undo = [
        f"printf '%s\\n' schedutil | tee {others} > /dev/null",
        f"printf '%s\\n' powersave > {shlex.quote(paths[3])}",
    ]
    journal = {
        "run_id": run_id,
        "changes": [{"key": "cpu_governor", "before": before, "undo": undo, "sudo": True}],
    }
    (workdir / "state").mkdir(exist_ok=True)
    (workdir / "state" / "restore.json").write_text(json.dumps(journal))


def test_a_dead_runs_settings_are_put_back_before_facts_and_plan(lab, workdir):
    prepare(lab, workdir)
    dead_run_left(workdir)
    res = lab.run("experiment", "--name", "short")
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout
    assert out.index("putting back settings left changed by run") < out.index("cpu_governor")
    assert "performance (unchanged)" not in out
    [(_, m)] = manifests(lab.runs)
    # the host's state is what the dead run's journal put back, not what it left
    assert m["facts"]["cpu"]["governors"] == ["powersave", "schedutil"]
    gov = next(c for c in m["settings_changes"] if c["key"] == "cpu_governor")
    assert gov["before"]["3"] == "powersave" and gov["before"]["0"] == "schedutil"
    assert gov["applied"] and gov["restored"]
    untouched(workdir)


@pytest.mark.slow  # over 9 s on 2 cores: the full suite only
def test_a_run_killed_hard_does_not_jam_the_host(lab, workdir):
    """The controller SIGKILLed mid-recording: the next run clears the dead run's lock,
    puts its settings back, completes, and the dead run's record says what happened."""
    prepare(lab, workdir)
    argv = invoke_argv(
        "experiment",
        *lab.args("--runs", str(lab.runs), "--name", "short", "--set", "dataset.episode_time_s=6"),
    )
    earlier = set(remote_run_dirs(workdir, "short"))  # the module's other tests' runs

    def recording_now():
        for rd in set(remote_run_dirs(workdir, "short")) - earlier:
            log = rd / "record.log"
            if log.exists() and "Recording episode" in log.read_text(errors="replace"):
                return rd
        return None

    proc = subprocess.Popen(argv, cwd=REPO, env=env(lab.home), stdout=subprocess.DEVNULL)
    try:
        rd = wait_for(recording_now, 60, "the recording to start")
        assert governors(workdir) == ["performance"] * 14
    finally:
        proc.kill()
        proc.wait(timeout=30)
    status = wait_for(
        lambda: (s := json.loads((rd / "status.json").read_text()))["state"] == "done" and s,
        60,
        "the orphaned recording to end",
    )
    wait_for(lambda: not alive(status["supervisor_pid"]), 30, "the supervisor to exit")
    assert (workdir / "lock").exists() and governors(workdir) == ["performance"] * 14

    res = lab.run("experiment", "--name", "short")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "clearing a finished run's lock" in res.stdout
    runs = {m["run_id"]: m for _, m in manifests(lab.runs)}
    dead, new = runs.pop(rd.name), next(iter(runs.values()))
    assert new["status"] == "complete"
    assert new["facts"]["cpu"]["governors"] == ["powersave", "schedutil"]
    untouched(workdir)
    # the dead run's record no longer claims to be running; its settings are marked back
    assert dead["status"] == "lost-connection"
    assert "controller" in dead["error"] and new["run_id"] in dead["error"]
    applied = [c for c in dead["settings_changes"] if c["applied"]]
    assert {c["key"] for c in applied} >= {"cpu_governor", "sysctl vm.swappiness"}
    assert all(c["restored"] for c in applied)
    assert dead["restored_by"] == new["run_id"]


def test_a_lock_still_being_taken_is_not_taken_over(lab, workdir):
    """A lock folder without its owner yet (another controller between mkdir and owner)
    is busy, not abandoned: the run is refused and the lock left as it is."""
    prepare(lab, workdir)
    (workdir / "lock").mkdir()
    try:
        res = lab.run("experiment", "--name", "short")
        assert res.returncode == 2, res.stdout + res.stderr
        assert "simthor is busy" in res.stderr
        assert (workdir / "lock").is_dir() and not any((workdir / "lock").iterdir())
        assert governors(workdir) == ["schedutil"] * 3 + ["powersave"] + ["schedutil"] * 10
        assert not lab.runs.exists()
    finally:
        (workdir / "lock").rmdir()


def test_facts_after_are_gathered_once_the_host_is_restored(lab, workdir):
    prepare(lab, workdir)
    args = lab.args("--runs", str(lab.runs), "--name", "short")
    res = invoke("experiment", *args, home=lab.home, LABKIT_TRACE="1")
    assert res.returncode == 0, res.stdout + res.stderr
    [(_, m)] = manifests(lab.runs)
    before, after = m["facts"], m["facts_after"]
    assert set(after) == set(before)
    # the run's plug-ins' facts (LeRobot's, tegrastats'), not another kind's (GStreamer's)
    assert before["lerobot"]["version"] and "tegrastats" in before
    assert "gstreamer" not in before and "pyspy" not in before
    # taken after the restore: the governors as they were before the run, not performance
    assert after["cpu"]["governors"] == before["cpu"]["governors"] == ["powersave", "schedutil"]
    assert after["nvpmodel"]["id"] == before["nvpmodel"]["id"] == 1
    # in the unlock round trip, not a command of its own (the facts between: gathered
    # again after `nvpmodel -m`, which resets the CPU clocks, to plan the rest again)
    trace = [line for line in res.stderr.splitlines() if line.startswith("[labkit trace]")]
    facts = [line for line in trace if "mktemp -d" in line or "facts" in line]
    assert len(facts) == 3, trace
    assert "facts after the restore + unlock" in facts[2]


@pytest.mark.slow  # over 9 s on 2 cores: the full suite only
def test_a_run_on_a_server_without_sftp(lab, tmp_path, fake_home):
    """A minimal image's sshd without the SFTP subsystem: the simulator install, the run
    spec and the logs all travel through the shell, and the run completes."""

    server = start_sshd(tmp_path / "sshd-nosftp", sftp=False)
    try:
        trust(fake_home, server)
        wd = tmp_path / "wd"
        write_inventory(lab.inventory, {"simthor": ssh_host(server, wd)})
        res = lab.run("experiment", "--name", "short")
        assert res.returncode == 0, res.stdout + res.stderr
        [(run_dir, m)] = manifests(lab.runs)
        assert m["status"] == "complete" and m["summary"]["samples"] >= 2
        for name, size in m["files"].items():
            assert (run_dir / name).stat().st_size == size
        assert governors(wd) == ["schedutil"] * 14 and not (wd / "lock").exists()
    finally:
        server.stop()
