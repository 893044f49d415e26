"""After the run: a lost connection, `invoke collect`, `invoke restore`, `--detach`, setup-host.

The lost-connection test has its own sshd so it can drop every connection at once and
bring the server back on the same port with the same keys.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from tests.conftest import DATA, REPO
from tests.labhost import (
    env,
    governors,
    invoke,
    invoke_argv,
    manifests,
    recording,
    ssh_host,
    sysctl,
    trust,
    wait_for,
    write_inventory,
)
from tests.sshd import start_sshd

E2E = DATA / "playbooks" / "e2e"


@pytest.fixture
def own_sshd(tmp_path):
    server = start_sshd(tmp_path / "sshd")
    holder = {"server": server}
    yield holder
    holder["server"].stop()


def _lab(server, tmp_path, home):
    trust(home, server)
    pb = tmp_path / "pb"
    shutil.copytree(E2E, pb)
    wd = tmp_path / "wd"
    inv = write_inventory(tmp_path / "hosts.yml", {"simthor": ssh_host(server, wd)})
    base = ["--target", "simthor", "--inventory", str(inv), "--playbook", str(pb / "e2e.yml")]
    return wd, tmp_path / "runs", base


def run_done(wd, experiment: str) -> bool:
    rds = sorted((wd / "runs" / experiment).glob("*/status.json"))
    return bool(rds) and json.loads(rds[-1].read_text()).get("state") == "done"


@pytest.mark.slow  # over 9 s on 2 cores: the full suite only
def test_lost_connection_then_collect_and_restore(own_sshd, tmp_path, fake_home):
    server = own_sshd["server"]
    wd, runs, base = _lab(server, tmp_path, fake_home)
    argv = invoke_argv(
        "experiment", *base, "--runs", str(runs), "--name", "long",
        "--set", "dataset.episode_time_s=8",
    )  # fmt: skip
    proc = subprocess.Popen(
        argv, cwd=REPO, env=env(fake_home), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        wait_for(lambda: recording(wd, "long"), 120, "the recording to start")
        server.crash()
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 3, out + err
    assert "connection lost" in out and "invoke collect --target simthor" in out
    [(run_dir, m)] = manifests(runs)
    assert m["status"] == "lost-connection"
    # the recording went on without labkit; settings stay changed until restored
    assert governors(wd) == ["performance"] * 14
    own_sshd["server"] = server = start_sshd(server.dir, port=server.port)
    res = invoke("restore", *base, home=fake_home)
    if res.returncode == 2:  # still recording: restore refuses, changes nothing
        assert "still running" in res.stderr
        assert governors(wd) == ["performance"] * 14
        wait_for(lambda: run_done(wd, "long"), 60, "the orphaned run to finish")
        res = invoke("restore", *base, home=fake_home)  # (it may have ended just before)
    assert res.returncode == 0, res.stdout + res.stderr + (wd / "lock/owner.json").read_text()
    assert "restored cpu_governor" in res.stdout
    assert governors(wd) == ["schedutil"] * 14 and sysctl(wd, "vm.swappiness") == "60"
    assert not (wd / "lock").exists()
    res = invoke("collect", *base, "--runs", str(runs), home=fake_home)
    assert res.returncode == 0, res.stdout + res.stderr
    [(run_dir, m)] = manifests(runs)
    assert m["status"] == "complete", m.get("error")
    assert m["summary"]["episodes"] == 1 and m["summary"]["samples"] >= 5
    assert "Stop recording" in (run_dir / "record.log").read_text()
    # collecting again finds nothing new and keeps the record
    again = invoke("collect", *base, "--runs", str(runs), home=fake_home)
    assert "nothing to collect" in again.stdout
    assert manifests(runs)[0][1] == m


def test_detach_then_collect_restores(sshd, tmp_path, fake_home):
    wd, runs, base = _lab(sshd, tmp_path, fake_home)
    res = invoke(
        "experiment", *base, "--runs", str(runs), "--name", "short", "--detach",
        home=fake_home,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    [(_, m)] = manifests(runs)
    assert m["status"] == "detached"
    wait_for(lambda: run_done(wd, "short"), 60, "the detached run to finish")
    assert governors(wd) == ["performance"] * 14  # kept until collected
    res = invoke("collect", *base, "--runs", str(runs), home=fake_home)
    assert res.returncode == 0, res.stdout + res.stderr
    [(_, m)] = manifests(runs)
    assert m["status"] == "complete" and m.get("restored_at")
    assert all(c["restored"] for c in m["settings_changes"] if c["apply"])
    assert governors(wd) == ["schedutil"] * 14 and not (wd / "lock").exists()


@pytest.mark.slow  # over 9 s on 2 cores: the full suite only
def test_setup_host_keeps_settings_and_next_run_leaves_them(sshd, tmp_path, fake_home):
    wd, runs, base = _lab(sshd, tmp_path, fake_home)
    fresh = invoke("setup-host", *base, "--check", home=fake_home)  # --check installs nothing
    assert fresh.returncode == 2 and "not installed" in fresh.stderr, fresh.stderr
    assert not wd.exists()
    assert invoke("facts", *base, home=fake_home).returncode == 0  # installs the simulator
    check = invoke("setup-host", *base, "--check", home=fake_home)
    assert check.returncode == 0, check.stderr
    assert "would change" in check.stdout and "-> performance" in check.stdout
    res = invoke("setup-host", *base, home=fake_home)
    assert res.returncode == 0, res.stdout + res.stderr
    assert governors(wd) == ["performance"] * 14 and sysctl(wd, "vm.swappiness") == "10"
    rules = wd / "sim/root/etc/udev/rules.d/99-labkit-cameras.rules"
    assert 'SYMLINK+="labkit-left_wrist"' in rules.read_text()
    # a run wanting the same settings changes nothing and so restores nothing
    res = invoke("experiment", *base, "--runs", str(runs), "--name", "short", home=fake_home)
    assert res.returncode == 0, res.stdout + res.stderr
    [(_, m)] = manifests(runs)
    assert not any(c["apply"] for c in m["settings_changes"])
    assert governors(wd) == ["performance"] * 14 and rules.exists()


def test_restore_setup_undoes_setup_host(tmp_path, fake_home):
    """setup-host twice, then `restore --setup`: back to the values before the first."""
    wd = tmp_path / "wd"
    host = {"ansible_connection": "local", "labkit_simulate": True, "labkit_workdir": str(wd)}
    inv = write_inventory(tmp_path / "hosts.yml", {"sim": host})
    base = ["--inventory", str(inv), "--name", "exp7"]
    first = invoke("setup-host", *base, "--set", "settings.cpu_governor=performance",
                   home=fake_home)  # fmt: skip
    assert first.returncode == 0, first.stdout + first.stderr
    assert "invoke restore --setup --target sim" in first.stdout
    second = invoke(
        "setup-host", *base, "--set", "settings.cpu_governor=powersave",
        "--set", "settings.sysctl.vm.swappiness=10", home=fake_home,
    )  # fmt: skip
    assert second.returncode == 0, second.stdout + second.stderr
    assert governors(wd) == ["powersave"] * 14 and sysctl(wd, "vm.swappiness") == "10"
    plain = invoke("restore", "--inventory", str(inv), home=fake_home)
    assert "no settings left changed" in plain.stdout and governors(wd) == ["powersave"] * 14
    res = invoke("restore", "--setup", "--inventory", str(inv), home=fake_home)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "restored cpu_governor -> schedutil" in res.stdout
    assert governors(wd) == ["schedutil"] * 14 and sysctl(wd, "vm.swappiness") == "60"
    again = invoke("restore", "--setup", "--inventory", str(inv), home=fake_home)
    assert "no setup-host settings to put back" in again.stdout


@pytest.mark.slow  # three invoke tasks, the first installing the simulator: ~20 s
def test_host_tasks_need_no_playbook(tmp_path, fake_home):
    """`invoke facts` and `invoke restore` run no workload, so they read no playbook (run
    here from a folder without one): the simulated Jetson's LeRobot version comes from the
    host's own variables, else the simulator's default."""
    wd = tmp_path / "wd"
    host = {"ansible_connection": "local", "labkit_simulate": True, "labkit_workdir": str(wd)}
    inv = write_inventory(
        tmp_path / "hosts.yml", {"old": {**host, "labkit_lerobot_version": "0.3.3"}}
    )
    bare = tmp_path / "elsewhere"
    bare.mkdir()

    def task(*args: str) -> subprocess.CompletedProcess:
        argv = invoke_argv("--search-root", str(REPO), *args, "--inventory", str(inv))
        return subprocess.run(
            argv, cwd=bare, env=env(fake_home), capture_output=True, text=True, timeout=240
        )

    res = task("facts", "--target", "old", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout)["lerobot"]["version"] == "0.3.3"
    res = task("restore", "--target", "old")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "old: no settings left changed" in res.stdout
    write_inventory(inv, {"plain": host})  # the same simulator, no version of its own
    res = task("facts", "--target", "plain", "--json")
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout)["lerobot"]["version"] == "0.4.4"
    assert not (bare / "playbooks").exists()
