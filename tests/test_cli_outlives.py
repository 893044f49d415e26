"""A run outlives its terminal: a reader that leaves (`| head -1`) or a terminal that hangs
up (SIGHUP) never stops an experiment or a batch. Through the real CLI on the repository's
own simulated Jetson (its work dir moved into tmp), each a few seconds long."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import time

import pytest
import yaml

from tests.conftest import REPO
from tests.labhost import env, invoke_argv, manifests

pytestmark = pytest.mark.slow


@pytest.fixture
def inventory(tmp_path) -> str:
    inv_dir = tmp_path / "inventory"
    shutil.copytree(REPO / "inventory", inv_dir)
    hosts = yaml.safe_load((inv_dir / "hosts.yml").read_text())
    hosts["all"]["children"]["simulated"]["hosts"]["sim"]["labkit_workdir"] = str(tmp_path / "wd")
    (inv_dir / "hosts.yml").write_text(yaml.safe_dump(hosts))
    return str(inv_dir / "hosts.yml")


def _argv(task: str, inventory: str, runs, *more: str) -> list[str]:
    return invoke_argv(
        task, "--inventory", inventory, "--runs", str(runs),
        "--set", "dataset.episode_time_s=3", *more,
    )  # fmt: skip


def _complete_with_its_log(runs) -> tuple[dict, str]:
    [(run_dir, m)] = manifests(runs)
    assert m["status"] == "complete", m.get("error")
    return m, (run_dir / "labkit.log").read_text()


def test_experiment_into_a_reader_that_leaves_goes_on(tmp_path, inventory, fake_home):
    runs = tmp_path / "runs"
    argv = _argv("experiment", inventory, runs, "--name", "exp2b")
    proc = subprocess.Popen(
        argv, cwd=REPO, env=env(fake_home), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout.readline()  # `| head -1`: one line read, then the reader is gone
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=180) == 0, err
    assert err == ""
    m, log = _complete_with_its_log(runs)
    assert "output gone (Broken pipe); the run goes on" in log
    assert f"exp2b {m['run_id']}: complete" in log


def test_experiment_survives_its_terminal_hanging_up(tmp_path, inventory, fake_home):
    runs = tmp_path / "runs"
    master, slave = os.openpty()
    proc = subprocess.Popen(
        _argv("experiment", inventory, runs, "--name", "exp2b"),
        cwd=REPO, env=env(fake_home), stdin=slave, stdout=slave, stderr=slave,
        start_new_session=True,
    )  # fmt: skip
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + 120
    while b" -> " not in seen:  # the run has begun: its run dir is named
        assert time.monotonic() < deadline and proc.poll() is None, seen
        if select.select([master], [], [], 1)[0]:
            seen += os.read(master, 4096)
    os.killpg(proc.pid, signal.SIGHUP)  # the terminal closes: its whole process group
    os.close(master)
    assert proc.wait(timeout=180) == 0
    m, log = _complete_with_its_log(runs)
    assert "the terminal hung up (SIGHUP)" in log
    assert f"exp2b {m['run_id']}: complete" in log
    assert m["remote_status"]["stopped_by"] is None  # the workload ended on its own


def test_batch_into_a_reader_that_leaves_goes_on(tmp_path, inventory, fake_home):
    runs = tmp_path / "runs"
    argv = _argv("batch", inventory, runs, "--only", "exp2b", "--repeat", "1")
    proc = subprocess.Popen(
        argv, cwd=REPO, env=env(fake_home), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=180) == 0, err
    [(_, m)] = manifests(runs)
    assert m["status"] == "complete", m.get("error")
    [record] = (runs / ".batches").glob("*.json")
    assert [o["status"] for o in json.loads(record.read_text())["outcomes"]] == ["complete"]
    log = record.with_suffix(".log").read_text()
    assert "batch record:" in log  # the end table went to the batch log


def test_batch_survives_its_terminal_hanging_up(tmp_path, inventory, fake_home):
    runs = tmp_path / "runs"
    master, slave = os.openpty()
    proc = subprocess.Popen(
        _argv("batch", inventory, runs, "--only", "exp2b", "--repeat", "1"),
        cwd=REPO, env=env(fake_home), stdin=slave, stdout=slave, stderr=slave,
        start_new_session=True,
    )  # fmt: skip
    os.close(slave)
    deadline = time.monotonic() + 120
    while not list(runs.glob("exp2b/*/manifest.json")):  # the run has begun
        assert time.monotonic() < deadline and proc.poll() is None
        if select.select([master], [], [], 0.5)[0]:
            os.read(master, 4096)
    os.killpg(proc.pid, signal.SIGHUP)
    os.close(master)
    assert proc.wait(timeout=180) == 0
    [(_, m)] = manifests(runs)
    assert m["status"] == "complete", m.get("error")
    [record] = (runs / ".batches").glob("*.json")
    assert [o["status"] for o in json.loads(record.read_text())["outcomes"]] == ["complete"]
    assert "batch record:" in record.with_suffix(".log").read_text()
