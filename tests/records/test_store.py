"""The local run store: corrupt manifests are said, not skipped silently."""

from __future__ import annotations

import json
import warnings

from labkit.records.store import list_runs


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
