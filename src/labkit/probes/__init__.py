"""Probes: samplers that run beside an experiment's workload (``labkit.probes.base``).

``PROBES`` is the registry: a playbook's ``probes:`` names its entries. Adding a probe
kind is one module here and one line below.
"""

from __future__ import annotations

from labkit.core.params import suggest
from labkit.errors import UnknownNameError
from labkit.probes.base import Probe, ProbeLaunch
from labkit.probes.pyspy import PySpy
from labkit.probes.runq import Runq
from labkit.probes.tegrastats import Tegrastats
from labkit.probes.threads import Threads

PROBES: dict[str, type[Probe]] = {
    Tegrastats.name: Tegrastats,
    Threads.name: Threads,
    PySpy.name: PySpy,
    Runq.name: Runq,
}

DEFAULT_PROBES = ["tegrastats"]


def get_probe(name: str) -> type[Probe]:
    """The probe class registered as ``name``; an unknown name lists the known ones."""
    try:
        return PROBES[name]
    except KeyError:
        raise UnknownNameError(
            f"unknown probe {name!r}{suggest(name, PROBES)}; known: {', '.join(PROBES)}"
        ) from None


__all__ = ["DEFAULT_PROBES", "PROBES", "Probe", "ProbeLaunch", "get_probe"]
