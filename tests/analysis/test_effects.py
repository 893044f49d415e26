"""Ranking and recommendation read the workload's declarations: how the ranking metric is
named, which metric is the slowest late iteration (the tie-break's floor) and its count."""

from __future__ import annotations

from types import SimpleNamespace

from labkit.analysis.effects import best, floor_metric, label, ranking_metric, short_label
from labkit.config.playbook import load_playbook
from tests.conftest import REPO

LEROBOT = load_playbook(REPO / "playbooks" / "lerobot-loop-lag.yml")
COMMAND = load_playbook(REPO / "playbooks" / "loop-jitter.yml")


def test_lerobots_ranking_metric_is_named_as_it_declares():
    cause = ranking_metric(LEROBOT.metrics, LEROBOT.workload.headline_metrics())
    assert cause == "warnings_per_min"
    assert label(cause, LEROBOT.metrics) == "warnings per minute"
    assert short_label(cause, LEROBOT.metrics) == "warnings/min"
    assert floor_metric(LEROBOT.metrics) == "min_hz"


def test_a_command_declares_no_label_and_no_floor():
    cause = ranking_metric(COMMAND.metrics, COMMAND.workload.headline_metrics())
    assert cause is not None and cause.endswith("_per_min")
    assert label(cause, COMMAND.metrics) == cause == short_label(cause, COMMAND.metrics)
    assert floor_metric(COMMAND.metrics) is None


def row(name: str, rate: float, count: int, **more) -> dict:
    return {"experiment": name, "main": True, "runs": 2, "warnings_per_min": rate,
            "warnings": count, **more}  # fmt: skip


def confirmed(*names: str) -> list:
    return [SimpleNamespace(experiment=n, rank="contributing") for n in names]


def test_a_tie_goes_to_the_slowest_late_iteration_nearest_its_target():
    rows = [
        row("exp1", 2.0, 4, min_hz=10.0, target_hz=30.0),
        row("exp2", 2.0, 4, min_hz=12.0, target_hz=20.0),  # 60 % of its target
        row("exp3", 2.0, 4, min_hz=15.0, target_hz=30.0),  # 50 %
    ]
    top = best(rows, confirmed("exp2", "exp3"), "exp1", "warnings_per_min", LEROBOT.metrics)
    assert top["experiment"] == "exp2"


def test_a_tie_goes_to_a_configuration_without_late_events():
    rows = [row("exp1", 0.0, 1, min_hz=29.0, target_hz=30.0), row("exp2", 0.0, 0, min_hz=None)]
    top = best(rows, confirmed("exp2"), "exp1", "warnings_per_min", LEROBOT.metrics)
    assert top["experiment"] == "exp2"


def test_lerobots_column_names_break_no_tie_for_another_workload():
    """A command's rows carrying keys named like LeRobot's are ranked by its own
    declarations: its count, and no floor (it declares none): then by runs."""
    cause = ranking_metric(COMMAND.metrics, COMMAND.workload.headline_metrics())
    count = COMMAND.metrics[cause].count_of
    rows = [
        {"experiment": "a", "main": True, "runs": 3, cause: 1.0, count: 2, "warnings": 3},
        {"experiment": "b", "main": True, "runs": 2, cause: 1.0, count: 2,
         "min_hz": 30.0, "target_hz": 30.0},
    ]  # fmt: skip
    assert best(rows, confirmed("b"), "a", cause, COMMAND.metrics)["experiment"] == "a"
