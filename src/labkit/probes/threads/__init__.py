"""The ``threads`` probe package: the sampler placed on the host (``threads_sampler.py``)
and the probe that launches it and reads its log (``probe``)."""

from labkit.probes.threads.probe import Threads

__all__ = ["Threads"]
