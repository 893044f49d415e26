"""`invoke batch` end to end: several simulated Jetsons, each behind its own real sshd on
its own loopback port. Checked in the run store, the batch record and on every target."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time

import pytest

from tests.conftest import DATA
from tests.labhost import (
    env,
    governors,
    invoke,
    invoke_argv,
    manifests,
    recording,
    ssh_host,
    trust,
    wait_for,
    write_inventory,
)
from tests.sshd import start_sshd

PB = DATA / "playbooks" / "batch" / "batch.yml"


class Fleet:
    def __init__(self, tmp_path, home, n: int, extra: dict[str, dict] | None = None):
        self.home, self.runs = home, tmp_path / "runs"
        self.servers, self.workdirs, hosts = {}, {}, {}
        for i in range(1, n + 1):
            name = f"h{i}"
            server = start_sshd(tmp_path / f"sshd-{name}")
            trust(home, server)
            self.servers[name], self.workdirs[name] = server, tmp_path / f"wd-{name}"
            hosts[name] = ssh_host(server, self.workdirs[name], **(extra or {}).get(name, {}))
        self.inventory = write_inventory(tmp_path / "hosts.yml", hosts)

    def args(self, *extra: str) -> list[str]:
        return [
            "--playbook", str(PB), "--inventory", str(self.inventory), "--target", "all",
            "--runs", str(self.runs), *extra,
        ]  # fmt: skip

    def batch(self, *extra: str, timeout: float = 240):
        return invoke("batch", *self.args(*extra), home=self.home, timeout=timeout)

    def popen(self, *extra: str) -> subprocess.Popen:
        return subprocess.Popen(
            invoke_argv("batch", *self.args(*extra)),
            env=env(self.home),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    def complete(self, host: str | None = None) -> list[dict]:
        return [
            m
            for _, m in manifests(self.runs)
            if m["status"] == "complete" and host in (None, m["host"]["name"])
        ]

    def untouched(self) -> None:
        """Every host as the batch found it: governors back, no lock, no journal."""
        for wd in self.workdirs.values():
            assert governors(wd) == ["schedutil"] * 14
            assert not (wd / "lock").exists()
            assert not (wd / "state" / "restore.json").exists()

    def stop(self) -> None:
        for s in self.servers.values():
            s.stop()


@pytest.fixture
def fleet_of(tmp_path, fake_home):
    made = []

    def make(n: int, extra: dict[str, dict] | None = None) -> Fleet:
        f = Fleet(tmp_path, fake_home, n, extra)
        made.append(f)
        return f

    yield make
    for f in made:
        f.stop()


def batch_record(fleet: Fleet) -> dict:
    [rec] = sorted((fleet.runs / ".batches").glob("*.json"))[-1:]
    return json.loads(rec.read_text())


@pytest.mark.slow  # over 9 s on 2 cores: the full suite only
def test_repeats_and_a_sweep_on_two_hosts_run_to_completion(fleet_of):
    fleet = fleet_of(2)
    res = fleet.batch("--only", "a,fps", "--repeat", "2")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "6 run(s) to do" not in res.stdout and "12 run(s) to do" in res.stdout
    for host in ("h1", "h2"):
        done = fleet.complete(host)
        assert sorted(m["experiment"] for m in done) == sorted(
            ["a", "a", "fps-fps15", "fps-fps15", "fps-fps20", "fps-fps20"]
        )
        fps = {m["params"]["dataset.fps"] for m in done if m["experiment"].startswith("fps")}
        assert fps == {15, 20}
        # interleaved by default, and the order is in each run's record
        slots = [m["batch"]["slot"] for m in sorted(done, key=lambda m: m["batch"]["index"])]
        assert slots == ["a#1", "fps-fps15#1", "fps-fps20#1", "a#2", "fps-fps15#2", "fps-fps20#2"]
    rec = batch_record(fleet)
    assert rec["state"] == "done" and rec["order"] == "interleaved"
    assert rec["hosts"]["h1"]["runs"][:3] == ["a#1", "fps-fps15#1", "fps-fps20#1"]
    table = res.stdout[res.stdout.index("host  experiment") :].splitlines()
    assert table[0].split() == ["host", "experiment", "complete", "failed", "not", "run",
                                "reused", "warnings", "min", "Hz"]  # fmt: skip
    assert sum(line.split()[0] in ("h1", "h2") for line in table) == 6
    assert all(line.split()[2:5] == ["2", "0", "0"] for line in table[1:7])
    fleet.untouched()
    # the report groups the repeats per experiment and compares the hosts
    out = fleet.runs.parent / "reports"
    rep = invoke("report", "--playbook", str(PB), "--runs", str(fleet.runs), "--out", str(out),
                 home=fleet.home)  # fmt: skip
    assert rep.returncode == 0, rep.stdout + rep.stderr
    text = (out / "batchtest.md").read_text()
    assert "| `fps-fps15` | 4 |" in text  # 2 repeats x 2 hosts
    per_host = text.split("### Per host", 1)[1].split("\n\n", 2)[1]
    assert sum(line.startswith("| `h") for line in per_host.splitlines()) == 6
    # the same batch again: everything is in the store already
    again = fleet.batch("--only", "a,fps", "--repeat", "2")
    assert again.returncode == 0 and "0 run(s) to do, 12 already complete" in again.stdout
    assert "nothing to do" in again.stdout


@pytest.mark.slow  # over 9 s on 2 cores: the full suite only
def test_an_interrupted_batch_resumes_with_only_the_missing_runs(fleet_of):
    fleet = fleet_of(1)
    proc = fleet.popen("--only", "a", "--repeat", "4")
    wait_for(lambda: len(fleet.complete()) >= 2, 120, "two runs complete")
    wait_for(lambda: recording(fleet.workdirs["h1"], "a"), 30, "the third run recording")
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 130, out
    assert "stopping every host" in out
    # the fourth run never started: not run, not failed; the reason is never empty
    assert "NOT RUN h1 a #4: interrupted (" in out and "interrupted ()" not in out
    assert "FAILED h1 a #4" not in out
    statuses = sorted(m["status"] for _, m in manifests(fleet.runs))
    assert statuses.count("interrupted") == 1 and statuses.count("complete") >= 2
    [stopped] = [m for _, m in manifests(fleet.runs) if m["status"] == "interrupted"]
    assert "interrupted" in stopped["error"]
    fleet.untouched()
    have = len(fleet.complete())
    res = fleet.batch("--only", "a", "--repeat", "4")
    assert res.returncode == 0, res.stdout
    assert f"{4 - have} run(s) to do, {have} already complete" in res.stdout
    assert len(fleet.complete()) == 4
    fleet.untouched()


@pytest.mark.slow  # over 9 s on 2 cores: the full suite only
def test_a_host_that_drops_off_fails_alone(fleet_of):
    fleet = fleet_of(2)
    proc = fleet.popen("--only", "slow", "--repeat", "2")
    wait_for(lambda: recording(fleet.workdirs["h2"], "slow"), 60, "h2 recording")
    fleet.servers["h2"].crash()
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode == 3, out  # a host that dropped off: 3, as in experiment
    assert len(fleet.complete("h1")) == 2 and not fleet.complete("h2")
    failures = [line for line in out.splitlines() if line.lstrip().startswith("FAILED")]
    assert len(failures) == 1 and " h2 slow " in failures[0]
    assert "(lost-connection): h2:" in failures[0] and "connection" in failures[0]
    assert "NOT RUN h2 slow #2: host h2 dropped off" in out
    rec = batch_record(fleet)
    assert [o["status"] for o in rec["outcomes"] if o["host"] == "h2"] == [
        "lost-connection",
        "not-run",
    ]
    # h2 keeps recording on its own; once over, `invoke collect`/`restore` finish the job
    wd = fleet.workdirs["h1"]
    assert governors(wd) == ["schedutil"] * 14 and not (wd / "lock").exists()


def test_fail_fast_stops_the_other_hosts_and_restores_them(fleet_of):
    # h2's lerobot-record rejects a flag the plan uses: its run fails within seconds
    bad = {"labkit_sim": {"python": sys.executable, "unsupported_flags": ["dataset.num_episodes"]}}
    fleet = fleet_of(2, {"h2": bad})
    t0 = time.monotonic()
    res = fleet.batch("--only", "slow", "--repeat", "2", "--fail-fast")
    assert res.returncode == 1, res.stdout
    assert time.monotonic() - t0 < 40  # h1's 2 x 8 s did not run out
    h1 = [m for _, m in manifests(fleet.runs) if m["host"]["name"] == "h1"]
    assert [m["status"] for m in h1] == ["interrupted"]
    assert "--fail-fast: slow #1 on h2 failed" in h1[0]["error"]
    changed = [c for c in h1[0]["settings_changes"] if c["applied"]]
    assert changed and all(c["restored"] for c in changed)
    out = res.stdout
    assert "FAILED h2 slow #1" in out and "unrecognized arguments" in out.replace("\n", " ")
    assert "NOT RUN h1 slow #2: --fail-fast" in out and "FAILED h1 slow #2" not in out
    fleet.untouched()


@pytest.mark.slow  # over 9 s on 2 cores: the full suite only
def test_a_busy_host_is_reported_busy_not_dropped_off(fleet_of):
    """h2's lock is held by a live run of another controller: h2's runs are refused as
    busy (said as such), h1 runs its own."""
    fleet = fleet_of(2)
    holder = subprocess.Popen(["sleep", "300"])  # the other controller, alive
    try:
        held = fleet.workdirs["h2"] / "lock"
        held.mkdir(parents=True)
        owner = {"run_id": "other-run", "experiment": "a", "pid": holder.pid,
                 "workstation": socket.gethostname(), "taken_at": "just now"}  # fmt: skip
        (held / "owner.json").write_text(json.dumps(owner))
        res = fleet.batch("--only", "a", "--repeat", "2")
    finally:
        holder.kill()
        holder.wait()
    assert res.returncode == 2, res.stdout  # a busy host: 2, as in experiment
    assert len(fleet.complete("h1")) == 2 and not fleet.complete("h2")
    out = res.stdout
    assert "dropped off" not in out and "unreachable" not in out
    rec = batch_record(fleet)
    first, second = [o for o in rec["outcomes"] if o["host"] == "h2"]
    assert first["status"] == "failed" and first["cause"] == "busy"
    assert first["reason"].startswith("h2 is busy: run other-run (a)")
    assert second["status"] == "not-run" and second["cause"] == "busy"
    assert second["reason"].startswith("host h2 is busy: ")
    assert "FAILED h2 a #1 (failed): h2 is busy: run other-run" in out
    assert "NOT RUN h2 a #2: host h2 is busy: " in out
    assert json.loads((held / "owner.json").read_text())["run_id"] == "other-run"
