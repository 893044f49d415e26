"""The Invoke CLI as a user runs it: exit codes and messages, no tracebacks."""

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO

INVOKE = [str(Path(sys.executable).parent / "invoke")]


def run(*args):
    return subprocess.run([*INVOKE, *args], cwd=REPO, capture_output=True, text=True, timeout=60)


def test_list_shows_every_task_with_summary():
    out = run("--list").stdout
    for name in ("hosts", "plan", "experiments"):
        assert name in out


def test_plan_prints_commands():
    res = run("plan", "--name", "exp2b")
    assert res.returncode == 0, res.stderr
    assert "--dataset.fps=20" in res.stdout and "tegrastats --interval 1000" in res.stdout


def test_unknown_experiment_lists_existing():
    res = run("plan", "--name", "exp9")
    assert res.returncode == 2
    assert "exp1, exp2b, exp3" in res.stderr and "Traceback" not in res.stderr


def test_bad_set_key():
    res = run("plan", "--name", "exp1", "--set", "dataset_fsp=3")
    assert res.returncode == 2 and "did you mean 'dataset.fps'" in res.stderr


def test_hosts_json_shape():
    import json

    res = run("hosts", "--json")
    data = json.loads(res.stdout)
    assert data["_meta"]["hostvars"]["sim"]["labkit_simulate"] is True
    assert "simulated" in data["all"]["children"]
