"""Observer effect of the probes: exp1 on the simulated Jetson with no probe, tegrastats,
+threads, +pyspy at several rates, +runq, interleaved in one run (a round runs every variant
once, in a shuffled order), so machine noise falls on all of them alike.

    .venv/bin/python bench/probes.py [--rounds 3] [--seconds 20] [--variants none,+runq]

Each recording is the simulated lerobot-record with the inventory's default stalls (40 ms
in 0.5 % of iterations, a fresh seed per recording), 3 cameras at 30 fps, loop at 30 Hz;
the probes are started exactly as labkit's supervisor starts them (tegrastats before,
threads, py-spy and runq attached to the recording's pid) and each one's CPU is read from the
kernel when it exits (``os.wait4``). Reports per variant: warnings/min, the loop's achieved
rate (frames / recording time) and its ratio to no probe, and the probes' own CPU in
percent of one core. Results are appended to docs/benchmarks.md with the machine and the date.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.lab import append_results, machine  # noqa: E402
from labkit.probes.runq import Runq  # noqa: E402
from labkit.sim.deploy import bundle, install_script, paths  # noqa: E402
from labkit.workloads.lerobot.log import read_record_log  # noqa: E402

PROBES = ROOT / "src" / "labkit" / "probes"
PYSPY = str(Path(sys.executable).parent / "py-spy")
DEVICES = ["/dev/video0", "/dev/video2", "/dev/video4", "/dev/ttyACM0", "/dev/ttyACM1"]
CAMS = {"context": "/dev/video0", "right_wrist": "/dev/video2", "left_wrist": "/dev/video4"}
VARIANTS = {
    "none": [],
    "tegrastats": ["tegrastats"],
    "+threads": ["tegrastats", "threads"],
    "+pyspy 20 Hz": ["tegrastats", "threads", "pyspy:20"],
    "+pyspy 50 Hz": ["tegrastats", "threads", "pyspy:50"],
    "+pyspy 100 Hz": ["tegrastats", "threads", "pyspy:100"],
    "+pyspy 200 Hz": ["tegrastats", "threads", "pyspy:200"],
    "+runq": ["tegrastats", "runq"],
}


def record_argv(bin_dir: str, run: Path, seconds: float) -> list[str]:
    cams = ", ".join(
        f"{n}: {{type: opencv, index_or_path: {d}, width: 640, height: 480, fps: 30}}"
        for n, d in CAMS.items()
    )
    return [
        f"{bin_dir}/lerobot-record", "--robot.type=bi_dk1_follower",
        "--robot.right_arm_port=/dev/ttyACM0", "--robot.left_arm_port=/dev/ttyACM1",
        f"--robot.cameras={{{cams}}}", "--teleop.type=bi_dk1_leader",
        "--dataset.repo_id=bench/p", "--dataset.single_task=b", "--dataset.fps=30",
        f"--dataset.episode_time_s={seconds}", "--dataset.reset_time_s=0",
        "--dataset.num_episodes=1", "--dataset.push_to_hub=false",
        "--dataset.streaming_encoding=true", "--dataset.encoder_threads=2",
        "--dataset.vcodec=auto", f"--dataset.root={run}/dataset", "--display_data=false",
        "--play_sounds=false",
    ]  # fmt: skip


def cpu_of(proc: subprocess.Popen, sig: int | None) -> float:
    """Stop ``proc`` (if ``sig``) and return the CPU seconds it and its children used."""
    if sig is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, sig)  # not proc.poll(): that would reap it before wait4
    _, _, use = os.wait4(proc.pid, 0)
    proc.returncode = 0
    return use.ru_utime + use.ru_stime


def one(bin_dir: str, work: Path, probes: list[str], seconds: float) -> dict:
    run = Path(tempfile.mkdtemp(dir=work))
    out = open(run / "record.log", "wb")  # noqa: SIM115
    started = {}
    if "tegrastats" in probes:
        started["tegrastats"] = subprocess.Popen(
            [f"{bin_dir}/tegrastats", "--interval", "1000", "--logfile", str(run / "teg.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
    rec = subprocess.Popen(record_argv(bin_dir, run, seconds), stderr=out, cwd=run)
    t0 = time.monotonic()
    if "threads" in probes:
        started["threads"] = subprocess.Popen(
            [sys.executable, str(PROBES / "threads" / "threads_sampler.py"), "--pid", str(rec.pid),
             "--pyspy", PYSPY],
            stdout=open(run / "threads.log", "w"), cwd=run,  # noqa: SIM115
        )  # fmt: skip
    if "runq" in probes:
        for name, text in Runq().launch(None).files.items():  # as the supervisor places them
            (run / name).write_text(text)
        started["runq"] = subprocess.Popen(
            [sys.executable, str(run / "runq_sampler.py"), "--pid", str(rec.pid)],
            stdout=open(run / "runq.log", "w"), cwd=run,  # noqa: SIM115
        )  # fmt: skip
    for p in probes:
        if p.startswith("pyspy:"):
            started["pyspy"] = subprocess.Popen(
                [sys.executable, str(PROBES / "pyspy" / "pyspy_run.py"), "--pyspy", PYSPY,
                 "--pid", str(rec.pid), "--rate", p.split(":")[1]],
                cwd=run, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
    rec.wait()
    elapsed = time.monotonic() - t0
    cpu = {}
    for name, proc in started.items():
        sig = {"tegrastats": signal.SIGTERM, "threads": signal.SIGTERM, "runq": signal.SIGTERM}
        sig = sig.get(name)
        cpu[name] = cpu_of(proc, sig)
    events = read_record_log(run / "record.log")
    info = json.loads((run / "dataset" / "meta" / "info.json").read_text())
    warnings = int((events["kind"] == "slow_loop").sum())
    shutil.rmtree(run, ignore_errors=True)
    return {
        "warnings_per_min": warnings / seconds * 60,
        "loop_hz": info["total_frames"] / seconds,
        "probe_cpu_pct": {k: v / elapsed * 100 for k, v in cpu.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset")
    args = ap.parse_args()
    chosen = [v for v in args.variants.split(",") if v]
    unknown = [v for v in chosen if v not in VARIANTS]
    if unknown or "none" not in chosen:
        raise SystemExit(f"--variants: expected 'none' and any of {', '.join(VARIANTS)}")
    if not Path(PYSPY).exists():
        raise SystemExit(f"py-spy not found beside {sys.executable}: pip install py-spy")
    work = Path(tempfile.mkdtemp(prefix="labkit-bench-probes-"))
    wd = str(work / "wd")
    config = {"devices": DEVICES, "jitter": {"rate": 0.005, "stall_ms": 40}}
    subprocess.run(["sh", "-c", install_script(wd, python=sys.executable, config=config)],
                   input=bundle(), check=True)  # fmt: skip
    bin_dir = paths(wd)["bin"]
    results: dict[str, list[dict]] = {v: [] for v in chosen}
    order = random.Random(7)
    for r in range(args.rounds):
        names = list(chosen)
        order.shuffle(names)
        for name in names:
            results[name].append(one(bin_dir, work, VARIANTS[name], args.seconds))
            print(f"round {r + 1} {name}: {results[name][-1]}", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    lines = [
        f"Machine: {machine()}. `bench/probes.py --rounds {args.rounds} --seconds "
        f"{args.seconds:g} --variants {','.join(chosen)}`: exp1 on the simulated Jetson "
        "(3 cameras 30/30, default 40 ms stalls in 0.5 % of iterations, a fresh seed per "
        "recording), variants interleaved in shuffled rounds. Mean (lowest–highest) over "
        "rounds; probe CPU in % of one core over the recording, from the kernel "
        "(`os.wait4`); loop Hz / none: the ratio of the mean loop rates to the no-probe "
        "variant's in the same run.",
        "",
        "| variant | warnings/min | loop Hz | loop Hz / none | tegrastats CPU % | "
        "threads CPU % | py-spy CPU % | runq CPU % |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]

    def cell(values: list[float]) -> str:
        if not values:
            return "—"
        return f"{statistics.fmean(values):.2f} ({min(values):.2f}–{max(values):.2f})"

    base = statistics.fmean(r["loop_hz"] for r in results["none"])
    for name, rows in results.items():
        cpu = {
            k: [r["probe_cpu_pct"].get(k) for r in rows]
            for k in ("tegrastats", "threads", "pyspy", "runq")
        }
        hz = statistics.fmean(r["loop_hz"] for r in rows)
        lines.append(
            f"| {name} | {cell([r['warnings_per_min'] for r in rows])} | "
            f"{cell([r['loop_hz'] for r in rows])} | {hz / base:.3f} | "
            + " | ".join(cell([v for v in cpu[k] if v is not None]) for k in cpu)
            + " |"
        )
    body = "\n".join(lines)
    print(body)
    print(append_results("probes (observer effect)", body))


if __name__ == "__main__":
    main()
