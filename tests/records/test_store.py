"""The local run store: corrupt manifests are said, not skipped silently."""

from __future__ import annotations

import json

import pytest

from labkit.records.store import CorruptManifestWarning, list_runs


def test_a_corrupt_manifest_is_warned_about_by_name(tmp_path):
    good = tmp_path / "exp1" / "r1"
    good.mkdir(parents=True)
    (good / "manifest.json").write_text(json.dumps({"run_id": "r1", "status": "complete"}))
    bad = tmp_path / "exp1" / "r2"
    bad.mkdir()
    (bad / "manifest.json").write_text('{"run_id": "r2", "status": "comp')  # cut short
    with pytest.warns(CorruptManifestWarning) as caught:
        runs = list_runs(tmp_path)
    assert [m["run_id"] for _, m in runs] == ["r1"]
    [w] = caught
    assert str(bad / "manifest.json") in str(w.message) and "not read" in str(w.message)
