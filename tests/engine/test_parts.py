"""Engine parts without a host: preflight with probes, progress from the log, outcomes,
events rendered."""

from __future__ import annotations

import base64
import io

import pytest

from labkit import cli
from labkit.config.params import parse_set
from labkit.config.plan import resolve
from labkit.config.playbook import load_playbook
from labkit.engine import supervisor
from labkit.engine.events import Message, PlainRenderer, Progress
from labkit.engine.preflight import preflight
from labkit.engine.supervisor import Watch, outcome
from labkit.probes.base import Probe, ProbeLaunch
from labkit.registry import PROBES, get_workload
from tests.conftest import DATA, REPO
from tests.runrecord import run_record

GOOD = DATA / "workloads/command/good.yml"
INVENTORY = str(REPO / "inventory/hosts.yml")
FACTS = {"python": "3.11", "tegrastats": "/usr/bin/tegrastats", "disk": {"free_mb": 10**6}}


class Sampler(Probe):
    """An optional probe for tests: it needs a fact named 'sampler'."""

    name = "sampler"
    required = False

    def launch(self, plan) -> ProbeLaunch:
        return ProbeLaunch(self.name, ["sampler", "--pid", "{pid}"], attach=True)

    def check(self, facts):
        return None if facts.get("sampler") else "sampler not installed"


@pytest.fixture
def sampler(monkeypatch):
    monkeypatch.setitem(PROBES, "sampler", Sampler)


def plan_with(probes: list[str]):
    pb = load_playbook(GOOD)
    for name in pb.probes:
        pb.probes[name] = list(probes)
    return resolve(pb, cli.load_inventory(INVENTORY), "base", "sim", parse_set([]))


def test_an_optional_probe_that_cannot_run_is_skipped_a_required_one_fails(sampler):
    plan = plan_with(["tegrastats", "sampler"])
    found = preflight(plan, FACTS)
    assert found.problems == []
    assert found.skipped == {"sampler": "sampler not installed (sampler)"}
    found = preflight(plan, {**FACTS, "tegrastats": None})
    assert found.problems == ["tegrastats not found (tegrastats)"]
    assert preflight(plan, {**FACTS, "sampler": "1"}).skipped == {}


def test_a_command_workload_needs_no_lerobot():
    found = preflight(plan_with(["tegrastats"]), FACTS)
    assert found.problems == []


def test_a_lerobot_workload_still_needs_lerobot_record():
    pb = load_playbook(REPO / "playbooks/lerobot-loop-lag.yml")
    plan = resolve(pb, cli.load_inventory(INVENTORY), "exp1", "sim", parse_set([]))
    found = preflight(plan, FACTS)
    assert any(p.startswith("lerobot-record not found") for p in found.problems)


def test_progress_is_read_in_chunks_of_whole_lines():
    w = load_playbook(GOOD).workload
    watch = Watch()
    first = b"tick 0\nSLOW latency=2.5ms\nSLOW lat"
    supervisor._count(w, watch, base64.b64encode(first).decode())
    assert (watch.count, watch.last) == (1, 2.5)
    assert watch.offset == first.rfind(b"\n") + 1  # the cut line is read again next time
    supervisor._count(w, watch, base64.b64encode(b"SLOW latency=7.0ms\n").decode())
    assert (watch.count, watch.last) == (2, 7.0)
    lerobot = get_workload("lerobot-record")()
    lw = Watch()
    text = "WARNING x Record loop is running slower (17.5 Hz) than the target FPS (30 Hz)\n"
    supervisor._count(lerobot, lw, base64.b64encode(text.encode() * 2).decode())
    assert (lw.count, lw.last) == (2, 17.5)


RECORD = run_record(workload={"kind": "command", "log": "output.log"}, probes={})


def test_outcome_required_probe_fails_the_run_an_optional_one_does_not(tmp_path, sampler):
    done = {"state": "done", "workload_exit": 0, "stopped_by": None}
    ok = {**done, "probes": {"tegrastats": {"exit": -15}, "sampler": {"exit": 1}}}
    assert outcome(ok, tmp_path, 60, RECORD) == ("complete", None)
    bad = {**done, "probes": {"tegrastats": {"exit": 1}}}
    st, why = outcome(bad, tmp_path, 60, RECORD)
    assert st == "failed" and why.startswith("tegrastats exited 1")
    nostart = {**done, "probes": {"tegrastats": {"exit": None, "error": "cannot start x"}}}
    assert outcome(nostart, tmp_path, 60, RECORD) == (
        "failed",
        "tegrastats did not start: cannot start x",
    )
    (tmp_path / "output.log").write_text("boom\n")
    st, why = outcome({**done, "workload_exit": 3}, tmp_path, 60, RECORD)
    assert st == "failed" and why == "the workload exited 3:\n    boom"
    st, why = outcome({**done, "stopped_by": "watchdog"}, tmp_path, 90, RECORD)
    assert why == "watchdog: the workload ran past 90 s and was stopped"


def test_events_render_as_lines_or_a_live_line():
    out = io.StringIO()
    r = PlainRenderer(out, every_s=0)
    r(Progress("fast", 3.2, 10, 4, 2.5, "slow events", "ms"))
    r(Message("done"))
    assert out.getvalue() == "  fast     3/10 s  4 slow events, last 2.5 ms\ndone\n"

    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty = Tty()
    r = PlainRenderer(tty)
    r(Progress("fast", 1, 10, 0, None, "slow events"))
    r(Message("done"))
    assert tty.getvalue() == "\r  fast     1/10 s  0 slow events\ndone\n"


def test_the_supervisor_spec_has_the_workload_and_every_probe_that_runs(sampler):
    plan = plan_with(["tegrastats", "sampler"])
    record = run_record(store="s1", probes={"sampler": {"skipped": "sampler not installed"}})
    spec = supervisor.spec(plan, record, grace_s=5, watchdog=90, boot_id_path="/b")
    assert spec["workload_argv"] == plan.workload_command()
    assert spec["workload_log"] == "output.log"
    assert [p["name"] for p in spec["probes"]] == ["tegrastats"]  # the skipped one is not
    teg = spec["probes"][0]
    assert teg["argv"][-1] == "{run_dir}/tegrastats.log" and teg["log"] == "tegrastats.out"
    assert teg["attach"] is False and teg["stop_signal"] == "TERM"
    assert (spec["timeout_s"], spec["grace_s"], spec["store"]) == (90, 5, "s1")
    record.probes = {}
    spec = supervisor.spec(plan, record, grace_s=5, watchdog=90)
    assert spec["probes"][1] == {
        "name": "sampler",
        "argv": ["sampler", "--pid", "{pid}"],
        "attach": True,
        "log": "sampler.out",
        "files": {},
        "stop_signal": "TERM",
    }
