"""Workloads: what an experiment runs (``labkit.workloads.base``), one package per kind.

The kinds a playbook can name are registered in ``labkit.registry`` (above this
package): adding a workload kind is its package here and one line there.
"""

from labkit.workloads.base import Workload

__all__ = ["Workload"]
