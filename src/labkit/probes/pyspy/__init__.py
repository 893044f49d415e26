"""The ``pyspy`` probe package: the wrapper placed on the host (``pyspy_run.py``), the
installer of py-spy (``install``), the probe (``probe``) and its analysis of the loop by
the workload's stages (``stages``)."""

from labkit.probes.pyspy.probe import PySpy

__all__ = ["PySpy"]
