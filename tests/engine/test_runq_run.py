"""The runq probe end to end: a loop that shares its CPU with busy processes waits for it
(a batch and a report on the local simulated Jetson, decided by a check), and exp9
(exp1 with runq) over a real sshd."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from labkit.records.store import list_runs
from tests.conftest import DATA, REPO
from tests.labhost import invoke, manifests, ssh_host, trust, write_inventory
from tests.report.test_build import summary_rows

pytestmark = pytest.mark.slow
CONTENTION = DATA / "probes" / "runq"


def local_inventory(tmp_path):
    inv_dir = tmp_path / "inventory"
    shutil.copytree(REPO / "inventory", inv_dir)
    hosts = yaml.safe_load((inv_dir / "hosts.yml").read_text())
    hosts["all"]["children"]["simulated"]["hosts"]["sim"]["labkit_workdir"] = str(tmp_path / "wd")
    (inv_dir / "hosts.yml").write_text(yaml.safe_dump(hosts))
    return inv_dir / "hosts.yml"


def test_a_loop_sharing_its_cpu_waits_for_it_decided_by_a_check(tmp_path, fake_home):
    if shutil.which("taskset") is None:
        pytest.skip("taskset (util-linux) is not installed")
    pb_dir = tmp_path / "pb"
    shutil.copytree(CONTENTION, pb_dir)  # the loop script is copied, not linked
    pb = str(pb_dir / "contention.yml")
    runs, out = tmp_path / "runs", tmp_path / "out"
    common = ("--playbook", pb, "--inventory", str(local_inventory(tmp_path)))
    res = invoke("batch", *common, "--runs", str(runs), home=fake_home, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    done = {m.experiment: (d, m) for d, m in list_runs(runs)}
    assert set(done) == {"alone", "shared"}
    for run_dir, m in done.values():
        assert m.status == "complete", m.error
        assert m.probes["runq"].exit == 0 and m.probes["runq"].attach is True
        log = (run_dir / "runq.log").read_text()
        assert log.startswith("H ") and log.rstrip().splitlines()[-1].startswith("SELF ")
    # the busy processes ended with the loop: nothing of the run is left running
    # (a `python3` that is a pyenv shim adds short-lived helper processes to the tree: the
    # python processes are the ones whose main thread's last name is python's)
    last = {}
    for line in (done["shared"][0] / "runq.log").read_text().splitlines():
        if line.startswith("S "):
            _, _, pid, tid, _, _, comm = line.split(maxsplit=6)
            if pid == tid:
                last[pid] = comm.strip()
    pids = set(last)
    pythons = {p for p, comm in last.items() if comm.startswith("python")}
    assert len(pythons) == 7, last  # the loop and six busy processes, one process tree
    for pid in pids:  # gone, or the pid reused by a process that is not the run's
        try:
            cmdline = open(f"/proc/{pid}/cmdline", "rb").read()  # noqa: SIM115
        except FileNotFoundError:
            continue
        assert b"busy.py" not in cmdline and b"loop.py" not in cmdline, (pid, cmdline)

    res = invoke("report", *common[:2], "--runs", str(runs), "--out", str(out), home=fake_home)
    assert res.returncode == 0, res.stdout + res.stderr
    rows = {r["experiment"]: r for r in summary_rows(out / "runq-contention" / "summary.csv")}
    alone = float(rows["alone"]["loop_runq_wait_share"])
    shared = float(rows["shared"]["loop_runq_wait_share"])
    assert 0 <= alone < shared <= 1
    verdict = json.loads((out / "runq-contention" / "hypotheses.json").read_text())["H1"]
    assert verdict["verdict"] == "supported", verdict  # at least 1.5 x the loop alone
    [check] = verdict["checks"]
    assert check["metric"] == "loop_runq_wait_share" and check["verdict"] == "supports"


def test_exp9_over_ssh_attaches_runq_to_the_record_loop_and_decides_h8(sshd, tmp_path, fake_home):
    trust(fake_home, sshd)
    workdir = tmp_path / "wd"
    host = ssh_host(sshd, workdir)
    # stalls in 5 % of the loop's iterations (seeded): late iterations in every run
    host["labkit_sim"] = {
        **host["labkit_sim"],
        "jitter": {"rate": 0.05, "stall_ms": 120, "seed": 3},
    }
    inv = write_inventory(tmp_path / "hosts.yml", {"board": host})
    runs, out = tmp_path / "runs", tmp_path / "out"
    pb = str(REPO / "playbooks" / "lerobot-loop-lag.yml")
    common = ("--target", "board", "--inventory", str(inv), "--playbook", pb)
    res = invoke(
        "experiment", "--name", "exp9", "--set", "dataset.episode_time_s=6",
        "--runs", str(runs), *common, home=fake_home,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    [(run_dir, m)] = manifests(runs)
    assert m["status"] == "complete", m.get("error")
    assert sorted(m["probes"]) == ["runq", "tegrastats"]
    runq = m["probes"]["runq"]
    assert runq["skipped"] is None and runq["exit"] == 0 and runq["attach"] is True
    head = (run_dir / "runq.log").read_text().splitlines()[0].split()
    assert head[0] == "H" and int(head[3]) == m["remote_status"]["workload_pid"]
    res = invoke("report", "--runs", str(runs), "--out", str(out), "--playbook", pb, home=fake_home)
    assert res.returncode == 0, res.stdout + res.stderr
    h8 = json.loads((out / "lerobot-loop-lag" / "hypotheses.json").read_text())["H8"]
    assert h8["verdict"] in ("supported", "refuted"), h8  # decided on exp9's run
    [check] = h8["checks"]
    assert check["metric"] == "warn_runq_wait_share"
    text = (out / "lerobot-loop-lag.md").read_text()
    assert "### H8) The loop is starved of CPU when it runs late" in text
