"""``python -m labkit.sim <tool> [args]``: the entry the deployed wrappers call."""

import sys


def main() -> int:
    from labkit.sim.deploy import TOOLS as tools

    if len(sys.argv) < 2 or sys.argv[1] not in tools:
        print(f"usage: python -m labkit.sim {{{'|'.join(tools)}}} [args]", file=sys.stderr)
        return 2
    tool = sys.argv.pop(1)
    from labkit.sim.reboot import rebooting
    from labkit.sim.root import sim_root

    if rebooting(sim_root()):
        print(f"{tool}: the simulated Jetson is rebooting", file=sys.stderr)
        return 255
    if tool == "tegrastats":
        from labkit.sim.tegrastats import main as run
    elif tool == "lerobot-record":
        from labkit.sim.lerobot_record import main as run
    elif tool == "nvpmodel":
        from labkit.sim.nvpmodel import main as run
    elif tool == "taskset":
        from labkit.sim.taskset import main as run
    elif tool == "udevadm":
        from labkit.sim.udevadm import main as run
    else:
        from labkit.sim.jetson_clocks import main as run
    return run()


if __name__ == "__main__":
    sys.exit(main())
