"""The run record's finish: its summary made beside the last round trip is the one made in
line, and what making it raised is raised where it was before."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from labkit.engine import record as records
from labkit.records.model import RunRecord
from tests.runrecord import run_record

SEED = Path(__file__).resolve().parents[2] / "examples" / "seed-logs"
STATUS = {"state": "done", "workload_exit": 0, "probes": {"tegrastats": {"pid": 41, "exit": -15}}}


def a_pulled_run(folder: Path) -> tuple[Path, RunRecord]:
    """A run folder as the pull leaves it (the seed's exp2b logs) and its record so far."""
    folder.mkdir()
    shutil.copy(SEED / "exp2b_record.log", folder / "record.log")
    shutil.copy(SEED / "exp2b_tegrastats.log", folder / "tegrastats.log")
    record = run_record(
        status="running",
        workload={"kind": "lerobot-record", "log": "record.log"},
        probes={"tegrastats": {"files": ["tegrastats.log"]}},
    )
    return folder, record


def test_a_summary_made_in_the_background_is_the_one_made_in_line(tmp_path):
    inline_dir, inline = a_pulled_run(tmp_path / "inline")
    early_dir, early = a_pulled_run(tmp_path / "early")
    files = {"record.log": 1, "tegrastats.log": 1}

    records.finish(inline, inline_dir, STATUS, files)
    summary = records.summarize_soon(early, early_dir, STATUS)
    early.facts_after = {"changed": "while the summary was made"}  # the record moves on
    records.finish(early, early_dir, STATUS, files, summary=summary)

    assert inline.summary["warnings"] > 0
    assert early.summary == inline.summary
    assert (early.status, early.remote_status) == (inline.status, STATUS)
    assert early.probes["tegrastats"].pid == 41  # the status applied to the record too


def test_the_summary_runs_in_another_thread_on_a_copy_of_the_record(tmp_path, monkeypatch):
    run_dir, record = a_pulled_run(tmp_path / "run")
    seen = {}

    def summarize(local_dir, rec):
        seen["thread"] = threading.current_thread().name
        seen["record"] = rec
        return {"warnings": 0}

    monkeypatch.setattr(records, "summarize_run", summarize)
    summary = records.summarize_soon(record, run_dir, STATUS)
    assert summary() == {"warnings": 0}
    assert seen["thread"].startswith("labkit-summary")
    assert seen["record"] is not record and seen["record"].remote_status == STATUS
    assert record.remote_status == {}  # the caller's record is not written from there
    assert record.probes["tegrastats"].pid is None


def test_an_error_made_while_summarizing_is_raised_by_finish(tmp_path, monkeypatch):
    run_dir, record = a_pulled_run(tmp_path / "run")

    def broken(local_dir, rec):
        raise ValueError("record.log: not a LeRobot log")

    monkeypatch.setattr(records, "summarize_run", broken)
    summary = records.summarize_soon(record, run_dir, STATUS)
    with pytest.raises(ValueError, match="not a LeRobot log"):
        records.finish(record, run_dir, STATUS, {"record.log": 1}, summary=summary)


def test_a_run_an_older_supervisor_left_finishes_on_its_record_exit(tmp_path):
    """``invoke collect`` of a run whose status.json an older labkit wrote (``record_*``)."""
    ok_dir, ok = a_pulled_run(tmp_path / "ok")
    failed_dir, failed = a_pulled_run(tmp_path / "failed")
    old = {"state": "done", "record_pid": 40, "record_exit": 0, "stopped_by": None}

    assert records.finish(ok, ok_dir, old, {"record.log": 1})[0] == "complete"
    assert ok.remote_status["workload_pid"] == 40 and "record_pid" not in ok.remote_status
    st, why = records.finish(failed, failed_dir, {**old, "record_exit": 2}, {"record.log": 1})
    assert st == "failed" and why.startswith("lerobot-record exited 2")
