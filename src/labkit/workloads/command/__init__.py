"""The ``command`` workload package: any program, described in the playbook (``workload``)."""

from labkit.workloads.command.workload import Command, CommandSpec, declare_metrics

__all__ = ["Command", "CommandSpec", "declare_metrics"]
