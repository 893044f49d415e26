"""The report's "Where the loop's time goes" section from a profiled run (real py-spy and
the threads sampler on the simulated lerobot-record, a stall injected into right_wrist's
capture), and H6/H7 decided from it."""

from __future__ import annotations

import json
import shutil

import pytest

from labkit.config.playbook import load_playbook
from labkit.records.model import current
from labkit.records.store import write_manifest
from labkit.report.build import build_report
from tests.conftest import REPO
from tests.probes.pyspy.test_stages import CAMS, profiled_run
from tests.report.test_build import section, table

PLAYBOOK = REPO / "playbooks" / "lerobot-loop-lag.yml"


@pytest.mark.slow  # a real recording profiled by real py-spy: about 20 s
def test_a_profiled_run_gets_the_section_and_decides_h6_h7(tmp_path):
    profiled_run(tmp_path / "p", {"rate": 0.05, "stall_ms": 120, "stage": "camera_read",
                                  "camera": "right_wrist"})  # fmt: skip
    pb = load_playbook(PLAYBOOK)
    run_id = "20260101T100000Z-sim-0001"
    run = tmp_path / "runs" / "exp8" / run_id
    shutil.copytree(tmp_path / "p" / "run", run, ignore=shutil.ignore_patterns("dataset"))
    cams = ", ".join(f"{n}: {{type: opencv, index_or_path: {d}}}" for n, d in CAMS.items())
    record = {
        "schema": 2, "run_id": run_id, "experiment": "exp8", "status": "complete",
        "host": {"name": "sim", "connection": "local"},
        "playbook": {"name": pb.name, "file": str(pb.file), "sha256": pb.sha256},
        "workload": {"kind": "lerobot-record", "log": "record.log"},
        "probes": {"pyspy": {"log": "pyspy.out"}, "threads": {"log": "threads.log"}},
        "params": pb.params_for("exp8"),
        "commands": {"workload_argv": ["lerobot-record", f"--robot.cameras={{{cams}}}"]},
    }  # fmt: skip
    write_manifest(run, current(record, run))
    result = build_report(pb, tmp_path / "runs", tmp_path / "out", log=lambda m: None)
    text = result.markdown.read_text()
    deep = section(text, "Where the loop's time goes")
    rows = table(deep, "Experiment | Runs | when")
    late = next(r for r in rows if r["when"] == "late iterations")
    shares = {k: float(v.rstrip("%")) for k, v in late.items() if v.endswith("%")}
    assert max(shares, key=shares.get) == "camera_read"
    assert "the camera whose capture ran long in most camera-bound late iterations: " \
           "**`right_wrist`**" in deep  # fmt: skip
    cams_rows = {r["Camera"]: r for r in table(deep, "Experiment | Camera")}
    assert set(cams_rows) == {f"`{n}`" for n in CAMS}
    for png in ("thread-cpu.png", "stages-worst-warning.png"):
        assert (result.folder / png).read_bytes()[:4] == b"\x89PNG"
        assert f"(lerobot-loop-lag/{png})" in deep
    verdicts = json.loads((result.folder / "hypotheses.json").read_text())
    assert verdicts["H7"]["verdict"] == "supported"  # camera reads ate the late iterations
    # the stall spins a read thread for 120 ms: whether a 100 ms sampling interval lands on
    # it (>= 90 % busy) depends on where the intervals fall, so H6 is decided by the share
    # measured in the run -- its verdict must follow that share, never more
    share = json.loads((run / "metrics.json").read_text())["metrics"].get(
        "warnings_single_thread_saturated_share"
    )
    expected = "inconclusive" if share is None else ("supported" if share >= 0.5 else "refuted")
    assert verdicts["H6"]["verdict"] == expected
