"""The plug-ins by name, built at the top (labkit.registry): each kind and probe once,
and the host facts each declares, gathered in the one facts round trip."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import ClassVar

import pytest
from pydantic import BaseModel, ConfigDict, Field

from labkit.analysis.stats import mean_ci
from labkit.config.hostvars import HostConfig, host_config
from labkit.config.inventory import Inventory
from labkit.config.plan import resolve
from labkit.config.playbook import load_playbook
from labkit.core.facts import Fact, parse_which
from labkit.core.metrics import Metric
from labkit.core.params import param
from labkit.engine.supervisor import outcome
from labkit.errors import InventoryError, PlaybookError, UnknownNameError
from labkit.registry import (
    PROBES,
    WORKLOADS,
    get_probe,
    get_workload,
    plugin_facts,
    plugin_host_vars,
    workload_class_of,
    workload_of,
)
from labkit.workloads import Workload
from tests.labhost import write_inventory
from tests.runrecord import run_record, workload_info


def test_every_plug_in_is_registered_under_its_own_name():
    assert {k: c.kind for k, c in WORKLOADS.items()} == {k: k for k in WORKLOADS}
    assert {k: c.name for k, c in PROBES.items()} == {k: k for k in PROBES}
    assert {"lerobot-record", "command", "gstreamer"} <= set(WORKLOADS)
    assert {"tegrastats", "threads", "pyspy", "runq"} <= set(PROBES)


def test_an_unknown_name_is_one_line_with_a_hint():
    with pytest.raises(UnknownNameError, match=r"'gstreamr'.*did you mean 'gstreamer'"):
        get_workload("gstreamr")
    with pytest.raises(UnknownNameError, match=r"'runk'.*known: tegrastats"):
        get_probe("runk")


def test_the_plug_ins_declare_their_facts_with_the_hosts_own_paths():
    host = SimpleNamespace(
        labkit_lerobot_record="/opt/conda/bin/lerobot-record", labkit_tegrastats="/usr/bin/teg"
    )
    facts = {f.name: f for f in plugin_facts(host)}
    assert set(facts) == {"lerobot", "gstreamer", "tegrastats", "pyspy"}
    assert "/opt/conda/bin/lerobot-record" in facts["lerobot"].command("", "/work")
    assert facts["tegrastats"].command("", "/work") == "command -v /usr/bin/teg"
    assert "/work/tools/bin/py-spy" in facts["pyspy"].command("", "/work")
    # a host without the variables: the programs on PATH
    assert "lerobot-record" in {f.name: f for f in plugin_facts(None)}["lerobot"].command("", "/w")


class Sleep(Workload):
    """A workload written for this test alone: its own package would hold this class."""

    kind: ClassVar[str] = "sleep"
    noun: ClassVar[str] = "the nap"
    program_noun: ClassVar[str] = "sleep"

    def __init__(self) -> None:
        self.params = {}
        self.metrics = {
            "duration_s": Metric("duration_s", "seconds it slept", unit="s", kind="duration")
        }

    @classmethod
    def facts(cls, host) -> list[Fact]:
        return [Fact("sleep", lambda r, w: "command -v sleep", parse_which)]

    def command(self, plan) -> list[str]:
        return ["sleep", "1"]

    def expected_duration_s(self, plan) -> float:
        return 1.0

    def parse(self, run_dir: Path):
        return None

    def run_metrics(self, events, duration_s: float | None = None) -> dict:
        return {"duration_s": duration_s}


def test_a_new_workload_is_its_class_plus_one_registry_line(tmp_path, monkeypatch):
    """Registered, the kind is dispatched by the playbook, its metrics are the playbook's
    and its host fact joins the one round trip: nothing else names it."""
    monkeypatch.setitem(WORKLOADS, Sleep.kind, Sleep)
    book = tmp_path / "sleep.yml"
    book.write_text(
        "name: nap\nworkload: {kind: sleep}\nprobes: [tegrastats]\n"
        "experiments: [{name: short}]\n"
        "hypotheses:\n- id: H1\n  title: it sleeps\n  checks:\n"
        "  - {kind: every_run, metric: duration_s, op: gt, value: 0}\n"
    )
    pb = load_playbook(book)
    assert isinstance(pb.workload, Sleep)
    assert list(pb.metrics)[0] == "duration_s" and "cpu_mean_pct" in pb.metrics
    assert "sleep" in {f.name for f in plugin_facts(None)}
    assert workload_of(run_record(workload={"kind": "sleep"})).command(None) == ["sleep", "1"]
    book.write_text(book.read_text().replace("{kind: sleep}", "{kind: sleep, seconds: 3}"))
    with pytest.raises(PlaybookError, match="unknown key 'seconds'; a sleep workload"):
        load_playbook(book)


def test_a_workloads_own_words_name_it_in_the_engines_messages(tmp_path, monkeypatch):
    """How a run's end is told comes from the workload class the record names, so a new
    kind's words appear without an edit outside its package."""
    monkeypatch.setitem(WORKLOADS, Sleep.kind, Sleep)
    record = run_record(workload={"kind": "sleep", "log": "output.log"})
    (tmp_path / "output.log").write_text("woke up\n")
    done = {"state": "done", "workload_exit": 0, "stopped_by": None}
    assert outcome({"state": "running"}, tmp_path, 60, record) == (
        "failed",
        "the nap did not finish",
    )
    assert outcome({**done, "stopped_by": "watchdog"}, tmp_path, 90, record)[1] == (
        "watchdog: the nap ran past 90 s and was stopped"
    )
    assert outcome({**done, "workload_exit": 2}, tmp_path, 60, record)[1] == (
        "sleep exited 2:\n    woke up"
    )
    assert workload_class_of(record) is Sleep
    # a record of a kind no longer registered is told in the contract's own words
    gone = run_record(workload={"kind": "retired"})
    assert workload_class_of(gone) is Workload
    assert outcome({"state": "running"}, tmp_path, 60, gone)[1] == "the workload did not finish"


