"""Readers for the two logs every conclusion rests on: tegrastats and lerobot-record.

The readers are loaded on first use (PEP 562 ``__getattr__``), not when the package is:
they pull in pandas, and the run path imports ``labkit.parse.cached`` (through the probes
a playbook names) long before it parses anything — validating a playbook must not cost
pandas' half second of start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from labkit.parse.record_log import read_record_log, summarize_record_log
    from labkit.parse.tegrastats import read_tegrastats

__all__ = ["read_record_log", "read_tegrastats", "summarize_record_log"]

_HOME = {
    "read_record_log": "labkit.parse.record_log",
    "summarize_record_log": "labkit.parse.record_log",
    "read_tegrastats": "labkit.parse.tegrastats",
}


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOME[name]), name)
