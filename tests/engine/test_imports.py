"""The run path loads no analysis library it does not use: a playbook is read, checked
and resolved into a run plan without pandas, numpy, scipy or matplotlib (they cost the
command's start-up). The record's summary needs pandas: on a simulated Jetson on this
machine (whose tegrastats samples the controller's CPU too) a run gets to the workload's
end without it and loads it while the target stops, restores and packs; on a board
elsewhere it loads while the workload runs (at nice 10: ``engine.prewarm``). scipy,
matplotlib and statsmodels never."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
import yaml

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


def test_a_lerobot_playbook_is_planned_without_jinja2():
    """Templates are a command's or a pipeline's: a LeRobot run renders none, so its
    start-up does not import Jinja2 (the command and pipeline plug-ins are imported all
    the same, to check their variables)."""
    code = textwrap.dedent(
        """
        import sys
        import tasks
        from labkit import cli
        from labkit.engine.run import run_experiment
        path = "playbooks/lerobot-loop-lag.yml"
        for name in cli.load_playbook(path).experiments:
            cli._resolve(name, "sim", path, "inventory/hosts.yml", [])
        print("labkit.workloads.command" in sys.modules, "jinja2" in sys.modules)
        """
    )
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["True", "False"], res.stdout


@pytest.mark.slow
@pytest.mark.parametrize("apart", [False, True], ids=["on-this-machine", "board-elsewhere"])
def test_what_a_run_has_imported_when_its_workload_ends(tmp_path, fake_home, apart):
    """`invoke experiment` on the local simulated Jetson, as the README's first command
    (work dir in tmp, a 3 s episode: longer than the first poll), as it is and as if it
    were a board elsewhere (``labkit_shares_cpu: false``): what is loaded when the
    workload has ended (the finish begins: stop, restore, pull) and when the command is
    done."""
    inventory = local_sim_inventory(tmp_path)
    if apart:
        hosts = yaml.safe_load(inventory.read_text())
        hosts["all"]["children"]["simulated"]["hosts"]["sim"]["labkit_shares_cpu"] = False
        inventory.write_text(yaml.safe_dump(hosts))
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
                       sets=["dataset.episode_time_s=3"], out=sys.stderr)
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
    if apart:  # under way, if not done (a module is in sys.modules from its import's start)
        assert "pandas" in seen["workload_ended"], seen
    else:
        assert seen["workload_ended"] == [], seen
    assert not {"scipy", "matplotlib", "statsmodels"} & set(seen["done"]), seen
