"""One checkout, one simulator work dir and one run store: nothing shared with another
checkout on the same machine (issue 14)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from labkit.config.hostvars import host_config
from labkit.config.inventory import Inventory
from labkit.remote.connect import open_host
from labkit.sim import deploy
from tests.conftest import REPO
from tests.labhost import invoke, manifests, ssh_host, trust, write_inventory


def test_the_default_simulator_work_dir_is_per_checkout(tmp_path):
    mine = deploy.default_workdir()
    assert mine == deploy.default_workdir(REPO)  # stable, from this checkout's path
    assert deploy.default_workdir(tmp_path / "other-checkout") != mine
    assert mine != "/tmp/labkit-sim" and Path(mine).is_absolute()
    # as the README says: the first 10 hex digits of the SHA-256 of the checkout's path
    digest = hashlib.sha256(str(REPO.resolve()).encode()).hexdigest()[:10]
    assert mine == f"/tmp/labkit-sim-{digest}"
    # the shipped `sim` host uses it (no work dir of its own in the inventory)
    host = host_config(Inventory(REPO / "inventory/hosts.yml"), "sim")
    hs = open_host(host, defer_sim=True)
    try:
        assert hs.workdir == mine
    finally:
        hs.close()


def test_plan_shows_where_the_simulated_host_keeps_its_files(fake_home):
    """`invoke plan` names the work dir a run will use, not the ~/labkit default."""
    res = invoke("plan", "--name", "exp2b", home=fake_home)
    assert res.returncode == 0, res.stderr
    remote = next(line for line in res.stdout.splitlines() if line.strip().startswith("remote"))
    assert f"{deploy.default_workdir()}/runs/exp2b/<run-id>/" in remote
    assert "~/labkit" not in res.stdout


def test_collect_takes_only_the_runs_this_store_started(sshd, tmp_path, fake_home):
    """Two checkouts (two run stores) drive the same host: each collect takes its own."""
    trust(fake_home, sshd)
    wd = tmp_path / "wd"
    inv = write_inventory(tmp_path / "hosts.yml", {"simthor": ssh_host(sshd, wd)})
    pb = REPO / "tests/data/playbooks/e2e/e2e.yml"
    common = ("--target", "simthor", "--inventory", str(inv), "--playbook", str(pb))
    mine, other = tmp_path / "runs-mine", tmp_path / "runs-other"
    res = invoke("experiment", *common, "--name", "short", "--runs", str(other), home=fake_home)
    assert res.returncode == 0, res.stdout + res.stderr
    [(_, theirs)] = manifests(other)
    assert (wd / "runs" / "short" / theirs["run_id"] / "run.json").exists()  # still there
    res = invoke("collect", *common, "--runs", str(mine), home=fake_home)
    assert res.returncode == 0, res.stdout + res.stderr
    assert manifests(mine) == []
    assert "nothing to collect" in res.stdout
