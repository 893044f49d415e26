"""A run store's ``publish`` on a local folder: a finished run gets its ``finish`` (the
CLI stores its metrics) once its record is final, and a failing one costs the run nothing."""

from __future__ import annotations

from pathlib import Path

from labkit.records.backends import open_store
from labkit.records.store import write_manifest
from tests.runrecord import run_record


def a_run(store_dir: Path, status: str) -> Path:
    run_dir = store_dir / "exp1" / "r1"
    run_dir.mkdir(parents=True)
    write_manifest(run_dir, run_record(status=status))
    return run_dir


def test_a_finished_run_is_finished_once_published_and_a_running_one_is_not(tmp_path):
    store = open_store(tmp_path / "runs", tmp_path)
    calls = []
    store.finish = lambda run_dir, record: calls.append((run_dir, record.status))
    done = a_run(tmp_path / "runs", "complete")
    assert store.publish(done, say=print) is True
    assert calls == [(done, "complete")]
    running = a_run(tmp_path / "other", "running")
    assert store.publish(running, say=print) is True  # nothing to upload, nothing to do
    assert calls == [(done, "complete")]


def test_a_finish_that_fails_is_said_and_the_run_stays_as_recorded(tmp_path):
    store = open_store(tmp_path / "runs", tmp_path)
    run_dir = a_run(tmp_path / "runs", "failed")
    before = (run_dir / "manifest.json").read_bytes()

    def broken(_run_dir, _record):
        raise ValueError("a log nobody can parse")

    store.finish = broken
    said: list[str] = []
    assert store.publish(run_dir, say=said.append) is True
    assert said == [
        "exp1 r1: metrics not stored (ValueError('a log nobody can parse')); a report computes them"
    ]
    assert (run_dir / "manifest.json").read_bytes() == before
