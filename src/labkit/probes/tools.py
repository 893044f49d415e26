"""Tools labkit places in a host's work dir that more than one probe uses: py-spy (the
``pyspy`` probe's profiler, the ``threads`` probe's thread names). Below the probe
packages, so neither imports the other."""

from __future__ import annotations

# labkit's own py-spy, below the host's work dir (``invoke setup-host`` or first use)
PYSPY_IN_WORKDIR = "/tools/bin/py-spy"


def pyspy_path(plan) -> str:
    """Where labkit installs py-spy on the plan's host (the samplers also look on PATH)."""
    return plan.workdir.rstrip("/") + PYSPY_IN_WORKDIR
