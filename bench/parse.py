"""Benchmark the log parsers against the floor and against jetson-stats' decoder.

    .venv/bin/python bench/parse.py [--lines 1000000] [--rounds 3]

Generates (once, under bench/.work/) a Thor-dialect tegrastats log and a lerobot-record log,
then times in the same run, each measurement in a fresh process so its peak RSS is its own:
  floor           read the file and split it into lines
  read_tegrastats labkit.parse.read_tegrastats
  jtop            jetson-stats' jtop.core.tegra_parse decoder, line by line (installed into
                  bench/.work/jtop-venv for this benchmark only; run once, it is slow)
  read_record_log labkit.workloads.lerobot.log.read_record_log (and its floor)
Wall and CPU time (all threads: pyarrow's CSV reader uses two) are both reported: on a
shared machine CPU time is the steadier of the two.
Imports (pandas, pyarrow, jtop) happen before each clock starts and are reported apart:
they are a fixed cost per process, not part of the per-line cost. Rounds alternate the
measurements so machine noise hits them alike; medians are reported and appended to
docs/benchmarks.md with the machine and the date.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import venv
from pathlib import Path

from lab import ROOT, WORK, append_results, machine

THOR = (
    "{ts} RAM {ram}/125772MB (lfb 34x4MB) CPU [{cpu}] EMC_FREQ 0%@2750 "
    "GR3D_FREQ @[314,314,314] NVENC0_FREQ @314 NVENC1_FREQ @314 NVDEC0_FREQ @314 "
    "NVDEC1_FREQ @314 NVJPG0_FREQ @314 VIC off OFA_FREQ @315 PVA0_FREQ off APE 300 "
    "cpu@{t1:.3f}C tj@{t2:.3f}C soc012@37.468C gpu@38.875C soc345@37.406C "
    "VDD_GPU 1962mW/1962mW VDD_CPU_SOC_MSS {p}mW/5887mW VIN_SYS_5V0 5635mW/5635mW "
    "VIN 19780mW/19780mW\n"
)
WARN = (
    "WARNING {ts} t_record.py:423 Record loop is running slower ({hz:.1f} Hz) than the "
    "target FPS (30 Hz). Dataset frames might be dropped and robot control might be "
    "unstable. Common causes are: 1) Camera FPS not keeping up 2) Policy inference taking "
    "too long 3) CPU starvation\n"
)

# name -> (setup, body): the setup (imports: a fixed cost per process, not per line) runs
# before the clock starts and is reported on its own; the body is what is timed
MEASURE = {
    "floor_tegrastats": ("", "data = open(P, 'rb').read().splitlines(); n = len(data)"),
    "read_tegrastats": (
        # the compiled kernel (a 1M-line log takes it) loads with the imports: a fixed cost
        "from labkit.parse import read_tegrastats; import labkit.parse.tegrastats_compiled",
        "n = len(read_tegrastats(P))",
    ),
    "floor_record": ("", "data = open(P, 'rb').read().splitlines(); n = len(data)"),
    "read_record_log": (
        "from labkit.workloads.lerobot.log import read_record_log",
        "n = len(read_record_log(P))",
    ),
    "jtop": (
        "from jtop.core.tegra_parse import DATE, VALS, MTS, RAM, SWAP, IRAM, CPUS, TEMPS, WATTS",
        "n = 0\n"
        "for line in open(P):\n"
        "    text = DATE(line)\n"
        "    s = VALS(text); s['MTS'] = MTS(text); s['RAM'] = RAM(text); s['SWAP'] = SWAP(text)\n"
        "    s['IRAM'] = IRAM(text); s['CPU'] = CPUS(text); s['TEMP'] = TEMPS(text)\n"
        "    s['WATT'] = WATTS(text); n += 1\n",
    ),
}
# wall time, and CPU time (all threads) that other work on a shared machine perturbs less
RUNNER = (
    "import resource, sys, time\nP = sys.argv[1]\nt_setup = time.perf_counter()\n{setup}\n"
    "setup = time.perf_counter() - t_setup\nt0 = time.perf_counter()\nc0 = time.process_time()\n"
    "{body}\nel = time.perf_counter() - t0\ncpu = time.process_time() - c0\n"
    "print(el, n, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, setup, cpu)\n"
)


def generate(lines: int) -> tuple[Path, Path]:
    WORK.mkdir(parents=True, exist_ok=True)
    teg, rec = WORK / f"thor-{lines}.log", WORK / f"record-{lines}.log"
    rnd = random.Random(42)
    start = dt.datetime(2026, 4, 21, 15, 0, 0)
    if not teg.exists():
        with open(teg, "w") as fh:
            for i in range(lines):
                ts = (start + dt.timedelta(seconds=i)).strftime("%m-%d-%Y %H:%M:%S")
                cpu = ",".join(
                    f"{rnd.randint(0, 100)}%@{rnd.choice((972, 1566, 2601))}" for _ in range(14)
                )
                fh.write(
                    THOR.format(
                        ts=ts,
                        ram=rnd.randint(90000, 110000),
                        cpu=cpu,
                        t1=rnd.uniform(35, 80),
                        t2=rnd.uniform(35, 80),
                        p=rnd.randint(4000, 9000),
                    )
                )
    if not rec.exists():
        with open(rec, "w") as fh:
            for i in range(lines):
                ts = (start + dt.timedelta(seconds=i // 30)).strftime("%Y-%m-%d %H:%M:%S")
                if i % 1000 == 0:
                    fh.write(f"INFO {ts} ls/utils.py:227 Recording episode {i // 1000}\n")
                else:
                    fh.write(WARN.format(ts=ts, hz=rnd.uniform(5, 29.9)))
    return teg, rec


def jtop_python() -> str:
    env = WORK / "jtop-venv"
    py = env / "bin" / "python"
    if not py.exists():
        venv.create(env, with_pip=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "jetson-stats"], check=True)
    return str(py)


def measure(name: str, path: Path, python: str = sys.executable) -> dict:
    setup, body = MEASURE[name]
    code = RUNNER.format(setup=setup, body=body)
    out = subprocess.run(
        [python, "-c", code, str(path)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    el, n, rss, setup_s, cpu = out.stdout.split()
    return {
        "seconds": float(el),
        "cpu_s": float(cpu),
        "lines": int(n),
        "peak_rss_mb": int(rss) / 1024,
        "setup_s": float(setup_s),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-jtop", action="store_true", help="skip jetson-stats (offline)")
    ap.add_argument("--no-write", action="store_true", help="do not append to docs/")
    args = ap.parse_args()
    teg, rec = generate(args.lines)
    results: dict[str, list[dict]] = {k: [] for k in MEASURE}
    for r in range(args.rounds):
        for name, path in (
            ("floor_tegrastats", teg),
            ("read_tegrastats", teg),
            ("floor_record", rec),
            ("read_record_log", rec),
        ):
            results[name].append(measure(name, path))
            print(f"round {r + 1} {name:18s} {results[name][-1]['seconds']:.2f} s", flush=True)
    if not args.no_jtop:
        results["jtop"].append(measure("jtop", teg, jtop_python()))
        print(f"jtop {results['jtop'][-1]['seconds']:.2f} s", flush=True)
    med = {k: statistics.median(x["seconds"] for x in v) for k, v in results.items() if v}
    rss = {k: max(x["peak_rss_mb"] for x in v) for k, v in results.items() if v}
    setup = {k: statistics.median(x["setup_s"] for x in v) for k, v in results.items() if v}
    cpu = {k: statistics.median(x["cpu_s"] for x in v) for k, v in results.items() if v}
    rows = [
        ("read + split lines (floor)", "tegrastats", "floor_tegrastats"),
        ("labkit read_tegrastats", "tegrastats", "read_tegrastats"),
        ("jetson-stats tegra_parse, line by line", "tegrastats", "jtop"),
        ("read + split lines (floor)", "record log", "floor_record"),
        ("labkit read_record_log", "record log", "read_record_log"),
    ]
    lines = [
        "| what | log | median s | µs/line | CPU s | peak RSS MB | imports s (not in the time) |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, log, key in rows:
        if key in med:
            lines.append(
                f"| {label} | {log} | {med[key]:.2f} | "
                f"{med[key] / args.lines * 1e6:.2f} | {cpu[key]:.2f} | {rss[key]:.0f} | "
                f"{setup[key]:.2f} |"
            )
    teg_ratio = med["read_tegrastats"] / med["floor_tegrastats"]
    rec_ratio = med["read_record_log"] / med["floor_record"]
    teg_cpu = cpu["read_tegrastats"] / cpu["floor_tegrastats"]
    rec_cpu = cpu["read_record_log"] / cpu["floor_record"]
    ratios = [
        f"- read_tegrastats / floor: **{teg_ratio:.2f}x** (target <= 2x); CPU time {teg_cpu:.2f}x",
        f"- read_record_log / floor: **{rec_ratio:.2f}x** (target <= 5x); CPU time {rec_cpu:.2f}x",
    ]
    if "jtop" in med:
        ratios.insert(
            1,
            f"- jetson-stats / read_tegrastats: "
            f"**{med['jtop'] / med['read_tegrastats']:.1f}x faster** (target >= 20x)",
        )
    text = "\n".join(
        [
            f"`bench/parse.py --lines {args.lines} --rounds {args.rounds}` on {machine()}. "
            f"{args.lines:,} lines per log; medians over {args.rounds} alternating rounds; the "
            "machine was shared with other work while it ran, so only the ratios (each "
            "against the floor measured in the same run) compare; jetson-stats: one run. "
            "Each measurement runs in a fresh process; its imports "
            "happen before the clock starts (shown apart: a fixed cost, not a per-line one).",
            "",
            *lines,
            "",
            *ratios,
        ]
    )
    print(text)
    print(json.dumps(med))
    if not args.no_write:
        print(f"appended to {append_results('parse', text)}")


if __name__ == "__main__":
    main()
