"""The playbook keys the ``lerobot-record`` workload owns beside ``record:``: the LeRobot
release its flags are for on a host that names none (``lerobot_version``).

Validated with the rest of the playbook (``labkit.config.playbook`` adds every registered
kind's ``playbook_vars`` to its model), read by ``LerobotRecord.from_playbook``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from labkit.workloads.lerobot.hostvars import VERSION_PATTERN


class LerobotPlaybookVars(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lerobot_version: str | None = Field(default=None, pattern=VERSION_PATTERN)
