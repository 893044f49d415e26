"""Where the record loop's time goes: py-spy stacks mapped to LeRobot's stages, late
iterations found on the loop thread, warnings matched to them, and the threads' CPU there.

Stages, from LeRobot's function names (0.3-0.6: ``record_loop`` ->
``robot.get_observation`` -> each camera's ``async_read``; ``teleop.get_action``;
``robot.send_action``; ``dataset.add_frame``; the processors; ``precise_sleep`` /
``busy_wait``). A sample belongs to the first stage, in this order, that one of its frames
names: a camera read inside ``get_observation`` is ``camera_read``, a motor read inside
``teleop.get_action`` is ``teleop``; anything else inside ``record_loop`` is ``other``.

A late iteration is a stretch of the loop thread with no sleep longer than the loop's
budget (1/fps): LeRobot skips the sleep after an iteration over budget, so the late one and
its neighbours run back to back. A warning is matched to the late stretch that ended in the
second the warning was logged (LeRobot's log has whole seconds).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from labkit.core.metrics import UNKNOWN
from labkit.parse.pyspy import PySpyTraceError
from labkit.probes.pyspy import PySpy
from labkit.probes.threads import Threads
from labkit.probes.threads.probe import MIN_INTERVAL_MS
from labkit.workloads.lerobot.stages import (
    LOOP,
    RULES,
    STAGES,
    camera_devices,
    camera_of_thread,
)

SATURATED_PCT = 90.0
TOP_SHARE = 0.25  # a camera is named when its read ran long in this share of warnings


def stage_of(stack: tuple[str, ...]) -> str:
    """The stage of one sampled stack. Frames are ``Class.method`` on Python 3.11+ and bare
    ``method`` before (py-spy names what the interpreter gives it): both match."""
    for stage, patterns in RULES:
        for frame in stack:
            low = frame.lower()
            for p in patterns:
                if p.startswith("~"):
                    hit = p[1:].lower() in low
                else:
                    hit = frame.endswith(p) or (p.startswith(".") and frame == p[1:])
                if hit:
                    return stage
    return "other"


@dataclass
class Stretch:
    """Loop-thread time between two sleeps."""

    start: pd.Timestamp
    end: pd.Timestamp
    stages: Counter  # stage -> seconds

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def loop_segments(segments: pd.DataFrame) -> pd.DataFrame:
    """The loop thread's segments inside ``record_loop``, with their stage and length."""
    if segments is None or segments.empty:
        return pd.DataFrame(columns=["start", "end", "stage", "seconds", "tid"])
    in_loop = segments[segments["stack"].map(lambda s: LOOP in s) & segments["tid"].notna()]
    if in_loop.empty:
        return pd.DataFrame(columns=["start", "end", "stage", "seconds", "tid"])
    tid = in_loop.groupby("tid").size().idxmax()
    mine = in_loop[in_loop["tid"] == tid].sort_values("start")
    out = pd.DataFrame(
        {
            "start": mine["start"].to_numpy(),
            "end": mine["end"].to_numpy(),
            "stage": [stage_of(s) for s in mine["stack"]],
            "tid": tid,
        }
    )
    out["seconds"] = (out["end"] - out["start"]).dt.total_seconds()
    return out


def stretches(loop: pd.DataFrame) -> list[Stretch]:
    out: list[Stretch] = []
    cur: Stretch | None = None
    for row in loop.itertuples():
        if row.stage == "sleep":
            if cur is not None:
                out.append(cur)
                cur = None
            continue
        if cur is None or (row.start - cur.end).total_seconds() > 0.05:
            if cur is not None:
                out.append(cur)
            cur = Stretch(row.start, row.end, Counter())
        cur.end = row.end
        cur.stages[row.stage] += row.seconds
    if cur is not None:
        out.append(cur)
    return out


def match_warnings(
    warned: pd.Series, late: list[Stretch], hz: pd.Series | None = None
) -> list[Stretch | None]:
    """For each warning time (whole seconds), the late stretch that ended in that second;
    with the warned rates, the one whose length is closest to the iteration the warning
    measured (1/Hz). Each stretch at most once."""
    used: set[int] = set()
    out: list[Stretch | None] = []
    rates = list(hz) if hz is not None else [None] * len(warned)
    for t, rate in zip(warned, rates, strict=True):
        lo, hi = t - pd.Timedelta(seconds=0.05), t + pd.Timedelta(seconds=1.05)
        cands = [i for i, s in enumerate(late) if i not in used and lo <= s.end < hi]
        pick = None
        if cands:
            want = 1.0 / float(rate) if rate and rate == rate and rate > 0 else None
            pick = min(cands, key=lambda i: abs(late[i].seconds - want)) if want else cands[0]
            used.add(pick)
        out.append(late[pick] if pick is not None else None)
    return out


