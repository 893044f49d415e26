"""exp8 end to end over a real sshd: the threads and pyspy probes attached to the simulated
lerobot-record, py-spy pushed from the workstation to a host that gets nothing from PyPI,
the probes' logs pulled back, and the report naming the stage and the camera of an
injected stall."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.labhost import invoke, manifests, ssh_host, trust, write_inventory

SHIPPED = REPO / "playbooks" / "lerobot-loop-lag.yml"


def mjpg_playbook(path: Path) -> Path:
    """The shipped playbook with exp8's cameras on MJPG: three YUYV cameras saturate the
    sim's GIL on a slow or busy machine, and every iteration would then run late for that
    rather than for the injected stall this test looks for."""
    doc = yaml.safe_load(SHIPPED.read_text())
    exp8 = next(e for e in doc["experiments"] if e["name"] == "exp8")
    exp8["params"] = {**exp8.get("params", {}), "camera.fourcc": "MJPG"}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.mark.slow  # a real recording profiled by real py-spy: about 20 s
def test_exp8_over_ssh_profiles_the_loop_and_names_the_stalled_camera(sshd, tmp_path, fake_home):
    trust(fake_home, sshd)
    playbook = mjpg_playbook(tmp_path / "lerobot-loop-lag.yml")
    workdir = tmp_path / "wd"
    host = ssh_host(sshd, workdir)
    host["labkit_sim"] = {
        **host["labkit_sim"],
        "jitter": {"rate": 0.05, "stall_ms": 120, "stage": "camera_read",
                   "camera": "right_wrist", "seed": 11},
    }  # fmt: skip
    inv = write_inventory(tmp_path / "hosts.yml", {"board": host})
    runs, out = tmp_path / "runs", tmp_path / "out"
    common = ("--target", "board", "--inventory", str(inv), "--playbook", str(playbook))
    res = invoke(
        "experiment", "--name", "exp8", "--set", "dataset.episode_time_s=10",
        "--runs", str(runs), *common, home=fake_home, LABKIT_PYSPY_PIP="0",
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    assert "py-spy pushed from this workstation (pip on the host not tried" in res.stdout
    assert (workdir / "tools" / "bin" / "py-spy").exists()
    [(run_dir, m)] = manifests(runs)
    probes = m["probes"]
    assert sorted(probes) == ["pyspy", "tegrastats", "threads"]
    for name in ("threads", "pyspy"):
        assert probes[name]["skipped"] is None and probes[name]["exit"] == 0, probes[name]
        assert probes[name]["attach"] is True
    assert (run_dir / "pyspy.json").stat().st_size > 0
    assert (run_dir / "threads.log").read_text().startswith("H ")
    meta = json.loads((run_dir / "pyspy-meta.json").read_text())
    assert meta["exit"] == 0 and meta["pid"] > 0
    res = invoke(
        "report", "--runs", str(runs), "--out", str(out), "--playbook", str(playbook),
        home=fake_home,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    text = (out / "lerobot-loop-lag.md").read_text()
    deep = text.split("## Where the loop's time goes\n", 1)[1].split("\n## ", 1)[0]
    assert "**`right_wrist`**" in deep
    verdicts = json.loads((out / "lerobot-loop-lag" / "hypotheses.json").read_text())
    # H7 is decided by the camera-read share of the late iterations this run measured: with
    # the suite's other tests beside it on 2 cores, CPU starvation makes late iterations of
    # its own and the share can fall under the check's 0.5 (CI, 2026-12-03) -- the verdict
    # must follow the share; the stalled camera is named above either way
    share = json.loads((run_dir / "metrics.json").read_text())["metrics"].get(
        "warn_stage_share_camera_read"
    )
    assert share is not None
    assert verdicts["H7"]["verdict"] == ("supported" if share >= 0.5 else "refuted")
