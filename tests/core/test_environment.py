"""The environment switches and the trace's clock."""

from __future__ import annotations

import subprocess
import sys

import pytest

from labkit.core import environment
from labkit.errors import LabkitError


def test_since_start_counts_the_interpreters_own_start_up():
    """A process that spends time before importing labkit (as Invoke's and Fabric's
    imports do) sees that time in ``since_start``: the trace places commands in the whole
    run, not from labkit's import. The busy loop runs until the clock says 0.3 s have
    passed, so the bound holds on any machine."""
    code = (
        "import time\n"
        "t = time.process_time()\n"
        "while time.process_time() - t < 0.3: pass\n"  # CPU time: a wall clock bounds it
        "from labkit.core import environment\n"
        "print(environment.since_start())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout) >= 0.3


def test_since_start_moves_forward():
    a = environment.since_start()
    b = environment.since_start()
    assert 0 < a <= b


@pytest.mark.parametrize("raw", ["2", "maybe"])
def test_a_bad_trace_switch_names_the_variable(monkeypatch, raw):
    monkeypatch.setenv("LABKIT_TRACE", raw)
    with pytest.raises(LabkitError, match=r"LABKIT_TRACE=.*expected 1 or 0"):
        environment.trace()