def _busy_camera(
    threads: pd.DataFrame | None, devices: dict[str, str], s: Stretch, budget: float
) -> str | None:
    """The camera whose read thread used the most CPU above its own median over a late
    stretch (the threads probe's intervals that overlap it): the camera the loop waited on
    when its capture ran long. None without the threads probe or with no such excess."""
    if threads is None or threads.empty:
        return None
    interval = threads.groupby("tid")["time"].diff().dt.total_seconds().median()
    interval = float(interval) if interval == interval else 0.1
    lo = s.start - pd.Timedelta(seconds=budget)
    hi = s.end + pd.Timedelta(seconds=interval)
    best, excess = None, 5.0  # percentage points above its usual
    for name, mine in threads.groupby("name"):
        cam = camera_of_thread(str(name), devices)
        if cam is None:
            continue
        near = mine[(mine["time"] > lo) & (mine["time"] <= hi)]
        if near.empty:
            continue
        over = float(near["cpu_pct"].max()) - float(mine["cpu_pct"].median())
        if over > excess:
            best, excess = cam, over
    return best


def deep_metrics(
    events: pd.DataFrame | None,
    segments: pd.DataFrame | None,
    threads: pd.DataFrame | None,
    fps: float | None,
    devices: dict[str, str],
    probe_cpu_pct: float | None = None,
    camera_fps: float | None = None,
) -> dict[str, Any]:
    """The metrics of the deeper look (names in ``DEEP_METRICS`` and per-camera ones)."""
    out: dict[str, Any] = {}
    budget = 1.0 / fps if fps else None
    slow = (
        events[(events["kind"] == "slow_loop") & events["time"].notna()]
        if events is not None
        else pd.DataFrame({"time": pd.Series(dtype="datetime64[ns]")})
    )
    warned = slow["time"]
    warned_hz = slow.get("hz")
    loop = loop_segments(segments) if segments is not None else loop_segments(None)
    matched: list[Stretch | None] = []
    if len(loop):
        total = loop["seconds"].sum()
        shares = loop.groupby("stage")["seconds"].sum() / total if total else None
        for st in STAGES:
            out[f"main_thread_stage_share_{st}"] = (
                float(shares.get(st, 0.0)) if shares is not None else None
            )
        late = [s for s in stretches(loop) if budget and s.seconds > budget]
        matched = match_warnings(warned, late, warned_hz) if len(warned) else []
        hits = [s for s in matched if s is not None]
        out["warnings_matched_share"] = len(hits) / len(matched) if matched else None
        if hits:
            warn_total = sum(sum(s.stages.values()) for s in hits)
            for st in STAGES:
                got = sum(s.stages.get(st, 0.0) for s in hits)
                out[f"warn_stage_share_{st}"] = got / warn_total if warn_total else None
            cams = Counter(
                _busy_camera(threads, devices, s, budget)
                for s in hits
                if s.stages.get("camera_read", 0) >= 0.5 * sum(s.stages.values())
            )
            cams.pop(None, None)
            for cam in sorted(set(devices.values())):
                out[f"warn_camera_share_{cam}"] = cams.get(cam, 0) / len(hits)
            top = cams.most_common(1)[0] if cams else None
            # named only when it explains a real part of the warnings, not a stray one
            out["warn_camera_top"] = top[0] if top and top[1] / len(hits) >= TOP_SHARE else None
    if threads is not None and len(threads):
        out.update(_thread_metrics(threads, warned, matched, devices, camera_fps or fps))
    if probe_cpu_pct is not None:
        out["probe_cpu_pct"] = probe_cpu_pct
    return out


