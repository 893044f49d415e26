"""The inventory variables the ``lerobot-record`` workload owns: which LeRobot release a
host runs, where its lerobot-record is, and record parameters for that host alone.

Checked with every host's variables when the inventory is read (``labkit.config.hostvars``
asks each registered plug-in for its own), and read as the host's attributes
(``plan.host.labkit_lerobot_record``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from labkit.workloads.lerobot.facts import PROGRAM

VERSION_PATTERN = r"^\d+\.\d+(\.\d+)?$"


class LerobotHostVars(BaseModel):
    """``labkit_lerobot_version`` (the flag family; default: the playbook's
    ``lerobot_version``), ``labkit_lerobot_record`` (the program) and ``labkit_record``
    (record parameters between the experiment's and ``--set``)."""

    model_config = ConfigDict(extra="forbid")
    labkit_lerobot_version: str | None = Field(default=None, pattern=VERSION_PATTERN)
    labkit_lerobot_record: str = PROGRAM
    labkit_record: dict[str, Any] = Field(default_factory=dict)
