"""Log readers and the byte-level tools they share: tegrastats, and the word and Arrow
helpers a workload's own log parser builds on (``byte_words``, ``arrow_text``,
``civil_time``). A workload's log format is its own: LeRobot's record log is read in
``labkit.workloads.lerobot.log``.

The reader is loaded on first use (PEP 562 ``__getattr__``), not when the package is:
it pulls in pandas, and the run path imports ``labkit.parse.cached`` (through the probes
a playbook names) long before it parses anything — validating a playbook must not cost
pandas' half second of start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labkit.parse.tegrastats import read_tegrastats

__all__ = ["read_tegrastats"]

_HOME = {
    "read_tegrastats": "labkit.parse.tegrastats",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)