class NapVars(BaseModel):
    """The inventory variables the ``nap`` kind owns (its package would hold this)."""

    labkit_nap_program: str = "sleep"
    labkit_nap_version: str | None = Field(default=None, pattern=r"^\d+\.\d+$")
    labkit_nap: dict = Field(default_factory=dict)


class NapBook(BaseModel):
    """The playbook keys the ``nap`` kind owns beside ``workload:``."""

    model_config = ConfigDict(extra="forbid")
    nap_version: str | None = Field(default=None, pattern=r"^\d+\.\d+$")


class Nap(Sleep):
    """A versioned kind whose host may set its parameters, all declared in its class."""

    kind: ClassVar[str] = "nap"
    host_vars = NapVars
    playbook_vars = NapBook
    host_params_var: ClassVar[str | None] = "labkit_nap"

    def __init__(self, playbook_version: str | None = None) -> None:
        super().__init__()
        self.playbook_version = playbook_version or "1.0"
        self.params = {
            "seconds": param("seconds", "float", "how long", lambda v: 0 < v < 60, "0-60 s")
        }

    def defaults(self) -> dict:
        return {"seconds": 1.0}

    @classmethod
    def from_playbook(cls, raw, doc, base_dir) -> Nap:
        return cls(doc.data.get("nap_version"))

    def version(self, host) -> str:
        return host.labkit_nap_version or self.playbook_version

    def versions(self, plan) -> dict[str, str]:
        return {"nap": plan.version}

    def command(self, plan) -> list[str]:
        return [plan.host.labkit_nap_program, str(plan.params["seconds"])]


