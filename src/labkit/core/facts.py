"""What a host fact is: a shell command and a pure parser of its output.

Below every package that declares facts: ``labkit.remote.facts`` (the host's own: kernel,
clocks, power modes, disk ...) and the plug-ins (``facts(host)`` of a workload or probe:
LeRobot's version, GStreamer's elements, py-spy's path), so ``labkit.remote`` gathers
all of them in one round trip without the plug-ins importing it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Fact:
    name: str
    command: Callable[[str, str], str]  # (sysroot, workdir) -> shell command
    process: Callable[[str, int], Any]  # (output, exit code) -> value (pure)
    doc: str = ""


def parse_which(out: str, code: int) -> str | None:
    """``command -v tool``: the tool's absolute path, None when it is not there."""
    line = out.strip().splitlines()[:1]
    return line[0] if code == 0 and line and line[0].startswith("/") else None
