"""Command lines as labkit builds them: the scheduling wrappers every workload runs under
(from the host settings ``settings.record_cpus`` / ``_rt_priority`` / ``_nice``), and the
one quoting that turns an argv into text for a remote shell.
"""

from __future__ import annotations

import shlex
from typing import Any


def scheduling_prefix(settings: dict[str, Any]) -> list[str]:
    """taskset / chrt / nice wrappers for the workload process, from host settings."""
    prefix: list[str] = []
    if settings.get("settings.record_cpus"):
        prefix += ["taskset", "-c", str(settings["settings.record_cpus"])]
    if settings.get("settings.record_rt_priority"):
        prefix += ["chrt", "-f", str(settings["settings.record_rt_priority"])]
    if settings.get("settings.record_nice") is not None:
        prefix += ["nice", "-n", str(settings["settings.record_nice"])]
    return prefix


def shell(argv: list[str]) -> str:
    """An argv as one shell line, every value quoted."""
    return shlex.join(argv)
