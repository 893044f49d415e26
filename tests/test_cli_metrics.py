"""The CLI's run-store finisher: a run's metrics computed once, ahead of its final record
(in its summary thread), and stored once the record is final."""

from __future__ import annotations

from labkit import cli
from labkit.analysis import runs
from labkit.analysis.runs import analysis_version
from labkit.records.metrics_cache import input_sizes, read_stored
from labkit.records.store import write_manifest
from tests.runrecord import run_record


def test_metrics_prepared_ahead_are_the_ones_stored_and_computed_once(tmp_path, monkeypatch):
    run_dir = tmp_path / "exp1" / "r1"
    run_dir.mkdir(parents=True)
    record = run_record()
    computed = []

    def compute(where, rec):
        computed.append((where, rec.run_id))
        return {"warnings_per_min": 12.0}

    monkeypatch.setattr(runs, "compute_metrics", compute)
    finish = cli.RunMetrics()
    finish.prepare(run_dir, record)  # the record is written after this, as in a run
    write_manifest(run_dir, record)
    finish(run_dir, record)
    assert computed == [(run_dir, "r1")]
    stored = read_stored(run_dir)
    assert stored == {
        "version": analysis_version(),
        "inputs": input_sizes(run_dir),  # the final record's size among them
        "metrics": {"warnings_per_min": 12.0},
    }
    finish(run_dir, record)  # again (a push): valid as stored, not computed again
    assert computed == [(run_dir, "r1")]
