"""Records held for a report: equal set-up sections are one object, each run's own stay its own."""

from __future__ import annotations

import json

import pytest

from labkit.records.model import RunRecord
from labkit.records.shared import SharedRecords, interned


def _record(run_id: str, warnings: int, fps: int = 30) -> RunRecord:
    # each record decoded from its own text, as the store reads them
    return RunRecord.model_validate(
        json.loads(
            json.dumps(
                {
                    "run_id": run_id,
                    "experiment": "exp1",
                    "status": "complete",
                    "params": {"dataset.fps": fps, "cameras": ["a", "b"]},
                    "host": {"name": "jetson"},
                    "playbook": {"name": "pb"},
                    "workload": {"kind": "command", "log": "output.log", "command": "true"},
                    "summary": {"warnings": warnings},
                    "store": "s1",
                }
            )
        )
    )


def test_equal_set_up_sections_are_held_once_and_the_records_read_the_same():
    shared = SharedRecords()
    a, b, c = _record("r1", 3), _record("r2", 3), _record("r3", 3, fps=15)
    held = [shared.record(r) for r in (a, b, c)]
    assert held == [a, b, c]
    assert [h.as_dict() for h in held] == [r.as_dict() for r in (a, b, c)]  # same keys
    assert held[0].params is held[1].params and held[0].host is held[2].host
    assert held[0].workload is held[2].workload
    assert held[2].params is not held[0].params  # another configuration
    # what is the run's own (its outcome) is never shared, even when equal
    assert held[0].summary is not held[1].summary


def test_keys_and_short_strings_are_interned():
    a, b = interned(_record("r1", 1)), interned(_record("r2", 1))
    key_a = next(k for k in a.params if k == "dataset.fps")
    key_b = next(k for k in b.params if k == "dataset.fps")
    assert key_a is key_b and a.experiment is b.experiment
    assert a.workload.model_extra["command"] is b.workload.model_extra["command"]
    long = "x" * 200
    assert interned({"k": long})["k"] == long


def test_a_held_record_is_only_read_and_its_field_names_are_held_once():
    shared = SharedRecords()
    a, b = shared.record(_record("r1", 3)), shared.record(_record("r2", 4))
    assert a.model_fields_set is b.model_fields_set  # two dozen names, held once
    with pytest.raises(AttributeError):  # a report's records are read, never changed
        a.status = "failed"
