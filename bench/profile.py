"""Benchmark the pyspy probe's stage analysis of a long profile against reading it.

    .venv/bin/python bench/profile.py [--seconds 3600] [--rounds 3]

Generates (once, under bench/.work/) the py-spy chrometrace of a LeRobot-shaped record
loop (its function names, 30 iterations a second sampled 50 times a second for
``--seconds``, three camera read threads, a stall every 5 s) and its late events (one per
stall), and the threads probe's samples of 20 threads every 100 ms (the stalled camera's
read thread busy in the stalls), then times in the same run, rounds alternating:
  read     labkit.parse.pyspy.read_pyspy: the trace -> stack segments (the floor: every
           report of a profiled run reads its trace)
  analysis the pyspy probe's profile and metrics (``PySpy.profile`` + ``run_metrics``):
           stages by LeRobot's stage map, late stretches, late events matched to them
  threads  the threads probe's metrics over that profile (``Threads.run_metrics``: the
           loop thread, a pegged thread in the late stretches, the busy camera, per camera)
Wall and CPU time; medians appended to docs/benchmarks.md with the machine and the date,
the analysis as a ratio to the read.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from lab import WORK, append_results, machine

from labkit.core.late import late_table
from labkit.core.observed import Observed
from labkit.parse.pyspy import read_pyspy
from labkit.probes.pyspy import PySpy
from labkit.probes.threads import Threads
from labkit.workloads.lerobot.stages import STAGE_MAP, camera_of_thread

START = 1767261600.0  # 2026-01-01 10:00 UTC
LOOP = ["main", "record_loop"]
# an iteration's stages in order, with their share of its 33 ms (the rest: the sleep)
ITERATION = [
    (["SO101Follower.get_observation", "OpenCVCamera.async_read", "Event.wait"], 0.25),
    (["SO101Follower.get_observation", "FeetechMotorsBus.sync_read"], 0.10),
    (["SO101Leader.get_action", "FeetechMotorsBus.sync_read"], 0.05),
    (["RobotProcessorPipeline.__call__"], 0.05),
    (["SO101Follower.send_action", "FeetechMotorsBus.sync_write"], 0.05),
    (["LeRobotDataset.add_frame", "StreamingVideoEncoder.feed_frame"], 0.10),
]
SLEEP = ["precise_sleep"]
STALL_EVERY_S = 5.0
STALL_S = 0.12


def stack_at(t: float) -> list[str]:
    """The loop thread's stack at ``t`` seconds: within its iteration, or in a stall."""
    since_stall = t % STALL_EVERY_S
    if since_stall >= STALL_EVERY_S - STALL_S:  # the camera read stalls
        return LOOP + ITERATION[0][0]
    phase = (t * 30) % 1.0
    for frames, share in ITERATION:
        if phase < share:
            return LOOP + frames
        phase -= share
    return LOOP + SLEEP


def generate(seconds: float, folder: Path) -> tuple[Path, Path, pd.DataFrame]:
    """The trace, its meta and the late events (one a stall, logged in the second after)."""
    folder.mkdir(parents=True, exist_ok=True)
    trace, meta = folder / f"pyspy-{seconds:g}s.json", folder / f"pyspy-{seconds:g}s-meta.json"
    rng = random.Random(7)
    if not trace.exists():
        events: list[dict] = []
        threads = [(100, "MainThread")] + [
            (101 + i, f"OpenCVCamera(/dev/video{2 * i})_read_loop") for i in range(3)
        ]
        reading = ("OpenCVCamera._read_loop", "OpenCVCamera.read")  # a camera thread's stack
        for tid, name in threads:
            events.append({"name": f"thread ({tid}): {name}", "ph": "B", "ts": 0, "tid": tid})
            if tid != 100:
                events += [{"name": f, "ph": "B", "ts": 0, "tid": tid} for f in reading]
        cur: list[str] = []
        n = int(seconds * 50)
        for i in range(n):
            t = i / 50 + rng.uniform(0, 0.004)  # py-spy's sampling is not exact
            new = stack_at(t)
            same = 0
            while same < min(len(cur), len(new)) and cur[same] == new[same]:
                same += 1
            ts = round(t * 1e6)
            events += [{"name": f, "ph": "E", "ts": ts, "tid": 100} for f in reversed(cur[same:])]
            events += [{"name": f, "ph": "B", "ts": ts, "tid": 100} for f in new[same:]]
            cur = new
        end = round(seconds * 1e6)
        events += [{"name": f, "ph": "E", "ts": end, "tid": 100} for f in reversed(cur)]
        for tid, name in threads:
            if tid != 100:
                events += [{"name": f, "ph": "E", "ts": end, "tid": tid} for f in reversed(reading)]
            events.append({"name": f"thread ({tid}): {name}", "ph": "E", "ts": end, "tid": tid})
        trace.write_text(json.dumps(events))
        kept = {"start_epoch": START, "utc_offset_s": 0, "end_epoch": START + seconds}
        meta.write_text(json.dumps({**kept, "cpu_s": seconds * 0.02}))
    stalls = [k * STALL_EVERY_S for k in range(1, int(seconds / STALL_EVERY_S))]
    logged = pd.to_datetime([START + s for s in stalls], unit="s").floor("s")
    late = late_table(logged, logged, logged + pd.Timedelta(seconds=1), [5.0] * len(logged))
    return trace, meta, late


