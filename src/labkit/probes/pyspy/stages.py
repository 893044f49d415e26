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
from collections import Counter
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
    out = pd.DataFrame(
        {
            "start": mine["start"].to_numpy(),
            "end": mine["end"].to_numpy(),
            "stage": [stage_of(s, stages) for s in mine["stack"]],
            "tid": tid,
        }
    )
    out["seconds"] = (out["end"] - out["start"]).dt.total_seconds()
    return out[LOOP_COLUMNS]


def stretches(loop: pd.DataFrame, sleep: str) -> list[LoopStretch]:
    """The loop thread's time between two sleeps (or two gaps in the profile)."""
    out: list[LoopStretch] = []
    cur: tuple[pd.Timestamp, pd.Timestamp, Counter] | None = None
    for row in loop.itertuples():
        if row.stage == sleep:
            if cur is not None:
                out.append(LoopStretch(cur[0], cur[1], dict(cur[2])))
                cur = None
            continue
        if cur is None or (row.start - cur[1]).total_seconds() > GAP_S:
            if cur is not None:
                out.append(LoopStretch(cur[0], cur[1], dict(cur[2])))
            cur = (row.start, row.end, Counter())
        cur = (cur[0], row.end, cur[2])
        cur[2][row.stage] += row.seconds
    if cur is not None:
        out.append(LoopStretch(cur[0], cur[1], dict(cur[2])))
    return out


def match_late(late: pd.DataFrame | None, late_stretches: list[LoopStretch]) -> list:
    """For each late event whose window is known, the late stretch that ended in it (give
    or take ``SLACK``): with the rate the event measured, the one whose length is closest
    to that iteration (1/Hz), else the longest. Each stretch at most once."""
    if late is None or late.empty:
        return []
    known = late.dropna(subset=["start", "end"])
    used: set[int] = set()
    out: list[LoopStretch | None] = []
    for start, end, hz in zip(known["start"], known["end"], known["hz"], strict=True):
        lo, hi = start - SLACK, end + SLACK
        cands = [
            i for i, s in enumerate(late_stretches) if i not in used and lo <= s.end < hi
        ]  # fmt: skip
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
        budget = run.budget_s
        late = [
            s for s in stretches(loop, run.stages.sleep) if budget is None or s.seconds > budget
        ]
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
