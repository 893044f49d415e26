"""The local run store: corrupt manifests are said, not skipped silently."""

from __future__ import annotations

import json
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

from labkit.records.store import list_runs, store_id


def test_a_corrupt_manifest_is_listed_with_its_path_and_reason(tmp_path):
    good = tmp_path / "exp1" / "r1"
    good.mkdir(parents=True)
    (good / "manifest.json").write_text(json.dumps({"run_id": "r1", "status": "complete"}))
    bad = tmp_path / "exp3" / "r2"
    bad.mkdir(parents=True)
    (bad / "manifest.json").write_text('{"run_id": "r2", "status": "comp')  # cut short
    unreadable = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said to the caller, never as a Python warning
        runs = list_runs(tmp_path, unreadable)
    assert [m.run_id for _, m in runs] == ["r1"]
    [u] = unreadable
    assert u.path == bad and u.experiment == "exp3"
    assert u.reason.startswith("manifest.json: Unterminated string")


def test_hosts_of_one_batch_making_the_store_id_at_once_agree(tmp_path):
    """A batch's hosts are threads of one process: when several find no store id and make
    one at the same moment, each gets the one that was made first, none fails on another's
    temporary file, and none is left behind."""
    n = 16
    ready = threading.Barrier(n)

    def make(_: int) -> str:
        ready.wait()
        return store_id(tmp_path / "runs")

    for _ in range(5):  # a fresh store each time: the race is at its first run
        runs = tmp_path / "runs"
        with ThreadPoolExecutor(n) as pool:
            ids = set(pool.map(make, range(n)))
        assert len(ids) == 1
        assert [f.name for f in runs.iterdir()] == [".store-id"]
        (runs / ".store-id").unlink()
