"""The command line's exit: no last garbage collection over what the imports made."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_tasks_freeze_the_heap_at_exit_after_every_other_exit_handler():
    # registered before tasks.py is imported: atexit runs it after tasks.py's own handlers
    code = (
        "import atexit, gc; atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0)); "
        "import tasks; print('running', gc.get_freeze_count() > 0)"
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout.split("\n")
    assert out[:2] == ["running False", "frozen True"]
