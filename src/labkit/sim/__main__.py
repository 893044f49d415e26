"""``python -m labkit.sim <tool> [args]``: the entry the deployed wrappers call.

Each simulated tool is imported only when it is the one asked for: a ``tegrastats`` or
``nvpmodel -q`` call pays for its own module alone (start-up time of every call).
"""

import sys

from labkit.sim import TOOLS
from labkit.sim.power import query, rebooting, root_dir, shown


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in TOOLS:
        print(f"usage: python -m labkit.sim {{{'|'.join(TOOLS)}}} [args]", file=sys.stderr)
        return 2
    tool = sys.argv.pop(1)
    if rebooting(root_dir()):
        print(f"{tool}: the simulated Jetson is rebooting", file=sys.stderr)
        return 255
    # the facts' `nvpmodel -q`, twice a run: answered as the real tool does, from the conf
    # and the mode in effect, without the board profiles' module (~35 ms of imports)
    found = query(root_dir()) if tool == "nvpmodel" and sys.argv[1:2] == ["-q"] else None
    if found is not None:
        print(shown(*found))
        return 0
    # below: each tool's module on use (start-up time of every call)
    if tool == "tegrastats":
        from labkit.sim.tegrastats import main as run  # noqa: PLC0415 -- start-up time
    elif tool == "lerobot-record":
        from labkit.sim.lerobot_record import main as run  # noqa: PLC0415 -- start-up time
    elif tool == "nvpmodel":
        from labkit.sim.nvpmodel import main as run  # noqa: PLC0415 -- start-up time
    elif tool == "taskset":
        from labkit.sim.taskset import main as run  # noqa: PLC0415 -- start-up time
    elif tool == "udevadm":
        from labkit.sim.udevadm import main as run  # noqa: PLC0415 -- start-up time
    else:
        from labkit.sim.jetson_clocks import main as run  # noqa: PLC0415 -- start-up time
    return run()


if __name__ == "__main__":
    sys.exit(main())
