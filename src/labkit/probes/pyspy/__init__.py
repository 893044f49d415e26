"""The ``pyspy`` probe package: the wrapper placed on the host (``pyspy_run.py``), the
installer of py-spy (``install``) and the probe (``probe``)."""

from labkit.probes.pyspy.probe import STAGES, PySpy

__all__ = ["STAGES", "PySpy"]
