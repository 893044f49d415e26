"""Where the loop thread's time goes, from py-spy's stacks and the workload's stage map
(``Observed.stages``): each sample's stage, the loop thread's stretches between sleeps, and
the late ones matched to the workload's late events.

A sample belongs to the first stage of the map, in its order, that one of its frames names;
anything else inside the loop function is ``other``. A late stretch is the loop thread
running with no sleep for longer than its budget (LeRobot skips the sleep after an
iteration over budget, so the late one and its neighbours run back to back). A late event
is matched to the late stretch that ended in the window it covers, give or take 50 ms
(LeRobot's warning: the whole second it names, its log having whole seconds; a command's
event: its time).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from pathlib import Path
from typing import Any

import pandas as pd

from labkit.core.observed import LoopProfile, LoopStretch, Observed, StageMap
from labkit.parse.pyspy import COLUMNS, PySpyTraceError, read_pyspy

SLACK = pd.Timedelta(seconds=0.05)  # a late stretch ends this near its event's window
GAP_S = 0.05  # loop-thread time apart by more than this is two stretches
LOOP_COLUMNS = ["start", "end", "stage", "seconds", "tid"]


def read_profile(trace: Path, meta: Path) -> pd.DataFrame:
    """py-spy's segments; a cut trace (py-spy killed mid-write) gives none, with why in
    ``attrs["error"]``: the run has no profile, the report still builds."""
    try:
        return read_pyspy(trace, meta)
    except PySpyTraceError as exc:
        empty = pd.DataFrame(columns=COLUMNS)
        empty.attrs["error"] = str(exc)
        return empty


def stage_of(stack: tuple[str, ...], stages: StageMap) -> str:
    """The stage of one sampled stack. Frames are ``Class.method`` on Python 3.11+ and bare
    ``method`` before (py-spy names what the interpreter gives it): a pattern matches a
    frame ending with it (``.method`` also the bare ``method``), ``~text`` one containing
    it (any case)."""
    for stage, patterns in stages.rules:
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


def loop_segments(segments: pd.DataFrame | None, stages: StageMap) -> pd.DataFrame:
    """The loop thread's segments inside the loop function, with their stage and length
    (the loop thread: the one with the most segments in it)."""
    if segments is None or segments.empty:
        return pd.DataFrame(columns=LOOP_COLUMNS)
    inside = segments["stack"].map(lambda s: stages.loop_function in s)
    in_loop = segments[inside & segments["tid"].notna()]
    if in_loop.empty:
        return pd.DataFrame(columns=LOOP_COLUMNS)
    tid = in_loop.groupby("tid").size().idxmax()
    mine = in_loop[in_loop["tid"] == tid].sort_values("start")
    # an hour's profile repeats a few dozen stacks: each is matched once
    stage = {stack: stage_of(stack, stages) for stack in set(mine["stack"])}
    out = pd.DataFrame(
        {
            "start": mine["start"].to_numpy(),
            "end": mine["end"].to_numpy(),
            "stage": [stage[s] for s in mine["stack"]],
            "tid": tid,
        }
    )
    out["seconds"] = (out["end"] - out["start"]).dt.total_seconds()
    return out[LOOP_COLUMNS]


def stretches(
    loop: pd.DataFrame, sleep: str, longer_than: float | None = None
) -> list[LoopStretch]:
    """The loop thread's time between two sleeps (or two gaps in the profile); only those
    longer than ``longer_than`` seconds when given (the late ones)."""
    out: list[LoopStretch] = []
    gap, least = round(GAP_S * 1e9), round((longer_than or 0.0) * 1e9)
    start = end = 0
    spent: dict[str, float] | None = None

    def close() -> None:
        if spent is not None and (longer_than is None or end - start > least):
            out.append(LoopStretch(pd.Timestamp(start), pd.Timestamp(end), spent))

    # nanoseconds as plain ints: a run-hour has some 10^5 segments
    starts = loop["start"].to_numpy(dtype="datetime64[ns]").astype("int64").tolist()
    ends = loop["end"].to_numpy(dtype="datetime64[ns]").astype("int64").tolist()
    for s, e, stage, seconds in zip(starts, ends, loop["stage"], loop["seconds"], strict=True):
        if stage == sleep:
            close()
            spent = None
            continue
        if spent is None or s - end > gap:
            close()
            start, spent = s, {}
        end = e
        spent[stage] = spent.get(stage, 0.0) + seconds
    close()
    return out


def match_late(late: pd.DataFrame | None, late_stretches: list[LoopStretch]) -> list:
    """For each late event whose window is known, the late stretch that ended in it (give
    or take ``SLACK``): with the rate the event measured, the one whose length is closest
    to that iteration (1/Hz), else the longest. Each stretch at most once."""
    if late is None or late.empty:
        return []
    known = late.dropna(subset=["start", "end"])
    ends = [s.end for s in late_stretches]  # in time order: found by bisection
    used: set[int] = set()
    out: list[LoopStretch | None] = []
    for start, end, hz in zip(known["start"], known["end"], known["hz"], strict=True):
        lo, hi = bisect_left(ends, start - SLACK), bisect_left(ends, end + SLACK)
        cands = [i for i in range(lo, hi) if i not in used]
        pick = None
        if cands:
            rate = float(hz)
            if math.isfinite(rate) and rate > 0:
                pick = min(cands, key=lambda i: abs(late_stretches[i].seconds - 1.0 / rate))
            else:
                pick = max(cands, key=lambda i: late_stretches[i].seconds)
            used.add(pick)
        out.append(late_stretches[pick] if pick is not None else None)
    return out


def loop_profile(
    segments: pd.DataFrame | None, run: Observed, source: str, cpu_pct: float | None
) -> LoopProfile:
    """The loop thread's stages and its late stretches matched to the run's late events
    (``run.stages`` is the workload's map; ``run.budget_s`` its loop's period: without one
    every stretch may be a late event's)."""
    assert run.stages is not None, "a loop profile needs the workload's stage map"
    loop = loop_segments(segments, run.stages)
    matched: list[LoopStretch | None] = []
    if len(loop):
        late = stretches(loop, run.stages.sleep, longer_than=run.budget_s)
        matched = match_late(run.late, late)
    return LoopProfile(source=source, segments=loop, matched=matched, cpu_pct=cpu_pct)


def profile_metrics(profile: LoopProfile, stages: StageMap) -> dict[str, Any]:
    """The stage shares of the loop thread's whole time and of its late stretches, and the
    share of late events placed on the profile (none when the loop was never sampled)."""
    out: dict[str, Any] = {}
    loop = profile.segments
    if loop is None or not len(loop):
        return out
    total = float(loop["seconds"].sum())
    shares = loop.groupby("stage")["seconds"].sum() / total if total else None
    for st in stages.stages:
        out[f"main_thread_stage_share_{st}"] = (
            float(shares.get(st, 0.0)) if shares is not None else None
        )
    hits = [s for s in profile.matched if s is not None]
    out["warnings_matched_share"] = len(hits) / len(profile.matched) if profile.matched else None
    if hits:
        warn_total = sum(sum(s.stages.values()) for s in hits)
        for st in stages.stages:
            got = sum(s.stages.get(st, 0.0) for s in hits)
            out[f"warn_stage_share_{st}"] = got / warn_total if warn_total else None
    return out
