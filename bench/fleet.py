"""Does a batch on N hosts cost what it costs on one? Wall time of `invoke batch` at N = 1,
4, 8, 16 simulated Jetsons, each behind its own sshd on its own loopback port.

    .venv/bin/python bench/fleet.py [--hosts 1,4,8,16] [--rounds 3]

Every host runs the same short experiment once (a 3 s recording, 1 camera at 15 fps so
16 simulated recorders fit on a small machine; the governor set and put back); rounds
alternate the sizes. Reported: median wall time per N, its overhead beyond the 3 s
recording, and the ratio to N = 1 (target at N = 16: <= 1.3x). Results go to
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import time

from lab import RECORD_S, WORK, Lab, append_results, machine, make_lab


def busy_cpu_s() -> float:
    """CPU seconds this machine has been busy (all cores, all processes): /proc/stat."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def batch(lab: Lab, n: int, runs) -> tuple[float, float, float]:
    """Wall time of the batch, the CPU seconds the controller (labkit) itself used, and
    the CPU seconds the whole machine used (the simulated boards and their sshd too)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    machine_before = busy_cpu_s()
    t0 = time.perf_counter()
    res = lab.invoke(
        "batch", "--target", "all", "--inventory", str(lab.inventory),
        "--playbook", str(lab.playbook), "--runs", str(runs), "--forks", str(n), "--force",
    )  # fmt: skip
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        raise RuntimeError(f"batch on {n} hosts failed:\n{res.stdout[-3000:]}{res.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, busy_cpu_s() - machine_before


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", default="1,4,8,16")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    sizes = [int(x) for x in args.hosts.split(",")]
    base = WORK / "fleet"
    shutil.rmtree(base, ignore_errors=True)
    labs = {n: make_lab(base / f"n{n}", n, cameras="context", fps=15) for n in sizes}
    walls: dict[int, list[float]] = {n: [] for n in sizes}
    cpus: dict[int, list[float]] = {n: [] for n in sizes}
    totals: dict[int, list[float]] = {n: [] for n in sizes}
    try:
        for n in sizes:  # warm-up
            batch(labs[n], n, base / f"runs-warm-{n}")
        for i in range(1, args.rounds + 1):
            for n in sizes:
                wall, cpu, total = batch(labs[n], n, base / f"runs-{n}-{i}")
                walls[n].append(wall)
                cpus[n].append(cpu)
                totals[n].append(total)
            print(f"round {i}: " + ", ".join(f"N={n} {w[-1]:.2f}s" for n, w in walls.items()))
    finally:
        for lab in labs.values():
            lab.stop()
    one = statistics.median(walls[sizes[0]])
    rows = ["| hosts | median wall s | overhead s (wall - 3 s) | ratio to N=1 | min–max s "
            "| labkit CPU s (controller) | per host | machine CPU s (all) | CPU-bound wall s |",
            "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    cores = os.cpu_count() or 1
    for n in sizes:
        med, cpu = statistics.median(walls[n]), statistics.median(cpus[n])
        total = statistics.median(totals[n])
        spread = f"{min(walls[n]):.2f}–{max(walls[n]):.2f}"
        rows.append(f"| {n} | {med:.2f} | {med - RECORD_S:.2f} | {med / one:.2f}x | "
                    f"{spread} | {cpu:.2f} | {cpu / n:.2f} | {total:.1f} | "
                    f"{total / cores:.1f} |")  # fmt: skip
    last = sizes[-1]
    body = (
        f"`bench/fleet.py --hosts {args.hosts} --rounds {args.rounds}` on {machine()}. "
        "`invoke batch --target all --forks N`, one 3 s recording (1 camera, 15 fps) per "
        "simulated host, each behind its own sshd on 127.0.0.1; whole-command wall time "
        "(Python start-up included), medians over alternating rounds.\n\n"
        + "\n".join(rows)
        + f"\n\n- N={last} / N={sizes[0]}: **{statistics.median(walls[last]) / one:.2f}x** "
        "(target <= 1.3x)\n- CPU-bound wall = machine CPU / cores: the least wall time the "
        "work could take on this machine; the simulated boards share its cores with labkit"
    )
    print(body)
    print(f"appended to {append_results('fleet', body)}")


if __name__ == "__main__":
    main()
