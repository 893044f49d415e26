r"""A ``command`` workload's loop as stages, named in its playbook, for the ``pyspy`` probe.

.. code-block:: yaml

    workload:
      kind: command
      ...
      late_event: late
      stages:
        loop: run_loop            # the function the loop runs in (py-spy's frame name)
        budget_ms: 20             # optional: its period; a longer stretch of it is late
        sleep: wait               # optional: the stage that is the loop waiting (default sleep)
        map:                      # stage: function names; a sample takes the first that matches
          wait: [wait_tick, time.sleep]
          read: [read_sensor]
          compute: [compute, ~numpy]

A name matches a frame ending with it (``Class.method`` or ``method``; ``.method`` also the
bare ``method``), ``~text`` one containing it (any case). Samples inside the loop function
that no stage names are ``other``. The pyspy probe then gives
``main_thread_stage_share_<stage>`` and ``warn_stage_share_<stage>`` for these stages.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from labkit.core.observed import StageMap, ordered_stages
from labkit.core.param_spec import NAME
from labkit.errors import PlaybookError


class StagesSpec(BaseModel):
    """The playbook's ``workload.stages``."""

    model_config = ConfigDict(extra="forbid")
    loop: str = Field(min_length=1)
    map: dict[str, list[str]] = Field(min_length=1)
    sleep: str = "sleep"
    budget_ms: float | None = Field(default=None, gt=0, le=3_600_000)

    def stage_map(self) -> StageMap:
        rules = tuple((stage, tuple(names)) for stage, names in self.map.items())
        return StageMap(
            loop_function=self.loop, rules=rules, stages=ordered_stages(rules), sleep=self.sleep
        )


def check_stages(spec: StagesSpec, doc, where: tuple) -> None:
    """What pydantic cannot check: each stage an identifier (it ends a metric's name), each
    function name non-empty, and the sleep stage one of the map's (the loop's stretches
    end there). Errors name the playbook's file, line and field."""
    at = (*where, "stages")
    for stage, names in spec.map.items():
        if not re.match(NAME, stage):
            raise doc.error(
                f"stage name {stage!r}: expected letters, digits and _ (not starting with a "
                "digit); it ends the stage's metric names",
                (*at, "map", stage),
                PlaybookError,
            )
        if not names or any(not n.strip("~") for n in names):
            raise doc.error(
                f"stage {stage!r}: expected a list of function names (``name``, "
                "``Class.name``, or ``~text`` for a name containing it)",
                (*at, "map", stage),
                PlaybookError,
            )
    if spec.sleep not in spec.map:
        field = "sleep" if "sleep" in spec.model_fields_set else "map"
        raise doc.error(
            f"the sleep stage {spec.sleep!r} is not in the map; expected one of "
            f"{', '.join(spec.map)} (the stage in which the loop waits for its next tick: "
            "a late stretch is loop time with no sleep in it)",
            (*at, field),
            PlaybookError,
        )
