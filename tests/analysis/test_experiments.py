"""Per-experiment rows: the loop target is the workload's to say (``Workload.target_hz``)."""

from __future__ import annotations

from pathlib import Path

from labkit.analysis.experiments import aggregate, target_hz
from labkit.analysis.runs import RunData

LEROBOT = {"kind": "lerobot-record", "log": "record.log"}
COMMAND = {"kind": "command", "log": "output.log", "command": "true", "events": {}}


def run(workload: dict | None, params: dict) -> RunData:
    manifest = {"params": params} | ({"workload": workload} if workload else {})
    return RunData(Path("."), manifest)


def test_lerobots_target_is_its_resolved_fps():
    assert target_hz(run(LEROBOT, {"dataset.fps": 20})) == 20.0
    assert target_hz(run(None, {"dataset.fps": 30})) == 30.0  # schema 1: lerobot-record
    assert target_hz(run(LEROBOT, {})) is None


def test_a_command_has_no_target_even_with_a_parameter_named_like_lerobots():
    assert target_hz(run(COMMAND, {"dataset.fps": 20, "rate": 50})) is None


def test_an_experiments_target_is_its_runs_one_target_else_none():
    same = [run(LEROBOT, {"dataset.fps": 20}), run(LEROBOT, {"dataset.fps": 20})]
    mixed = [run(LEROBOT, {"dataset.fps": 20}), run(LEROBOT, {"dataset.fps": 30})]
    assert aggregate(same, "exp1", metrics={})["target_hz"] == 20.0
    assert aggregate(mixed, "exp1", metrics={})["target_hz"] is None
