"""`invoke import`: the seed's hand-run log layout into the run store."""

from __future__ import annotations

import pytest

from labkit.config.playbook import load_playbook
from labkit.errors import LabkitError
from labkit.study.importer import import_logs
from tests.conftest import REPO
from tests.labhost import invoke, manifests
from tests.seedlogs import write_seed, write_seed_logs

PLAYBOOK = REPO / "playbooks" / "lerobot-loop-lag.yml"


def test_import_makes_complete_runs_once(tmp_path):
    logs, runs = tmp_path / "logs", tmp_path / "runs"
    logs.mkdir()
    write_seed_logs(logs, "exp1", [24.0, 9.6, 18.2])
    write_seed_logs(logs, "exp2b", [15.6], target=20)
    pb = load_playbook(PLAYBOOK)
    added = import_logs(logs, pb, runs, log=lambda m: None)
    assert sorted(m.experiment for m in added) == ["exp1", "exp2b"]
    got = {m["experiment"]: (d, m) for d, m in manifests(runs)}
    d, m = got["exp1"]
    assert m["status"] == "complete" and m["imported"] is True
    assert m["summary"]["warnings"] == 3 and m["summary"]["min_hz"] == 9.6
    assert m["summary"]["samples"] == 61
    assert m["params"]["dataset.fps"] == 30 and got["exp2b"][1]["params"]["dataset.fps"] == 20
    assert (d / "record.log").read_bytes() == (logs / "exp1_record.log").read_bytes()
    assert d.name.startswith("20260210T100000-imported-")
    # a second import finds them already there
    assert import_logs(logs, pb, runs, log=lambda m: None) == []
    assert len(manifests(runs)) == 2
    assert not [p for p in runs.rglob(".*") if p.name.startswith(".")]  # no temp dirs left


def test_unknown_experiment_is_named_with_the_file(tmp_path):
    write_seed_logs(tmp_path, "exp99", [20.0])
    with pytest.raises(LabkitError, match=r"exp99_record.log: experiment 'exp99' is not in"):
        import_logs(tmp_path, load_playbook(PLAYBOOK), tmp_path / "runs", log=lambda m: None)
    assert not (tmp_path / "runs").exists()


def test_import_task(tmp_path, fake_home):
    logs = tmp_path / "logs"
    logs.mkdir()
    write_seed_logs(logs, "exp3", [16.0, 17.5])
    res = invoke("import", "--logs", str(logs), "--runs", str(tmp_path / "runs"), home=fake_home)
    assert res.returncode == 0, res.stderr
    assert "1 run(s) imported" in res.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    res = invoke("import", "--logs", str(empty), home=fake_home)
    assert res.returncode == 2 and "no <experiment>_record.log files" in res.stderr


def test_the_shipped_sample_is_what_the_report_tests_use(tmp_path):
    """README: tests/report/test_build.py checks the seed's numbers on logs written by
    tests/seedlogs.py; the shipped examples/seed-logs must be exactly those logs."""
    write_seed(tmp_path)
    shipped = REPO / "examples" / "seed-logs"
    logs = sorted(p.name for p in shipped.glob("*.log"))
    assert logs == sorted(p.name for p in tmp_path.glob("*.log"))
    assert len(logs) == 10
    for name in logs:
        assert (shipped / name).read_bytes() == (tmp_path / name).read_bytes(), name


def test_a_playbook_whose_workload_imports_no_hand_run_logs_is_refused(tmp_path):
    write_seed_logs(tmp_path, "exp1", [20.0])
    pb = load_playbook(REPO / "playbooks" / "loop-jitter.yml")
    with pytest.raises(LabkitError) as err:
        import_logs(tmp_path, pb, tmp_path / "runs", log=lambda m: None)
    assert "its command workload imports no hand-run logs" in str(err.value)
    assert str(err.value).endswith("that does: lerobot-record")
    assert not (tmp_path / "runs").exists()


def test_the_importer_reads_the_workloads_own_hand_run_layout(tmp_path):
    """The logs' names come from the workload's declaration (``Workload.hand_runs``)."""
    hand = load_playbook(PLAYBOOK).workload.hand_runs()
    assert (hand.suffix, hand.monitor_suffix) == ("_record.log", "_tegrastats.log")
    write_seed_logs(tmp_path, "exp1", [20.0])
    assert hand.run_id(tmp_path / "exp1_record.log", None).startswith("20260210T100000-imported-")
