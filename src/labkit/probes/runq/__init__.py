"""The ``runq`` probe: per-thread run-queue waits from schedstat (``probe``: the kind;
``runq_sampler.py``: the target-side sampler; ``log``: its parser; ``metrics``: the loop
thread's and the busiest threads' waits)."""

from labkit.probes.runq.probe import Runq

__all__ = ["Runq"]
