"""``invoke batch --until-decided`` end to end on the local simulated Jetson: real rounds of
real runs (engine, store, analysis), a `command` workload whose late events are fixed by
the experiment -- 30 against 3 a run, whatever the machine's load -- so the check is
decided at one of the first looks and the batch stops before its budget. (The lerobot
playbook's H2 on the simulator depends on the machine's spare CPU: docs/report.md.)"""

from __future__ import annotations

import json

import pytest
import yaml

from tests.labhost import invoke, local_sim_inventory

BURST = """\
import argparse, datetime, time
ap = argparse.ArgumentParser()
ap.add_argument("--late", type=int)
ap.add_argument("--seconds", type=float)
a = ap.parse_args()
for i in range(a.late):
    time.sleep(a.seconds / a.late)
    at = datetime.datetime.now().isoformat(timespec="milliseconds")
    print(f"LATE tick={i} lateness_ms=5.000 at={at}", flush=True)
print(f"SUMMARY ticks={a.late} late={a.late}", flush=True)
"""


def playbook(tmp_path):
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "burst.py").write_text(BURST)
    doc = {
        "name": "bursts",
        "description": "a fixed number of late events per run",
        "workload": {
            "kind": "command",
            "command": "python3 -u burst.py --late {{ params.late }} --seconds 2",
            "files": {"burst.py": "files/burst.py"},
            "duration_s": "2",
            "params": {"late": {"type": "int", "default": 30, "min": 1}},
            "events": {
                "late": {
                    "regex": r"LATE tick=\d+ lateness_ms=(?P<value>[0-9.]+) at=(?P<time>\S+)",
                    "unit": "ms",
                }
            },
            "late_event": "late",
        },
        "probes": ["tegrastats"],
        "experiments": [
            {"name": "busy", "description": "30 late events a run"},
            {"name": "calm", "description": "3 late events a run", "params": {"late": 3}},
        ],
        "hypotheses": [
            {
                "id": "H1",
                "title": "calm cuts the late events",
                "question": "Does calm have at most half of busy's late events per minute?",
                "checks": [
                    {
                        "kind": "compare",
                        "metric": "late_per_min",
                        "baseline": "busy",
                        "variant": "calm",
                        "expect": "lower",
                        "min_effect": 0.5,
                    }
                ],  # fmt: skip
            }
        ],
    }
    path = tmp_path / "bursts.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.mark.slow
def test_until_decided_stops_before_the_budget_on_the_simulated_jetson(tmp_path, fake_home):
    runs = tmp_path / "runs"
    res = invoke(
        "batch", "--playbook", str(playbook(tmp_path)), "--inventory",
        str(local_sim_inventory(tmp_path)), "--runs", str(runs), "--only", "busy,calm",
        "--until-decided", "--max-runs", "4", home=fake_home, timeout=600,
    )  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout
    # the rates differ a little with each run's recorded time: the first looks (2 runs a
    # side at 99.44 %, 3 at 98.19 %) decide it, never the last
    assert "round 4 of at most 4" not in out
    assert "H1 late_per_min calm vs busy: decided, supports (effect -" in out
    [stop] = [line for line in out.splitlines() if line.startswith("every reachable check")]
    k = int(stop.split(" after ")[1].split()[0])
    assert k in (2, 3) and stop.endswith("runs per experiment (budget 4): stopping")
    made = [json.loads(p.read_text()) for p in runs.glob("*/*/manifest.json")]
    assert sorted(m["experiment"] for m in made) == ["busy"] * k + ["calm"] * k
    assert all(m["status"] == "complete" for m in made)
