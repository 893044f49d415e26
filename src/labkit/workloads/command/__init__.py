"""The ``command`` workload package: any program, described in the playbook (``workload``)."""

from labkit.core.template import render_template
from labkit.workloads.command.workload import (
    MAX_DURATION_S,
    Command,
    CommandSpec,
    ParamSpec,
    _env,
    declare_metrics,
)

__all__ = [
    "MAX_DURATION_S",
    "Command",
    "CommandSpec",
    "ParamSpec",
    "_env",
    "declare_metrics",
    "render_template",
]
