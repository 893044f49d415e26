"""The parameters every experiment can set whatever its workload: labkit's host settings
(``settings.cpu_governor`` ...) and the monitor's. A workload's own are declared by its
package (``Workload.params``) and known once the playbook names it.

The checks and the "did you mean" hint are ``labkit.core.params`` (below the plug-ins,
which declare their parameters with it).
"""

from __future__ import annotations

from typing import Any

from labkit.core.params import (
    Param,
    ParamError,
    coerce,
    flatten,
    param,
    suggest,
)
from labkit.core.params import parse_set as _parse_set

MAX_INTERVAL_MS = 60000  # tegrastats' sample period, as the playbook's monitor.interval_ms
# Linux's CONFIG_NR_CPUS tops out at 4096 (arm64 and x86 defaults are far lower): a CPU id
# beyond it is a typo, and expanding "0-99999999999" would fill the memory.
MAX_CPU_ID = 4095


def cpu_list(text: str) -> list[int]:
    """``"0,2-5"`` -> [0, 2, 3, 4, 5] (taskset -c / cpuset syntax); ValueError if malformed."""
    out: list[int] = []
    for part in str(text).split(","):
        lo, dash, hi = part.strip().partition("-")
        first, last = int(lo), int(hi) if dash else int(lo)
        if first < 0 or last < first:
            raise ValueError(f"bad CPU range {part.strip()!r}")
        if last > MAX_CPU_ID:  # checked before the range is expanded
            raise ValueError(f"CPU {last} is beyond {MAX_CPU_ID}")
        out += range(first, last + 1)
    return out


def _cpu_list_ok(text: str) -> bool:
    try:
        return bool(cpu_list(text))
    except ValueError:
        return False


def cpu_list_problem(text: str | None, cpu_count: int | None) -> str | None:
    """Why ``settings.record_cpus`` does not fit a host with ``cpu_count`` CPUs (or None)."""
    if not text or not cpu_count:
        return None
    beyond = [c for c in cpu_list(text) if c >= cpu_count]
    if not beyond:
        return None
    return (
        f"settings.record_cpus {text!r} names CPU {beyond[-1]} but the host has "
        f"{cpu_count} CPUs (0-{cpu_count - 1}); pick CPUs within 0-{cpu_count - 1}"
    )


SETTINGS_PARAMS: dict[str, Param] = {
    p.key: p
    for p in [
        param(
            "settings.cpu_governor",
            "str",
            "cpufreq governor for every online CPU",
            nullable=True,
            example="performance",
        ),
        param(
            "settings.nvpmodel",
            "int",
            "nvpmodel power mode id",
            lambda v: v >= 0,
            ">= 0",
            nullable=True,
        ),
        param("settings.jetson_clocks", "bool", "pin clocks to the mode's maximum", nullable=True),
        param(
            "settings.record_nice",
            "int",
            "nice value of the record process",
            lambda v: -20 <= v <= 19,
            "between -20 and 19",
            nullable=True,
        ),
        param(
            "settings.record_rt_priority",
            "int",
            "SCHED_FIFO priority of the record process",
            lambda v: 1 <= v <= 99,
            "between 1 and 99",
            nullable=True,
        ),
        param(
            "settings.record_cpus",
            "str",
            "CPU list the record process is pinned to (e.g. 2-7)",
            lambda v: _cpu_list_ok(v),
            f"a CPU list such as 2-7 or 0,2-5 (as taskset -c takes), CPU ids up to {MAX_CPU_ID}",
            nullable=True,
            example="2-7",
        ),
        param("settings.sysctl", "mapping", "sysctl values to set for the run"),
    ]
}

MONITOR_PARAMS: dict[str, Param] = {
    p.key: p
    for p in [
        param(
            "monitor.interval_ms",
            "int",
            "tegrastats sample period",
            lambda v: 10 <= v <= MAX_INTERVAL_MS,
            f"between 10 and {MAX_INTERVAL_MS}",
        ),
    ]
}

# what ``--set`` takes before a playbook (and so a workload) is known
ALL_PARAMS = {**SETTINGS_PARAMS, **MONITOR_PARAMS}

SETTINGS_DEFAULTS: dict[str, Any] = {k: None for k in SETTINGS_PARAMS}
SETTINGS_DEFAULTS["settings.sysctl"] = {}
MONITOR_DEFAULTS = {"monitor.interval_ms": 1000}


def parse_set(items: list[str] | None, known: dict[str, Param] | None = None) -> dict[str, Any]:
    """``--set`` values checked against ``known`` (default: the settings and the monitor's;
    a playbook's ``known_params()`` adds its workload's)."""
    return _parse_set(items, ALL_PARAMS if known is None else known)


__all__ = [
    "ALL_PARAMS",
    "MONITOR_DEFAULTS",
    "MONITOR_PARAMS",
    "SETTINGS_DEFAULTS",
    "SETTINGS_PARAMS",
    "Param",
    "ParamError",
    "coerce",
    "cpu_list",
    "cpu_list_problem",
    "flatten",
    "parse_set",
    "suggest",
]