def _thread_metrics(threads, warned, matched, devices, fps) -> dict[str, Any]:
    """Per-thread CPU in the late stretches and per camera (``fps``: the cameras')."""
    out: dict[str, Any] = {}
    interval = threads.groupby("tid")["time"].diff().dt.total_seconds().median()
    interval = float(interval) if interval == interval else 0.1  # NaN-safe
    # a thread's CPU is known per sampling interval: only a late stretch of at least two
    # intervals can show a thread pegged through it (a shorter one is averaged away)
    long = [s for s in matched if s is not None and s.seconds >= 2 * interval]
    if long:
        sat = 0
        for s in long:
            lo, hi = s.start + pd.Timedelta(seconds=interval), s.end
            near = threads[(threads["time"] > lo) & (threads["time"] <= hi)]
            sat += bool(len(near) and near["cpu_pct"].max() >= SATURATED_PCT)
        out["warnings_single_thread_saturated_share"] = sat / len(long)
    elif len(warned):
        out["warnings_single_thread_saturated_share"] = None  # too short to tell
        why = too_short(matched, len(warned), interval)
        out[UNKNOWN] = {"warnings_single_thread_saturated_share": why}
    per_frame = 1000.0 / fps if fps else None
    for name in threads["name"].unique():
        cam = camera_of_thread(str(name), devices)
        if cam is None or per_frame is None:
            continue
        pct = threads.loc[threads["name"] == name, "cpu_pct"].to_numpy(dtype=float)
        ms = pct / 100.0 * per_frame  # CPU ms of the read thread per captured frame
        out[f"camera_read_ms_p50_{cam}"] = float(np.percentile(ms, 50))
        out[f"camera_read_ms_p95_{cam}"] = float(np.percentile(ms, 95))
        out[f"camera_read_ms_max_{cam}"] = float(ms.max())
        out[f"camera_read_thread_cpu_pct_{cam}"] = float(pct.mean())
    return out


def too_short(matched: list[Stretch | None], warned: int, interval: float) -> str:
    """Why no late stretch could show a thread pegged through it, and what would: the
    ``threads`` interval that makes the longest matched stretch two intervals long."""
    hits = [s for s in matched if s is not None]
    if not hits:
        if not matched:
            return (
                f"none of the {warned} late events could be placed on the loop thread "
                "(no py-spy profile of its late iterations: add the `pyspy` probe)"
            )
        return (
            f"none of the {warned} late events was matched to a late iteration of the "
            "py-spy profile"
        )
    longest = max(s.seconds for s in hits) * 1000.0
    step = int(longest // 2)
    fix = (
        f"a `threads` interval of {step} ms (`probe_options: {{threads: {{interval_ms: "
        f"{step}}}}}`) would decide it"
        if step >= MIN_INTERVAL_MS
        else f"even the shortest `threads` interval ({MIN_INTERVAL_MS} ms) is too long for them"
    )
    return (
        f"no late stretch was two sampling intervals long (the longest of the {len(hits)} "
        f"matched to a warning: {longest:.0f} ms; the `threads` interval: "
        f"{interval * 1000:.0f} ms); {fix}"
    )


def run_deep_metrics(run_dir, manifest: dict, events: pd.DataFrame | None) -> tuple[dict, dict]:
    """The deeper-look metrics of one run from its pulled probe logs (``pyspy.json``,
    ``threads.log``), and the tables they came from (for the report's figures). Empty when
    the run had neither probe."""
    run_dir = Path(run_dir)
    notes = []
    try:
        segments = PySpy().parse(run_dir)
    except PySpyTraceError as exc:  # a cut trace (py-spy killed): this run has no profile
        segments, notes = None, [str(exc)]
    threads = Threads().parse(run_dir)
    if segments is None and threads is None:
        return ({"profile_note": "; ".join(notes)} if notes else {}), {"segments": None}
    params = manifest.get("params") or {}
    fps = params.get("dataset.fps")
    commands = manifest.get("commands") or {}
    # the record command line: schema 2 calls it the workload's, schema 1 the record's
    devices = camera_devices(commands.get("workload_argv") or commands.get("record_argv"))
    # each probe's CPU over its own running time (percent of one core), summed
    pct = 0.0
    if threads is not None and threads.attrs.get("self_cpu_s") is not None and len(threads):
        span = (threads["time"].max() - threads["time"].min()).total_seconds()
        pct += float(threads.attrs["self_cpu_s"]) / span * 100 if span > 0 else 0.0
    meta = run_dir / "pyspy-meta.json"
    if meta.exists():
        m = json.loads(meta.read_text())
        span = float(m.get("end_epoch") or 0) - float(m.get("start_epoch") or 0)
        pct += float(m.get("cpu_s") or 0.0) / span * 100 if span > 0 else 0.0
    cam_fps = params.get("camera.fps")
    metrics = deep_metrics(
        events, segments, threads, float(fps) if fps else None, devices, pct,
        float(cam_fps) if cam_fps else None,
    )  # fmt: skip
    if notes:
        metrics["profile_note"] = "; ".join(notes)
    return metrics, {"segments": segments, "threads": threads}
