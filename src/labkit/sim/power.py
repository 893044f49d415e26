"""The power mode as ``nvpmodel -q`` reads it, and whether the board is down: what every
simulated tool's start checks, with nothing imported beyond ``os``.

The facts run ``nvpmodel -q`` twice a run. The real tool, a C program, answers in a few
milliseconds from ``/etc/nvpmodel.conf`` and its state; through the board profiles'
module (dataclasses, json, pathlib) the simulated one took ~50 ms on a busy two-core
machine. It reads the same conf the simulator writes in the real file's shape
(``root.nvpmodel_conf``), so the answer is the profile's; without the conf (a board
labkit learns of a reboot only from nvpmodel's warning), the profile answers.
"""

from __future__ import annotations

import os

MODE_FILE = "etc/nvpmodel_mode"  # the mode in effect, as nvpmodel keeps it
CONF_FILE = "etc/nvpmodel.conf"
REBOOTING = "run/rebooting"  # there while the simulated board is down


def root_dir() -> str:
    """The root the wrappers were pointed at (``LABKIT_SIM_ROOT``)."""
    return os.environ.get("LABKIT_SIM_ROOT", "/")


def rebooting(root: str | os.PathLike[str]) -> bool:
    return os.path.exists(os.path.join(root, REBOOTING))


def shown(mode: int, name: str) -> str:
    """``nvpmodel -q``'s answer."""
    return f"NV Power Mode: {name}\n{mode}"


def read_text(path: str | os.PathLike[str]) -> str | None:
    """A file's text; None when it is not there."""
    try:
        with open(path) as fh:
            return fh.read()
    except FileNotFoundError:
        return None


def query(root: str | os.PathLike[str]) -> tuple[int, str] | None:
    """(mode id, name): the mode file's id (the conf's ``PM_CONFIG DEFAULT`` before any
    change), named by the conf's ``< POWER_MODEL ID=n NAME=x >``; None when the conf does
    not name it (a board without the conf: the profile answers)."""
    names, default = {}, None
    for line in (read_text(os.path.join(root, CONF_FILE)) or "").splitlines():
        if line.startswith("< POWER_MODEL ID="):
            ident, _, rest = line[len("< POWER_MODEL ID=") :].partition(" NAME=")
            names[ident.strip()] = rest.rstrip(">").strip()
        elif line.startswith("< PM_CONFIG DEFAULT="):
            default = line[len("< PM_CONFIG DEFAULT=") :].rstrip(">").strip()
    mode = (read_text(os.path.join(root, MODE_FILE)) or "").strip() or default
    if mode not in names or not mode.isdigit():
        return None
    return int(mode), names[mode]
