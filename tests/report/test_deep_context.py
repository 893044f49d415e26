"""The profiled section's rows say why a share is unknown instead of printing a dash: the
reason the run's computation recorded, else the shared one (``analysis.unknown``): the
probe computing it did not run."""

from __future__ import annotations

from pathlib import Path

from labkit.analysis.runs import RunData
from labkit.core.metrics import UNKNOWN
from labkit.report.deep import context
from labkit.workloads.lerobot.stages import STAGE_MAP
from tests.runrecord import run_record

SHARE = "warnings_single_thread_saturated_share"


def _run(probes: dict, metrics: dict) -> RunData:
    record = run_record(experiment="exp8", probes=probes)
    return RunData(Path("/runs/exp8/r1"), record, {"main_thread_stage_share_sleep": 0.5, **metrics})


def _row() -> dict:
    return {"experiment": "exp8", "runs": 1, SHARE: None}


def test_the_recorded_reason_is_given_for_an_unknown_pegged_thread_share():
    reason = "the threads probe's samples are longer than every late stretch"
    run = _run({"threads": {}, "pyspy": {}}, {UNKNOWN: {SHARE: reason}})
    [row] = context([_row()], [run], STAGE_MAP)["stage_rows"]
    assert row["saturated"] is None
    assert row["saturated_why"] == reason


def test_without_the_threads_probe_the_share_is_unknown_because_it_did_not_run():
    run = _run({"pyspy": {}}, {})
    [row] = context([_row()], [run], STAGE_MAP)["stage_rows"]
    assert row["saturated_why"] == "exp8 ran without the `threads` probe that computes it"
