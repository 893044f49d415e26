"""A ``command`` workload with its own stage map, profiled end to end: the pyspy and threads
probes attached to its loop on the local simulated Jetson (py-spy pushed from the
workstation into the work dir), then the report names the stage its late ticks spent
their time in, by the loop's own stage names."""

from __future__ import annotations

import json
import shutil

import pytest

from labkit.workloads.lerobot.stages import STAGES as LEROBOT_STAGES
from tests.conftest import DATA
from tests.engine.test_runq_run import local_inventory
from tests.labhost import invoke, manifests
from tests.report.test_build import section, summary_rows

STAGED = DATA / "probes" / "pyspy"


@pytest.mark.slow
def test_a_commands_late_ticks_are_named_by_its_own_stages(tmp_path, fake_home):
    pb_dir = tmp_path / "pb"
    shutil.copytree(STAGED, pb_dir, ignore=shutil.ignore_patterns("run"))
    runs, out = tmp_path / "runs", tmp_path / "out"
    common = ("--playbook", str(pb_dir / "staged.yml"))
    res = invoke(
        "experiment", *common, "--name", "stalled", "--inventory", str(local_inventory(tmp_path)),
        "--runs", str(runs), home=fake_home, LABKIT_PYSPY_PIP="0",
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    [(run_dir, m)] = manifests(runs)
    assert m["status"] == "complete", m.get("error")
    assert m["workload"]["stages"]["sleep"] == "wait"  # the record keeps the stage map
    for name in ("threads", "pyspy"):
        assert m["probes"][name]["skipped"] is None and m["probes"][name]["exit"] == 0
    assert m["summary"]["late_count"] >= 4  # the stalls made ticks late

    res = invoke("report", *common, "--runs", str(runs), "--out", str(out), home=fake_home)
    assert res.returncode == 0, res.stdout + res.stderr
    [row] = summary_rows(out / "staged-loop" / "summary.csv")
    assert float(row["warn_stage_share_compute"]) > 0.5, row
    assert float(row["warnings_matched_share"]) > 0, row
    assert not [n for n in row if n.endswith(LEROBOT_STAGES) and not n.endswith("other")]
    verdicts = json.loads((out / "staged-loop" / "hypotheses.json").read_text())
    assert verdicts["H1"]["verdict"] == "supported", verdicts["H1"]
    deep = section((out / "staged-loop.md").read_text(), "Where the loop's time goes")
    assert "| Experiment | Runs | when | wait | read | compute | other |" in deep
