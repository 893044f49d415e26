"""The ``gstreamer`` workload kind: a gst-launch-1.0 pipeline measured at its
fpsdisplaysinks (``workload``: the kind; ``pipeline``: argv, elements, packages;
``run_gst.py``: the target-side runner; ``log``: its parser; ``metrics``: what a run
measured)."""

from labkit.workloads.gstreamer.workload import Gstreamer

__all__ = ["Gstreamer"]
