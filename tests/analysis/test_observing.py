"""Observations are not treatments: an experiment that differs from another only in its
probes (and the host settings they need) is the same configuration, never a cause."""

from __future__ import annotations

from pathlib import Path

from labkit.analysis.configs import config_of, group_runs
from labkit.analysis.effects import effects
from labkit.analysis.runs import RunData
from labkit.config.hostvars import load_inventory
from labkit.config.plan import resolve
from labkit.config.playbook import load_playbook
from tests.conftest import REPO
from tests.runrecord import run_record

PLAYBOOK = REPO / "playbooks" / "lerobot-loop-lag.yml"


def _run(pb, experiment: str, n: int, warnings: int, probes: dict) -> RunData:
    settings = {k: v for k, v in pb.settings_for(experiment).items() if v not in (None, {})}
    if "pyspy" in probes:  # as the engine records it: the probe's need applied
        settings["settings.sysctl"] = {"kernel.yama.ptrace_scope": "0"}
    manifest = {
        "experiment": experiment,
        "status": "complete",
        "started_at": f"2026-01-01T10:00:{n:02d}",
        "params": pb.params_for(experiment),
        "settings": settings,
        "probes": probes,
        "playbook": {"name": pb.name},
    }
    metrics = {"warnings": warnings, "duration_s": 60.0, "warnings_per_min": float(warnings)}
    return RunData(Path(f"/runs/{experiment}/{n}"), run_record(**manifest), metrics)


def test_the_probes_need_is_applied_for_the_run_not_carried_by_the_playbook():
    pb = load_playbook(PLAYBOOK)
    assert not pb.settings_for("exp8").get("settings.sysctl")  # the playbook asks nothing
    plan = resolve(pb, load_inventory(REPO / "inventory" / "hosts.yml"), "exp8", "sim", {})
    assert plan.settings["settings.sysctl"] == {"kernel.yama.ptrace_scope": "0"}
    exp1 = resolve(pb, load_inventory(REPO / "inventory" / "hosts.yml"), "exp1", "sim", {})
    assert exp1.settings["settings.sysctl"] == {}


def test_a_probe_only_experiment_is_the_same_configuration_and_never_a_cause():
    pb = load_playbook(PLAYBOOK)
    teg = {"tegrastats": {}}
    profiled = {"tegrastats": {}, "threads": {}, "pyspy": {}}
    runs = [_run(pb, "exp1", i, 20 + i, teg) for i in range(3)]
    runs += [_run(pb, "exp8", 10 + i, 2 + i, profiled) for i in range(3)]  # far fewer
    runs += [_run(pb, "exp2b", 20 + i, 19 + i, teg) for i in range(3)]
    assert config_of(runs[3].manifest) == config_of(runs[0].manifest)
    ranked = effects(group_runs(runs, pb), "exp1", "warnings_per_min")
    assert "exp8" not in {e.experiment for e in ranked}
    assert "exp2b" in {e.experiment for e in ranked}  # a treatment is still compared
