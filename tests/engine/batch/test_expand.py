"""Expanding a batch: sweeps, repeats, order, and what the run store already holds."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from labkit.config.inventory import Inventory
from labkit.config.playbook import load_playbook
from labkit.engine.batch.expand import expand, order_runs, select_experiments
from labkit.errors import LabkitError, PlaybookError
from labkit.records.model import current
from labkit.records.store import write_manifest
from tests.conftest import DATA
from tests.labhost import write_inventory

PB = DATA / "playbooks" / "batch" / "batch.yml"


@pytest.fixture
def inv(tmp_path):
    hosts = {
        name: {"ansible_connection": "local", "labkit_simulate": True,
               "labkit_workdir": str(tmp_path / name)}
        for name in ("h1", "h2")
    }  # fmt: skip
    return Inventory(write_inventory(tmp_path / "hosts.yml", hosts))


def test_a_sweep_expands_to_named_experiments():
    pb = load_playbook(PB)
    assert list(pb.experiments) == ["a", "fps-fps15", "fps-fps20", "slow"]
    assert pb.params_for("fps-fps15")["dataset.fps"] == 15
    assert pb.experiments["fps-fps20"].description == "dataset fps sweep (dataset.fps=20)"
    assert select_experiments(pb, "fps,a") == ["fps-fps15", "fps-fps20", "a"]
    with pytest.raises(LabkitError, match=r"no experiment 'fsp'.*sweeps: fps"):
        select_experiments(pb, "fsp")


def test_a_bad_sweep_value_names_its_line(tmp_path):
    text = PB.read_text().replace("[15, 20]", "[15, fast]")
    (tmp_path / "bad.yml").write_text(text)
    with pytest.raises(PlaybookError) as err:
        load_playbook(tmp_path / "bad.yml")
    line = next(i for i, x in enumerate(text.splitlines(), 1) if "[15, fast]" in x)
    assert f"bad.yml:{line}:" in str(err.value)
    assert "experiments[1].sweep.dataset.fps[1]" in str(err.value)
    assert "'fast' (str); expected an integer" in str(err.value)


def test_interleaved_as_written_and_seeded_random():
    counts = {"x": 2, "y": 2, "z": 1}
    names = list(counts)
    rng = random.Random(0)
    assert order_runs(counts, names, "interleaved", rng) == [
        ("x", 1), ("y", 1), ("z", 1), ("x", 2), ("y", 2),
    ]  # fmt: skip
    assert order_runs(counts, names, "as-written", rng) == [
        ("x", 1), ("x", 2), ("y", 1), ("y", 2), ("z", 1),
    ]  # fmt: skip
    a = order_runs(counts, names, "random", random.Random(7))
    assert a == order_runs(counts, names, "random", random.Random(7))
    assert Counter(a) == Counter(order_runs(counts, names, "interleaved", rng))


def test_complete_runs_of_the_same_configuration_are_skipped(tmp_path, inv):
    pb = load_playbook(PB)
    runs = tmp_path / "runs"
    bp = expand(pb, inv, "all", runs, only="a,fps", repeat=2)
    assert [s.experiment + f"#{s.repeat}" for s in bp.hosts[0].todo] == [
        "a#1", "fps-fps15#1", "fps-fps20#1", "a#2", "fps-fps15#2", "fps-fps20#2",
    ]  # fmt: skip
    assert bp.total == 12
    plan = bp.hosts[0].todo[0].plan  # h1, a
    ident = plan.identity()

    def record(run_id, status="complete", **change):
        m = {"experiment": "a", "status": status, "host": {"name": "h1"},
             "playbook": {"name": pb.name}, **ident, **change, "started_at": run_id}  # fmt: skip
        write_manifest(runs / "a" / run_id, current(m, runs / "a" / run_id))

    record("r1")
    record("r2", status="failed")  # a failed run does not count
    record("r3", params={**ident["params"], "dataset.fps": 25})  # another configuration
    record("r4", host={"name": "h2"}, settings={})  # h2 but other settings
    bp = expand(pb, inv, "all", runs, only="a,fps", repeat=2)
    h1, h2 = bp.hosts
    assert dict(h1.done) == {"a": 1} and not h2.done
    assert [f"{s.experiment}#{s.repeat}" for s in h1.todo] == [
        "a#2", "fps-fps15#1", "fps-fps20#1", "fps-fps15#2", "fps-fps20#2",
    ]  # fmt: skip
    assert len(h2.todo) == 6
    assert expand(pb, inv, "h1", runs, only="a", repeat=1).total == 0
    assert expand(pb, inv, "h1", runs, only="a", repeat=1, force=True).total == 1
    # a --set changes the configuration, so the record does not count for it
    assert expand(pb, inv, "h1", runs, only="a", repeat=1, sets={"dataset.fps": 25}).total == 0
    assert expand(pb, inv, "h1", runs, only="a", repeat=1, sets={"dataset.fps": 24}).total == 1