def test_a_workloads_host_variables_are_its_own(tmp_path, monkeypatch):
    """Registered, a kind's host variables are checked with the inventory (a typo, a bad
    value or parameter names the file, line and field), read as the host's attributes,
    and its parameters for that host and its version reach the plan: no edit outside its
    package and its registry line."""
    monkeypatch.setitem(WORKLOADS, Nap.kind, Nap)
    book = tmp_path / "nap.yml"
    book.write_text("name: nap\nworkload: {kind: nap}\nexperiments: [{name: short}]\n")
    inv_file = tmp_path / "hosts.yml"

    def inventory(**nap) -> Inventory:
        host = {"ansible_connection": "local", **nap}
        return Inventory(write_inventory(inv_file, {"bed": host}))

    inv = inventory(labkit_nap_program="/bin/sleep", labkit_nap_version="2.5",
                    labkit_nap={"seconds": 3})  # fmt: skip
    host = host_config(inv, "bed")
    assert host.labkit_nap_program == "/bin/sleep" and host.labkit_nap == {"seconds": 3}
    plan = resolve(load_playbook(book), inv, "short", "bed")
    assert plan.params == {"seconds": 3.0} and plan.version == "2.5"
    assert plan.workload_command() == ["/bin/sleep", "3"]
    assert plan.tool_versions() == {"nap": "2.5"}
    # its defaults without the variables
    plain = resolve(load_playbook(book), inventory(), "short", "bed")
    assert plain.workload_command() == ["sleep", "1.0"] and plain.version == "1.0"
    # the kind's own playbook key: validated with the playbook, its typo named against it
    book.write_text(book.read_text() + 'nap_version: "3.1"\n')
    assert resolve(load_playbook(book), inventory(), "short", "bed").version == "3.1"
    book.write_text(book.read_text().replace("nap_version", "nap_verison"))
    with pytest.raises(PlaybookError, match="did you mean 'nap_version'"):
        load_playbook(book)
    with pytest.raises(InventoryError, match="did you mean 'labkit_nap_program'") as err:
        host_config(inventory(labkit_nap_progam="x"), "bed")
    assert err.value.field == "labkit_nap_progam" and err.value.line
    with pytest.raises(InventoryError, match="String should match pattern") as err:
        host_config(inventory(labkit_nap_version="two"), "bed")
    assert err.value.field == "labkit_nap_version"
    with pytest.raises(InventoryError, match=r"0-60 s.*\(host bed\)") as err:
        host_config(inventory(labkit_nap={"seconds": 90}), "bed")
    assert err.value.field == "labkit_nap.seconds" and err.value.line


def test_every_plugin_variable_has_one_owner_and_is_none_of_the_hosts_own():
    owned = plugin_host_vars()
    assert owned["labkit_record"] is WORKLOADS["lerobot-record"].host_vars
    assert owned["labkit_tegrastats"] is PROBES["tegrastats"].host_vars
    assert not set(owned) & set(HostConfig.model_fields)


# every kind with the shapes its metrics come in: a command's events valued in ms, in Hz,
# in a unit it does not know and in none; a pipeline with a sink
RECORDS = {
    "lerobot-record": {},
    "command": {
        "events": {e: r"(?P<value>[0-9.]+)" for e in ("lag", "rate", "load", "raw")},
        "units": {"lag": "ms", "rate": "Hz", "load": "dB"},
    },
    "gstreamer": {"sinks": ["cam0"]},
}
# units whose values are never negative
NON_NEGATIVE_UNITS = {"%", "% of a core", "ns", "us", "ms", "s", "Hz", "fps", "1/min", "MB", "mW"}


def every_declared_metric() -> dict[str, Metric]:
    """Each registered plug-in's metrics, patterns and families, by source and name."""
    out: dict[str, Metric] = {}
    for kind, cls in WORKLOADS.items():
        for m in cls.from_record(workload_info(kind, **RECORDS[kind])).metrics.values():
            out[f"{kind}:{m.name}"] = m
    for name, cls in PROBES.items():
        for table in (cls.metrics, cls.metric_patterns, cls.stage_patterns, cls.metric_families):
            out.update({f"{name}:{m.name}": m for m in table.values()})
    return out


def test_every_registered_metric_keeps_its_interval_in_its_domain():
    """A kind that bounds it (count, share, duration ...) or a declared domain: the 95 %
    interval of widely spread runs never leaves it (a thread's CPU is never below 0)."""
    metrics = every_declared_metric()
    assert {"threads:loop_thread_cpu_pct", "threads:camera_read_thread_cpu_pct_"} <= set(metrics)
    assert "command:lag_p95" in metrics and "runq:runq_probe_cpu_pct" in metrics
    checked = 0
    for key, m in metrics.items():
        if m.kind in ("category", "flag"):
            continue
        assert m.kind != "value" or m.domain is not None, f"{key}: no kind or domain declared"
        low, high = m.bounds
        if m.unit in NON_NEGATIVE_UNITS:
            assert low == 0, f"{key} [{m.unit}] may not be negative: {m.bounds}"
        if low is None:
            assert m.domain is not None, f"{key}: unbounded without saying so"
            continue
        top = high if high is not None else 100.0
        ci = mean_ci([0.01 * top, 0.02 * top, 0.9 * top], m.bounds)
        assert low <= ci.lo <= ci.mean <= ci.hi, (key, ci)
        assert high is None or ci.hi <= high, (key, ci)
        checked += 1
    assert checked >= 40
