"""Reaching a target and changing it safely: connections, facts, settings, processes.

``connect(host)`` gives a ``Target`` (SSH through Fabric, or local) with one ``run``
whose commands always have a timeout; everything else in this package is written
against that interface, so the simulated Jetson, a local board and a Thor over SSH take
the same code path.
"""
