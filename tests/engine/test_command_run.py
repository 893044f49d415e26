"""The `command` workload end to end: over a real sshd to a simulated Jetson, and the
shipped loop-jitter investigation on the local simulated Jetson (batch + report)."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from labkit.records.store import list_runs
from tests.conftest import DATA, REPO
from tests.labhost import (
    alive,
    governors,
    invoke,
    manifests,
    ssh_host,
    trust,
    write_inventory,
)

COMMAND = DATA / "workloads" / "command"


@pytest.fixture
def lab(sshd, tmp_path, fake_home):
    trust(fake_home, sshd)
    pb_dir = tmp_path / "pb"
    shutil.copytree(COMMAND, pb_dir, symlinks=True)
    doc = yaml.safe_load((pb_dir / "good.yml").read_text())
    doc["settings"] = {"cpu_governor": "performance"}  # changed for the run, then put back
    (pb_dir / "good.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    workdir = tmp_path / "thor-sim"
    inv = write_inventory(tmp_path / "hosts.yml", {"simthor": ssh_host(sshd, workdir)})

    class Lab:
        home = fake_home
        runs = tmp_path / "runs"
        playbook = pb_dir / "good.yml"
        wd = workdir

        def run(self, task: str, *extra: str, timeout: float = 240):
            return invoke(
                task, "--target", "simthor", "--inventory", str(inv),
                "--playbook", str(self.playbook), *extra, home=self.home, timeout=timeout,
            )  # fmt: skip

    return Lab()


@pytest.mark.slow  # over 9 s on 2 cores: the full suite only
def test_a_command_workload_runs_over_ssh_with_its_probe_and_restores(lab, tmp_path):
    res = lab.run("experiment", "--name", "fast", "--set", "seconds=2", "--runs", str(lab.runs))
    assert res.returncode == 0, res.stdout + res.stderr
    [(run_dir, m)] = manifests(lab.runs)
    assert m["schema"] == 2 and m["status"] == "complete", m.get("error")
    assert m["workload"]["kind"] == "command"
    assert m["workload"]["events"]["slow"] == "SLOW latency=(?P<value>[0-9.]+)ms"
    assert m["params"] == {"rate": 50, "seconds": 2, "tag": "a b"}
    assert m["commands"]["workload_argv"][:2] == ["bash", "-c"]
    # the script was placed in the run dir and ran there: 100 ticks, every 5th SLOW
    log = (run_dir / "output.log").read_text()
    assert "done 100 ticks tag=a b" in log
    assert m["summary"]["slow_count"] == 20 and m["summary"]["tick_count"] == 100
    assert m["summary"]["slow_median"] == pytest.approx(5.15)
    assert "20 slow (median 5.15)" in res.stdout
    assert (run_dir / "events.parquet").exists()
    # tegrastats beside it: started, stopped exactly, its samples pulled
    teg = m["probes"]["tegrastats"]
    assert teg["exit"] in (0, -15) and teg["error"] is None
    assert not alive(teg["pid"])
    assert "tegrastats" in m["remote_status"]["probes"]
    assert "tegrastats_pid" not in m["remote_status"]
    assert (run_dir / "tegrastats.log").stat().st_size > 0
    assert m["summary"]["samples"] > 0
    # progress counted the progress event (slow) while it ran; the host is back
    assert governors(lab.wd) == ["schedutil"] * 14
    assert not (lab.wd / "lock").exists()

    # ... and the report: the events' metrics in a table, a figure for the valued event
    out = tmp_path / "reports"
    res = invoke(
        "report", "--playbook", str(lab.playbook), "--runs", str(lab.runs), "--out", str(out),
        home=lab.home,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    text = (out / "cmd-demo.md").read_text()
    assert "The workload `command`'s metrics:" in text
    row = next(line for line in text.splitlines() if line.startswith("| `fast` | 1 |"))
    assert "| 20 |" in row and "| 100 |" in row
    # one run per experiment: its values as points, not a box
    assert (
        "![Per experiment (a box over two runs or more, else points): fast median 5.15 over" in text
    )
    assert "fast median 5.15 over 20 events from 1 run" in text
    assert (out / "cmd-demo" / "event-slow.png").read_bytes()[:4] == b"\x89PNG"
    assert "event-tick.png" not in text  # no value group, no figure
    assert "slow_per_min" in (out / "cmd-demo" / "summary.csv").read_text()


def test_the_after_sample_first_reading_is_laid_while_the_workload_runs(lab):
    """Near its expected end, each progress poll lays the first reading of the CPU sample
    of the facts after the restore as it starts, so the sample spans the workload's last
    moments and the finish instead of waiting out its shortest span after them. The
    workload here ends only once that reading is there: laid only as a poll saw it end,
    it would run on to the watchdog and exit 3."""
    doc = yaml.safe_load(lab.playbook.read_text())
    doc["workload"]["command"] = (
        "for i in $(seq 900); do [ -e .top-after ] && exit 0; sleep 0.1; done; exit 3"
    )
    doc["workload"]["duration_s"] = 1
    lab.playbook.write_text(yaml.safe_dump(doc, sort_keys=False))
    res = lab.run("experiment", "--name", "bare", "--runs", str(lab.runs))
    assert res.returncode == 0, res.stdout + res.stderr
    [(_, m)] = manifests(lab.runs)
    assert m["status"] == "complete", m.get("error")
    assert m["remote_status"]["workload_exit"] == 0
    assert m["remote_status"]["stopped_by"] is None
    assert isinstance(m["facts_after"]["top_processes"], list)


def test_plan_and_check_show_the_workload_and_probe_commands(lab):
    res = lab.run("plan", "--name", "fast", "--set", "rate=60")
    assert res.returncode == 0, res.stderr
    assert "bash -c 'python3 -u bench.py --rate 60" in res.stdout
    assert "tegrastats --interval 1000 --logfile" in res.stdout
    assert lab.run("facts").returncode == 0  # --check installs nothing: the sim first
    res = lab.run("experiment", "--name", "fast", "--check", "--runs", str(lab.runs))
    assert res.returncode == 0, res.stdout + res.stderr
    assert "probe tegrastats: tegrastats --interval 1000" in res.stdout
    assert "command: bash -c 'python3 -u bench.py --rate 50" in res.stdout
    assert not lab.runs.exists() or not list(lab.runs.glob("*/*/manifest.json"))


@pytest.mark.slow
def test_loop_jitter_batch_and_report_on_the_local_simulated_jetson(tmp_path, fake_home):
    """docs/playbooks.md's second investigation, exactly as shipped (12 runs of 6 s)."""
    inv_dir = tmp_path / "inventory"
    shutil.copytree(REPO / "inventory", inv_dir)
    hosts = yaml.safe_load((inv_dir / "hosts.yml").read_text())
    hosts["all"]["children"]["simulated"]["hosts"]["sim"]["labkit_workdir"] = str(tmp_path / "wd")
    (inv_dir / "hosts.yml").write_text(yaml.safe_dump(hosts))
    runs = tmp_path / "runs"
    pb = str(REPO / "playbooks" / "loop-jitter.yml")
    common = ("--inventory", str(inv_dir / "hosts.yml"), "--runs", str(runs))
    res = invoke(
        "batch", "--playbook", pb, "--repeat", "2", *common,
        home=fake_home, timeout=600,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    head = next(line for line in res.stdout.splitlines() if line.startswith("host "))
    # the loop's late ticks; no "min Hz" column: a command has no loop rate of LeRobot's
    assert head.split()[-2:] == ["late", "events"]
    done = [m for _, m in list_runs(runs)]
    assert len(done) == 12 and {m.status for m in done} == {"complete"}
    assert {m.experiment for m in done} == {
        f"{g}-rate{r}" for g in ("schedutil", "performance") for r in (30, 60, 100)
    }
    for m in done:  # the governor was set for the run (in the sim's sysfs) and put back
        want = m.experiment.split("-")[0]
        assert m.settings["settings.cpu_governor"] == want
        changed = {c["key"]: c for c in m.settings_changes}
        if want == "performance":
            assert changed["cpu_governor"]["restored"] is True
    # the loop's closing SUMMARY line is not an event; lateness carries its unit
    assert all(m.summary["events"] == ["late"] for m in done)
    assert all(m.summary["units"] == {"late": "ms"} for m in done)
    # one line per run says how it ended (the batch's done line), not two
    assert sum(" #1 (" in line and ": complete" in line for line in res.stdout.splitlines()) == 6
    assert not any(" — " in line and ": complete" in line for line in res.stdout.splitlines())
    out = tmp_path / "reports"
    res = invoke("report", "--playbook", pb, "--runs", str(runs), "--out", str(out), home=fake_home)
    assert res.returncode == 0, res.stdout + res.stderr
    verdicts = json.loads((out / "loop-jitter" / "hypotheses.json").read_text())
    h1 = verdicts["H1"]
    assert h1["verdict"] in ("supported", "refuted", "inconclusive")
    assert [c["metric"] for c in h1["checks"]] == ["late_per_min", "late_per_min"]
    for c in h1["checks"]:  # decided by labkit's compare rule, numbers shown
        assert c["verdict"] in ("supports", "refutes", "inconclusive")
        assert (c["n_baseline"], c["n_variant"]) == (2, 2)
        assert c["method"] and c["mean_baseline"] is not None
    text = (out / "loop-jitter.md").read_text()
    assert "### H1) The performance governor cuts late ticks by half" in text
    assert "| `performance-rate100` | 2 |" in text
    assert "late_median [ms]" in text and "summary_per_min" not in text
    assert "verdicts:" in res.stdout and "recommendation:" in res.stdout
