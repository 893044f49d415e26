"""The ``tegrastats`` probe package: its launch (``probe``) and its metrics (``metrics``)."""

from labkit.probes.tegrastats.probe import Tegrastats

__all__ = ["Tegrastats"]
