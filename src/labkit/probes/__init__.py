"""Probes: samplers that run beside an experiment's workload (``labkit.probes.base``), one
package per probe.

The probes a playbook can name are registered in ``labkit.registry`` (above this
package): adding a probe is its package here and one line there.
"""

from labkit.probes.base import Probe, ProbeLaunch

__all__ = ["Probe", "ProbeLaunch"]
