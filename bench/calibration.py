"""How often labkit's compare rule holds, fails or stays undecided on simulated studies.

`.venv/bin/python bench/calibration.py [--studies 1000] [--seed 21]` draws, per scenario,
seeded studies of ``runs`` one-minute runs a side (a gamma rate per run with 50 %
run-to-run spread, then Poisson counts; the baseline at 10 warnings/min) and tallies the
count rule (``labkit.analysis.counts``) beside the previous release's Welch rule on
per-minute rates. The check asks for a cut of at least 50 %. The table is appended to
docs/benchmarks.md with the machine and the date.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.lab import append_results, machine  # noqa: E402
from labkit.analysis.calibration import STOPPING, Scenario, sequential, simulate  # noqa: E402

SCENARIOS = [
    Scenario("true cut exactly 50 % (at the threshold)", ratio=0.5, runs=3),
    Scenario("true cut exactly 50 % (at the threshold)", ratio=0.5, runs=5),
    Scenario("true cut exactly 50 % (at the threshold)", ratio=0.5, runs=10),
    Scenario("true cut 80 % (clearly separated)", ratio=0.2, runs=3),
    Scenario("true cut 80 % (clearly separated)", ratio=0.2, runs=5),
    Scenario("true cut 90 % (clearly separated)", ratio=0.1, runs=3),
    Scenario("true cut 90 % (clearly separated)", ratio=0.1, runs=5),
    Scenario("no change (should fail)", ratio=1.0, runs=3),
    Scenario("no change (should fail)", ratio=1.0, runs=5),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--studies", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument(
        "--sequential", action="store_true",
        help="only the stopping rule of --until-decided --max-runs 6 (spending, Bonferroni, naive)",
    )  # fmt: skip
    args = ap.parse_args()
    if args.sequential:
        return stopping(args.studies, args.seed)
    rows = [
        "| scenario | runs per side | rule | holds | fails | inconclusive |",
        "|---|---:|---|---:|---:|---:|",
    ]
    began = time.monotonic()
    for i, s in enumerate(SCENARIOS):
        share = simulate(s, args.studies, args.seed + i)
        for rule, label in (("counts", "labkit (counts)"), ("welch", "previous (Welch)")):
            t = share[rule]
            rows.append(
                f"| {s.name} | {s.runs} | {label} | {t['holds']:.1%} | {t['fails']:.1%} | "
                f"{t['inconclusive']:.1%} |"
            )
        print(rows[-2], rows[-1], sep="\n", flush=True)
    took = time.monotonic() - began
    body = (
        f"`bench/calibration.py --studies {args.studies} --seed {args.seed}` on {machine()} "
        f"(shared with other work; {took:.0f} s). {args.studies} seeded studies per scenario: "
        "one-minute runs, baseline 10 warnings/min, each run's rate drawn from a gamma with "
        "50 % coefficient of variation, then Poisson counts; the check asks for a cut of at "
        "least 50 %. At the threshold a check must hold in at most 5 % of studies.\n\n"
        + "\n".join(rows)
    )
    print(f"appended to {append_results('calibration', body)}")


def stopping(studies: int, seed: int) -> None:
    """Studies that stop at the first decided look (2..6 runs a side), each look at its
    O'Brien-Fleming-type share of 5 % (labkit), at 5 %/5 (Bonferroni) or at 5 % (naive),
    at the threshold and clearly separated; the same seeded studies for every rule."""
    rows = [
        "| scenario | max runs per side | per-look level | holds | fails | inconclusive | "
        "mean runs per side |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    began = time.monotonic()
    cases = [
        ("true cut exactly 50 % (at the threshold)", 0.5),
        ("true cut 70 %", 0.3),
        ("true cut 90 %", 0.1),
    ]
    for i, (name, ratio) in enumerate(cases):
        s = Scenario(name, ratio=ratio, runs=6)
        for rule, label in STOPPING.items():
            t = sequential(s, 6, studies, seed + i, rule=rule)
            rows.append(
                f"| {name} | 6 | {label} | {t['holds']:.1%} | {t['fails']:.1%} | "
                f"{t['inconclusive']:.1%} | {t['runs']:.2f} |"
            )
            print(rows[-1], flush=True)
    body = (
        f"`bench/calibration.py --sequential --studies {studies} --seed {seed}` on {machine()} "
        f"(shared with other work; {time.monotonic() - began:.0f} s). Studies that add one "
        "one-minute run a side per round and stop at the first decided look, as `invoke batch "
        "--until-decided --max-runs 6` does (50 % run-to-run spread, Poisson counts, a cut of "
        "at least 50 % asked); every rule sees the same seeded studies.\n\n" + "\n".join(rows)
    )
    print(f"appended to {append_results('calibration (stopping when decided)', body)}")


if __name__ == "__main__":
    main()
