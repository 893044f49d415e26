"""Report time and memory over a large run store: seed-shaped runs, one hour each.

    .venv/bin/python bench/report.py [--sets 200,400] [--rounds 2] [--jobs 2]

For each size N: writes N sets of the seed's five experiments (``<exp>_record.log`` and
``<exp>_tegrastats.log`` as the seed left them, one hour each: tegrastats at 1 Hz with 14
cores, slow-loop warnings spread over the hour at the seed's rates) under bench/.work/,
imports them with ``invoke import`` (timed: parsing and each run's metrics, in parallel),
then times ``invoke report`` ``--rounds`` times: the first round after the import is
already warm (metrics stored at import); every round runs in a fresh process whose peak
RSS is read from ``getrusage(RUSAGE_CHILDREN)``. Results are appended to
docs/benchmarks.md with the machine and the date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.lab import WORK, append_results, machine  # noqa: E402
from tests.seedlogs import SEED  # noqa: E402

HOUR = 3600
PLAYBOOK = ROOT / "playbooks" / "lerobot-loop-lag.yml"
INVOKE = str(Path(sys.executable).parent / "invoke")


def write_set(folder: Path, index: int) -> None:
    """The five seed experiments, one hour each, starting on their own day (so every
    run has its own id); warnings at each experiment's seed rates, repeated over the hour."""
    rnd = random.Random(index)
    folder.mkdir(parents=True, exist_ok=True)
    start = dt.datetime(2026, 2, 10, 10) + dt.timedelta(days=index)
    for name, (rates, target) in SEED.items():
        every = max(5, 60 * 60 // (len(rates) * 60))  # the seed's warnings/min, kept
        warned = {s: rnd.choice(rates) for s in range(2, HOUR, every)}
        stamp = start.strftime("%Y-%m-%d")
        lines = [
            f"INFO {stamp} 10:00:00 t_record.py:435 {{'dataset': {{'fps': {target}}}}}",
            f"INFO {stamp} 10:00:00 gs/video.py:186 Auto-selected video codec: h264_nvenc",
            f"INFO {stamp} 10:00:00 ls/utils.py:147 Recording episode 0",
        ]
        for sec, hz in warned.items():
            t = (start + dt.timedelta(seconds=sec)).strftime("%Y-%m-%d %H:%M:%S")
            lines.append(
                f"WARNING {t} t_record.py:352 Record loop is running slower ({hz} Hz) than "
                f"the target FPS ({target} Hz)."
            )
        end = (start + dt.timedelta(seconds=HOUR)).strftime("%Y-%m-%d %H:%M:%S")
        lines += [
            f"INFO {end} ls/utils.py:147 Stop recording",
            f"INFO {end} ls/utils.py:147 Exiting",
        ]
        (folder / f"{name}_record.log").write_text("\n".join(lines) + "\n")
        teg = []
        for s in range(HOUR + 1):
            loads = [20 + (s * 7 + i * 3 + index) % 25 for i in range(14)]
            if s in warned:
                loads[s % 14] = 90 + s % 11
            cpus = ",".join(f"{x}%@1566" for x in loads)
            t = (start + dt.timedelta(seconds=s)).strftime("%m-%d-%Y %H:%M:%S")
            teg.append(
                f"{t} RAM 50{s % 1000:03d}/125772MB (lfb 34x4MB) CPU [{cpus}] EMC_FREQ 0%@2750 "
                f"GR3D_FREQ @[314,314,314] NVENC0_FREQ @314 cpu@{45 + s % 5}.0C "
                "VIN 30000mW/30000mW"
            )
        (folder / f"{name}_tegrastats.log").write_text("\n".join(teg) + "\n")


def logs_for(sets: int) -> Path:
    """bench/.work/report-logs/set-NNNN/ for sets 0..sets-1 (kept between runs)."""
    base = WORK / "report-logs"
    for i in range(sets):
        folder = base / f"set-{i:04d}"
        if not (folder / "exp5_tegrastats.log").exists():
            write_set(folder, i)
    return base


def measure(sets: int, rounds: int, jobs: int, reuse: bool) -> dict:
    logs = logs_for(sets)
    store = WORK / f"report-runs-{sets}"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    t_import = _import(logs, store, sets, jobs, env) if not reuse or not store.exists() else None
    out = WORK / f"report-out-{sets}"
    reports = [_report(store, out, env) for _ in range(rounds)]
    runs = len(list(store.glob("*/*/manifest.json")))
    return {
        "sets": sets,
        "runs": runs,
        "import_s": t_import,
        "first_report_s": reports[0][0],
        "first_report_peak_mb": reports[0][1],
        "report_s": statistics.median(r[0] for r in reports[1:] or reports),
        "report_peak_mb": max(r[1] for r in reports[1:] or reports),
    }


def _import(logs: Path, store: Path, sets: int, jobs: int, env: dict) -> float:
    """``invoke import`` of the first ``sets`` sets into a fresh store: wall seconds."""
    shutil.rmtree(store, ignore_errors=True)
    folders = sorted(logs.glob("set-*"))[:sets]
    staged = WORK / f"report-import-{sets}"
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    for f in folders:
        (staged / f.name).symlink_to(f)
    t0 = time.perf_counter()
    subprocess.run(
        [INVOKE, "import", "--logs", str(staged), "--runs", str(store), "--playbook",
         str(PLAYBOOK), "--jobs", str(jobs)], cwd=ROOT, env=env, check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - t0


def _report(store: Path, out: Path, env: dict) -> tuple[float, float]:
    """One ``invoke report`` in a fresh process: wall seconds and its peak RSS (MB)."""
    # RUSAGE_CHILDREN keeps the largest child so far, so the report's own peak is
    # read by an interpreter whose only child is the report
    code = (
        "import resource, subprocess, sys; "
        "r = subprocess.run(sys.argv[1:], capture_output=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)"
    )
    t0 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-c", code, INVOKE, "report", "--runs", str(store), "--out",
         str(out), "--playbook", str(PLAYBOOK)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - t0
    rss_kb, code_ = res.stdout.split()
    if code_ != "0":
        sys.exit(f"invoke report failed over {store}")
    return elapsed, int(rss_kb) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="200", help="comma-separated numbers of sets (x5 runs)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-write", action="store_true", help="do not append to docs/")
    ap.add_argument("--reuse", action="store_true", help="report over stores already imported")
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sets.split(","))
    results = []
    for n in sizes:
        results.append(measure(n, args.rounds, args.jobs, args.reuse))
        print(json.dumps(results[-1]), flush=True)
    rows = [
        "| run-hours (runs) | import s | first report s (peak MB) | report s, warm (median) "
        "| warm report peak RSS MB |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        imp = f"{r['import_s']:.0f}" if r["import_s"] is not None else "(earlier)"
        rows.append(
            f"| {r['runs']} ({r['sets']} sets) | {imp} | {r['first_report_s']:.1f} "
            f"({r['first_report_peak_mb']:.0f}) | {r['report_s']:.1f} | "
            f"{r['report_peak_mb']:.0f} |"
        )
    base = results[0]
    ratios = [
        f"- peak RSS at {r['runs']} run-hours / at {base['runs']}: "
        f"**{r['report_peak_mb'] / base['report_peak_mb']:.2f}x**"
        for r in results[1:]
    ]
    text = "\n".join(
        [
            f"`bench/report.py --sets {args.sets} --rounds {args.rounds} --jobs {args.jobs}` on "
            f"{machine()}; the machine was shared with other work while it ran. Seed-shaped "
            "runs (five experiments per set, one hour each, tegrastats at 1 Hz); "
            "`invoke import` then `invoke report` in fresh processes, peak RSS from "
            "getrusage(RUSAGE_CHILDREN).",
            "",
            *rows,
            "",
            *ratios,
        ]
    )
    print(text)
    if not args.no_write:
        print(f"appended to {append_results('report', text)}")


if __name__ == "__main__":
    main()
