"""The run path loads no analysis library it does not use: a playbook is read, checked
and resolved into a run plan without pandas, numpy, scipy or matplotlib (they cost the
command's start-up), and a run gets to the workload's end without them (on the local
simulated Jetson the controller shares the CPU with the workload it measures); the
record's summary then loads pandas in the background while the target stops, restores
and packs; scipy, matplotlib and statsmodels never."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import REPO
from tests.labhost import env, local_sim_inventory, manifests

HEAVY = ("pandas", "numpy", "scipy", "matplotlib", "pyarrow", "statsmodels", "s3fs")


def test_reading_a_playbook_and_planning_a_run_imports_no_analysis_library():
    code = textwrap.dedent(
        f"""
        import sys
        import tasks
        from labkit import cli
        from labkit.engine.run import run_experiment
        for book in ("lerobot-loop-lag.yml", "camera-ingest.yml", "loop-jitter.yml"):
            path = "playbooks/" + book
            for name in cli.load_playbook(path).experiments:
                cli._resolve(name, "sim", path, "inventory/hosts.yml", [])
        print(sorted(m for m in {HEAVY!r} if m in sys.modules))
        """
    )
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "[]", res.stdout


@pytest.mark.slow
def test_a_run_imports_no_analysis_library_before_its_workload_ends(tmp_path, fake_home):
    """`invoke experiment` on the local simulated Jetson, as the README's first command
    (work dir in tmp, a 1 s episode): what is loaded when the workload has ended (the
    finish begins: stop, restore, pull) and when the command is done."""
    inventory = local_sim_inventory(tmp_path)
    runs = tmp_path / "runs"
    code = textwrap.dedent(
        f"""
        import json, sys
        import tasks
        from labkit import cli
        from labkit.engine import run

        seen = {{}}
        finish = run._finish

        def spy(*args, **kwargs):
            seen["workload_ended"] = sorted(m for m in {HEAVY!r} if m in sys.modules)
            return finish(*args, **kwargs)

        run._finish = spy
        cli.experiment("exp2b", inventory={str(inventory)!r}, runs={str(runs)!r},
                       sets=["dataset.episode_time_s=1"], out=sys.stderr)
        seen["done"] = sorted(m for m in {HEAVY!r} if m in sys.modules)
        print(json.dumps(seen))
        """
    )
    res = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env(fake_home),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    [(run_dir, m)] = manifests(runs)
    assert m["status"] == "complete", res.stderr
    assert (run_dir / "tegrastats.parquet").exists()  # the summary ran, with pandas
    seen = json.loads(res.stdout.splitlines()[-1])
    assert seen["workload_ended"] == []
    assert not {"scipy", "matplotlib", "statsmodels"} & set(seen["done"]), seen
