"""The ``lerobot-record`` workload package: everything labkit knows about LeRobot.

``workload`` (the :class:`LerobotRecord` plug-in), ``params`` (LeRobot's parameters and
defaults), ``flags`` (its command line per release), ``log`` (its record-log parser), ``metrics``
(its declared metrics from that log).
"""

from labkit.workloads.lerobot.workload import SLOW, LerobotRecord

__all__ = ["SLOW", "LerobotRecord"]
