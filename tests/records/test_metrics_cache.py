"""A run's metrics are computed once and stored beside its logs."""

import json

from labkit.records.metrics_cache import METRICS_FILE, source_version, stored_metrics


def _counting(value):
    calls = []

    def compute():
        calls.append(1)
        return dict(value)

    return compute, calls


def test_computed_once_then_read(tmp_path):
    (tmp_path / "record.log").write_text("x\n")
    compute, calls = _counting({"warnings": 3, "min_hz": 9.6, "nan": float("nan")})
    first = stored_metrics(tmp_path, "v1", compute)
    again = stored_metrics(tmp_path, "v1", compute)
    assert len(calls) == 1
    assert again["warnings"] == 3 and again["min_hz"] == 9.6 and again["nan"] != again["nan"]
    assert first["warnings"] == again["warnings"]
    assert json.loads((tmp_path / METRICS_FILE).read_text())["version"] == "v1"


def test_a_new_version_or_changed_log_recomputes(tmp_path):
    log = tmp_path / "record.log"
    log.write_text("x\n")
    compute, calls = _counting({"warnings": 1})
    stored_metrics(tmp_path, "v1", compute)
    stored_metrics(tmp_path, "v2", compute)
    assert len(calls) == 2
    log.write_text("x\ny\n")  # a log pulled again, longer
    stored_metrics(tmp_path, "v2", compute)
    assert len(calls) == 3
    (tmp_path / "record-events.parquet").write_bytes(b"derived")  # not an input
    stored_metrics(tmp_path, "v2", compute)
    assert len(calls) == 3


def test_a_run_that_cannot_be_written_is_computed_not_failed(tmp_path):
    gone = tmp_path / "not-there"  # mkstemp fails here as it does in a read-only store
    compute, calls = _counting({"warnings": 2})
    assert stored_metrics(gone, "v1", compute) == {"warnings": 2}
    assert stored_metrics(gone, "v1", compute) == {"warnings": 2}
    assert len(calls) == 2 and not gone.exists()


def test_unreadable_file_is_recomputed(tmp_path):
    (tmp_path / METRICS_FILE).write_text("{not json")
    compute, calls = _counting({"warnings": 5})
    assert stored_metrics(tmp_path, "v1", compute) == {"warnings": 5} and len(calls) == 1


def test_source_version_follows_the_code():
    a = source_version(("labkit.parse",))
    assert a == source_version(("labkit.parse",))
    assert a != source_version(("labkit.parse", "labkit.analysis"))
