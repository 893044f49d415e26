"""A run's plan: the host facts its plug-ins need."""

from __future__ import annotations

from labkit.config.hostvars import load_inventory
from labkit.config.plan import resolve
from labkit.config.playbook import load_playbook
from tests.conftest import REPO


def facts_of(book: str, experiment: str) -> list[str]:
    inv = load_inventory(REPO / "inventory" / "hosts.yml")
    plan = resolve(load_playbook(REPO / "playbooks" / book), inv, experiment, "sim")
    return [f.name for f in plan.plugin_facts()]


def test_a_run_gathers_its_own_plug_ins_facts_only():
    """LeRobot's version and each of the experiment's probes' tools; not GStreamer's
    element list (another kind's program) nor py-spy's path when py-spy is not run."""
    lerobot = facts_of("lerobot-loop-lag.yml", "exp1")
    assert "lerobot" in lerobot and "tegrastats" in lerobot
    assert "gstreamer" not in lerobot and "pyspy" not in lerobot
    assert "pyspy" in facts_of("lerobot-loop-lag.yml", "exp8")  # exp8 profiles with py-spy
    gst = facts_of("camera-ingest.yml", next(iter(_experiments("camera-ingest.yml"))))
    assert "gstreamer" in gst and "lerobot" not in gst


def _experiments(book: str):
    return load_playbook(REPO / "playbooks" / book).experiments
