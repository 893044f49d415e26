"""The run path loads no analysis library it does not use: a playbook is read, checked
and resolved into a run plan without pandas, numpy, scipy or matplotlib (they cost the
command's start-up; the record's summary loads pandas in the background while the
target records)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import REPO

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