CAMERAS = {f"/dev/video{2 * i}": name for i, name in enumerate(["context", "right", "left"])}


def thread_samples(seconds: float) -> pd.DataFrame:
    """The threads probe's samples: 20 threads every 100 ms, random loads; the read thread
    of /dev/video2 at 95 % of a core through each stall."""
    names = ["MainThread", *(f"OpenCVCamera({d})_read_loop" for d in CAMERAS)]
    names += [f"encoder-{i}" for i in range(20 - len(names))]
    n = int(seconds * 10)
    times = pd.date_range(pd.Timestamp(START, unit="s"), periods=n, freq="100ms")
    cpu = np.random.default_rng(7).uniform(0, 60, n * len(names))
    ms = times.to_numpy(dtype="datetime64[ns]").astype("int64") // 10**6
    stalled = ms % round(STALL_EVERY_S * 1000)
    busy = stalled >= round((STALL_EVERY_S - STALL_S) * 1000)
    cpu[2 * n : 3 * n][busy] = 95.0
    table = pd.DataFrame({"pid": 100, "tid": np.repeat(np.arange(len(names)), n),
                          "time": np.tile(times, len(names)), "cpu_pct": cpu,
                          "name": np.repeat(names, n)})  # fmt: skip
    table.attrs["self_cpu_s"] = seconds * 0.01
    return table


def timed(fn) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=3600.0, help="length of the profile")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-append", action="store_true", help="print, do not append")
    args = ap.parse_args()
    trace, meta, late = generate(args.seconds, WORK / "profile")
    samples = thread_samples(args.seconds)
    times: dict[str, list[tuple[float, float]]] = {"read": [], "analysis": [], "threads": []}
    metrics: dict = {}
    for _ in range(args.rounds):
        wall, cpu, seg = timed(lambda: read_pyspy(trace, meta))
        times["read"].append((wall, cpu))
        run = Observed(run_dir=trace.parent, record={}, late=late, stages=STAGE_MAP,
                       budget_s=1 / 30, device_of_thread=partial(camera_of_thread, devices=CAMERAS),
                       devices=sorted(CAMERAS.values()), device_fps=30.0)  # fmt: skip

        def analyse(seg=seg, run=run) -> dict:
            probe = PySpy()
            run.profile = probe.profile(seg, run)
            return probe.run_metrics(seg, run)

        wall, cpu, metrics = timed(analyse)
        times["analysis"].append((wall, cpu))
        wall, cpu, found = timed(lambda run=run: Threads().run_metrics(samples, run))
        times["threads"].append((wall, cpu))
    med = {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
           for k, v in times.items()}  # fmt: skip
    base_wall, base_cpu = med["read"]
    rows = [
        f"| {name} | {wall:.2f} | {cpu:.2f} | {wall / base_wall:.2f}x | {cpu / base_cpu:.2f}x |"
        for name, (wall, cpu) in med.items()
    ]
    text = (
        f"`bench/profile.py --seconds {args.seconds:g} --rounds {args.rounds}` on {machine()}. "
        f"A {args.seconds:g} s LeRobot-shaped py-spy profile ({len(seg)} segments, "
        f"{len(late)} late events; matched share {metrics.get('warnings_matched_share')}; "
        f"{len(samples)} thread samples, busy camera {found.get('warn_camera_top')}); "
        f"medians over {args.rounds} alternating rounds.\n\n"
        "| what | median wall s | median CPU s | wall / read | CPU / read |\n"
        "|---|---|---|---|---|\n" + "\n".join(rows) + "\n"
    )
    print(text)
    if not args.no_append:
        print(f"appended to {append_results('profile', text)}")


if __name__ == "__main__":
    main()
