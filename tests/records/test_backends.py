"""A run store's ``publish`` on a local folder: a finished run gets its ``finish`` (the
CLI stores its metrics) once its record is final, and a failing one costs the run nothing."""

from __future__ import annotations

from pathlib import Path

from labkit.records.backends import open_store
from labkit.records.model import RunRecord
from labkit.records.store import write_manifest
from tests.runrecord import run_record


class Finisher:
    """Records what the store asked of it; ``fail``: what its calls raise."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[tuple[str, Path, str]] = []
        self.fail = fail

    def prepare(self, run_dir: Path, record: RunRecord) -> None:
        self.calls.append(("prepare", run_dir, record.status))
        if self.fail is not None:
            raise self.fail

    def __call__(self, run_dir: Path, record: RunRecord) -> None:
        self.calls.append(("finish", run_dir, record.status))
        if self.fail is not None:
            raise self.fail


def a_run(store_dir: Path, status: str) -> Path:
    run_dir = store_dir / "exp1" / "r1"
    run_dir.mkdir(parents=True)
    write_manifest(run_dir, run_record(status=status))
    return run_dir


def test_a_finished_run_is_finished_once_published_and_a_running_one_is_not(tmp_path):
    store = open_store(tmp_path / "runs", tmp_path)
    store.finish = finisher = Finisher()
    done = a_run(tmp_path / "runs", "complete")
    assert store.publish(done, say=print) is True
    assert finisher.calls == [("finish", done, "complete")]
    running = a_run(tmp_path / "other", "running")
    assert store.publish(running, say=print) is True  # nothing to upload, nothing to do
    assert finisher.calls == [("finish", done, "complete")]


def test_a_finish_that_fails_is_said_and_the_run_stays_as_recorded(tmp_path):
    store = open_store(tmp_path / "runs", tmp_path)
    run_dir = a_run(tmp_path / "runs", "failed")
    before = (run_dir / "manifest.json").read_bytes()

    store.finish = finisher = Finisher(ValueError("a log nobody can parse"))
    store.prepare(run_dir, run_record(status="failed"))  # ahead of it: fails quietly
    said: list[str] = []
    assert store.publish(run_dir, say=said.append) is True
    assert said == [
        "exp1 r1: metrics not stored (ValueError('a log nobody can parse')); a report computes them"
    ]
    assert (run_dir / "manifest.json").read_bytes() == before
    assert [c[0] for c in finisher.calls] == ["prepare", "finish"]
