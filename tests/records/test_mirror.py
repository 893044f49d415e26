"""A shared store's mirror, runs fetched several at a time: each run's record still comes
last, and a failure or a caller's stop ends the mirroring at the next file instead of
after the whole store. The store here is a stand-in that counts and holds downloads, so
the order and the interruption are exact; the real store's path is in test_s3.py."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from labkit.errors import StoreError
from labkit.records.backends import MIRROR_WORKERS, RECORD, RunStore, sync_mirror
from labkit.records.metrics_cache import METRICS_FILE
from labkit.records.s3 import RemoteFile

FILES = (RECORD, METRICS_FILE, "record.log")
WAIT_S = 60  # a deadline for a broken test, never reached when the code is right


class Store:
    """``runs`` runs of three files each; ``hold(run_id, name)`` runs before a download
    is written (it may block or raise)."""

    bucket, prefix = "lab", "runs"

    def __init__(self, runs: int, hold=None) -> None:
        self.runs = {
            ("exp1", f"r{i:03d}"): {n: RemoteFile(n, f"{i}-{n}", 10) for n in FILES}
            for i in range(runs)
        }
        self.hold = hold
        self.downloads = 0
        self.got: list[tuple[str, str]] = []  # (run id, file) in the order written
        self._lock = threading.Lock()

    def listing(self) -> dict:
        return self.runs

    def run_files(self, experiment: str, run_id: str) -> dict:
        return self.runs[(experiment, run_id)]

    def download(self, experiment: str, run_id: str, name: str, dest: Path) -> None:
        if self.hold is not None:
            self.hold(run_id, name)
        dest.write_text(json.dumps({"run": run_id, "file": name}))
        with self._lock:
            self.downloads += 1
            self.got.append((run_id, name))

    def started(self) -> set[str]:
        return {run_id for run_id, _ in self.got}


def test_runs_are_mirrored_at_once_each_with_its_record_last(tmp_path):
    # the first two downloads wait for each other: a mirror one run at a time never
    # gets past them (the barrier breaks at its deadline and the test fails)
    meet = threading.Barrier(2, timeout=WAIT_S)
    first = iter(range(2))

    def hold(run_id: str, name: str) -> None:
        if next(first, None) is not None:
            meet.wait()

    store = Store(40, hold)
    assert sync_mirror(store, tmp_path / "mirror") == 40
    runs = sorted((tmp_path / "mirror" / "exp1").iterdir())
    assert len(runs) == 40 and all((r / RECORD).exists() for r in runs)
    for run_dir in runs:
        order = [name for run_id, name in store.got if run_id == run_dir.name]
        assert order == [METRICS_FILE, RECORD]  # the record last; the log left in the store
        assert not (run_dir / "record.log").exists()
    assert store.downloads == len(store.got) == 80


def test_a_failing_run_stops_the_runs_not_yet_started(tmp_path):
    """The fourth run's download fails while the others (the first three too) are in
    flight: the error comes out at once, not after the runs before it, the runs in flight
    end at their next file (no record), and no further run starts, though the store
    holds 50."""
    stop = threading.Event()

    def hold(run_id: str, name: str) -> None:
        if run_id == "r003":
            raise StoreError("lab: downloading exp1/r003: connection reset")
        assert stop.wait(WAIT_S)  # in flight until the mirror is stopped

    store = Store(50, hold)
    with pytest.raises(StoreError, match="connection reset"):
        sync_mirror(store, tmp_path / "mirror", stop)
    # the workers' first runs, and at most one more taken by the worker that failed
    assert len(store.started()) <= MIRROR_WORKERS + 1
    assert [name for _, name in store.got] == [METRICS_FILE] * len(store.got)
    assert list((tmp_path / "mirror").glob(f"*/*/{RECORD}")) == []


def test_a_stop_set_by_the_caller_ends_the_mirror_at_the_next_file(tmp_path, monkeypatch):
    """What `invoke report` does when Ctrl-C reaches it while the mirror runs in its
    thread: it sets the stop, and the mirror returns once the files in flight land."""
    monkeypatch.setenv("LABKIT_CACHE_DIR", str(tmp_path / "cache"))
    in_flight = threading.Semaphore(0)
    gate = threading.Event()

    def hold(run_id: str, name: str) -> None:
        in_flight.release()
        assert gate.wait(WAIT_S)

    remote = Store(50, hold)
    store = RunStore("s3://lab/runs", tmp_path / "staging", remote)  # type: ignore[arg-type]
    stop = threading.Event()
    done: list[Path] = []
    reader = threading.Thread(target=lambda: done.append(store.read_dir(print, stop)))
    reader.start()
    for _ in range(MIRROR_WORKERS):  # every worker holds a file
        assert in_flight.acquire(timeout=WAIT_S)
    stop.set()
    gate.set()
    reader.join(WAIT_S)
    assert not reader.is_alive() and len(done) == 1
    assert len(remote.started()) == MIRROR_WORKERS  # none started after the stop
    assert list(done[0].glob(f"*/*/{RECORD}")) == []  # no run half-mirrored reads as whole
