"""Fact parsers against recorded outputs (tests/data/facts/cases.yaml), then live on the sim."""

from __future__ import annotations

import sys

import pytest
import yaml

from labkit.remote.facts import facts_for, gather, split_sections
from labkit.remote.target import LocalTarget
from tests.conftest import DATA

CASES = yaml.safe_load((DATA / "facts/cases.yaml").read_text())
FACTS = {f.name: f for f in facts_for()}


@pytest.mark.parametrize(
    ("fact", "case"),
    [(name, c) for name, cases in CASES.items() for c in cases],
    ids=[f"{name}-{c['name']}" for name, cases in CASES.items() for c in cases],
)
def test_parser(fact, case):
    assert FACTS[fact].process(case["output"], case["exit"]) == case["expected"]


def test_every_fact_has_a_case():
    assert set(CASES) >= set(FACTS) - {"arch", "hostname", "video_devices"}


def test_sections_keep_exit_codes_and_survive_missing_markers():
    out = "@@labkit-fact a\nx\ny\n@@labkit-fact-rc 0\n@@labkit-fact b\n@@labkit-fact-rc 127\n"
    assert split_sections(out) == {"a": ("x\ny", 0), "b": ("", 127)}
    assert split_sections("@@labkit-fact a\ncut off") == {}


def test_gather_on_the_simulated_root(tmp_path):
    """The real commands, run by bash, against a simulated root with one camera present."""
    from labkit.sim.deploy import bundle, install_script, paths

    wd = str(tmp_path / "wd")
    script = install_script(
        wd, python=sys.executable, config={"lerobot_version": "0.5.1", "devices": ["/dev/video0"]}
    )
    t = LocalTarget("sim")
    t.run(script, timeout=120, stdin=bundle())
    p = paths(wd)
    t.env_prefix = f"export PATH={p['bin']}:$PATH; "
    facts = gather(t, p["root"], wd, facts_for())
    assert facts["l4t"]["l4t"] == "38.4.0"
    assert facts["nvpmodel"] == {"name": "120W", "id": 1}
    assert facts["cpu"]["count"] == 14 and facts["cpu"]["governors"] == ["schedutil"]
    assert facts["lerobot"]["version"] == "0.5.1"
    assert facts["lerobot"]["path"] == f"{p['bin']}/lerobot-record"
    assert facts["tegrastats"] == f"{p['bin']}/tegrastats"
    assert facts["video_devices"] == ["/dev/video0"]
    assert facts["disk"]["free_mb"] > 0
    assert facts["memory"]["total_mb"] > 0
    assert set(facts) == set(FACTS)
