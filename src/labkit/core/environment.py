"""The environment variables labkit reads, each checked as an option is: a bad value is
one clear line naming the variable and what it takes, never a traceback deep in a run.

``check()`` reads them all before a task does anything, so a run never meets one half-way.
"""

from __future__ import annotations

import math
import os
import time

from labkit.errors import LabkitError

TRUE = ("1", "true", "yes", "on")
FALSE = ("", "0", "false", "no", "off")


def seconds(name: str, default: float) -> float:
    """A duration in seconds, finite and not negative (``LABKIT_RECONNECT_S=30``)."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise LabkitError(
            f"environment variable {name}={raw!r}: expected a number of seconds >= 0 "
            f"(e.g. {name}={default:g}), or unset it"
        )
    return value


def flag(name: str, default: bool = False) -> bool:
    """A yes/no switch (``LABKIT_TRACE=1``); ``0``, ``no``, ``false`` and empty are off."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE:
        return True
    if word in FALSE:
        return False
    raise LabkitError(
        f"environment variable {name}={raw!r}: expected 1 or 0 (yes/no, true/false), or unset it"
    )


def reconnect_s() -> float:
    """How long a run retries a dropped connection before it is marked lost."""
    return seconds("LABKIT_RECONNECT_S", 30.0)


def trace() -> bool:
    """Print every remote command with its duration and exit code (``-v``)."""
    return flag("LABKIT_TRACE")


def _boot_start() -> float | None:
    """When this process started, in seconds since boot (Linux's /proc; None elsewhere),
    so Python's own start-up and imports count in ``since_start``."""
    try:
        with open("/proc/self/stat", "rb") as fh:
            ticks = int(fh.read().rsplit(b")", 1)[1].split()[19])
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


_BOOT_START = _boot_start()
_IMPORTED = time.monotonic()


def since_start() -> float:
    """Seconds since this process started (elsewhere than Linux: since labkit was
    imported): where a trace line falls in the run."""
    boot = getattr(time, "CLOCK_BOOTTIME", None)  # /proc's start time is on that clock
    if _BOOT_START is not None and boot is not None:
        return time.clock_gettime(boot) - _BOOT_START
    return time.monotonic() - _IMPORTED


def pyspy_pip() -> bool:
    """Try ``pip install py-spy`` on the host (0: a board known to be offline)."""
    return flag("LABKIT_PYSPY_PIP", True)


def check() -> None:
    """Every variable labkit reads, read once: the first bad one is the error."""
    reconnect_s()
    trace()
    pyspy_pip()
