"""The ``command`` workload: its playbook contract, command, events and metrics."""

from __future__ import annotations

import io
import math
import shlex
import subprocess
import sys

import pytest
import yaml

from labkit import cli
from labkit.config.params import ParamError, parse_set
from labkit.config.plan import resolve
from labkit.config.playbook import load_playbook
from labkit.engine.preflight import devices, preflight
from labkit.errors import ConfigError
from labkit.records.model import current
from labkit.registry import WORKLOADS, get_workload, workload_of
from labkit.workloads.command import Command
from tests.conftest import DATA, REPO
from tests.runrecord import run_record

HERE = DATA / "workloads/command"
GOOD = HERE / "good.yml"
BAD = HERE / "bad"
CASES = yaml.safe_load((BAD / "cases.yaml").read_text())
INVENTORY = str(REPO / "inventory/hosts.yml")


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_command_playbook_names_file_line_field(name):
    case = CASES[name]
    with pytest.raises(ConfigError) as err:
        load_playbook(BAD / name)
    exc = err.value
    assert exc.file.endswith(name)
    assert (exc.line, exc.field) == (case["line"], case["field"]), str(exc)
    for word in case["words"]:
        assert word in str(exc)


def test_every_bad_case_file_has_an_expectation():
    assert {p.name for p in BAD.glob("*.yml")} == set(CASES)


def test_the_playbook_resolves_params_defaults_sweeps_and_probes():
    pb = load_playbook(GOOD)
    assert isinstance(pb.workload, Command)
    assert list(pb.experiments) == ["base", "fast", "pts-rate10", "pts-rate20", "bare"]
    assert pb.params_for("base") == {"rate": 30.0, "seconds": 2, "tag": "a b"}
    assert pb.params_for("fast")["rate"] == 50
    assert pb.params_for("pts-rate20")["rate"] == 20
    assert pb.probes_for("base") == ["tegrastats"]
    assert pb.probes_for("bare") == []
    # the metric registry holds the events' metrics beside the probes'
    for m in ("slow_count", "slow_per_min", "slow_min", "slow_median", "slow_p95", "slow_max"):
        assert m in pb.metrics
    assert "tick_count" in pb.metrics and "tick_per_min" in pb.metrics
    assert "tick_median" not in pb.metrics  # no value group
    assert "cpu_mean_pct" in pb.metrics  # tegrastats
    assert "warnings" not in pb.metrics  # lerobot-record's are not this playbook's
    assert pb.metrics["slow_min"].aggregate == "min"
    assert pb.metrics["slow_max"].aggregate == "max"
    assert pb.metrics["slow_per_min"].aggregate == "mean"  # a rate, not a floor
    assert pb.metrics["slow_per_min"].unit == "1/min"


def test_command_is_rendered_quoted_and_run_by_bash():
    pb = load_playbook(GOOD)
    inv = cli.load_inventory(INVENTORY)
    plan = resolve(pb, inv, "fast", "sim", parse_set(["seconds=3"], pb.known_params()))
    argv = plan.workload_command()
    assert argv[:2] == ["bash", "-c"]
    assert shlex.split(argv[2]) == [
        "python3", "-u", "bench.py", "--rate", "50", "--seconds", "3", "--tag", "a b"
    ]  # fmt: skip
    assert plan.expected_duration_s == 3
    assert plan.workload.files(plan) == {"bench.py": (HERE / "files/bench.py").read_text()}
    assert [p.name for p in plan.probe_launches()] == ["tegrastats"]


def test_set_takes_the_commands_params_and_checks_them():
    pb = load_playbook(GOOD)
    assert parse_set(["rate=60"], pb.known_params()) == {"rate": 60}
    with pytest.raises(ParamError, match=r"rate is 0; expected >= 1 and <= 1000"):
        parse_set(["rate=0"], pb.known_params())
    with pytest.raises(ParamError, match=r"did you mean 'rate'"):
        parse_set(["rat=5"], pb.known_params())
    with pytest.raises(ParamError, match=r"unknown parameter 'dataset.fps'"):
        parse_set(["dataset.fps=5"], pb.known_params())


def test_invoke_plan_shows_the_workload_and_probe_commands():
    out = io.StringIO()
    cli.plan("fast", "sim", str(GOOD), INVENTORY, ["rate=60"], out=out)
    text = out.getvalue()
    assert "workload    command" in text
    assert "rate = 60   (--set)" in text
    assert "bash -c 'python3 -u bench.py --rate 60 --seconds 2 --tag '\"'\"'a b'\"'\"''" in text
    assert "tegrastats (before the workload; output tegrastats.out):" in text
    assert "tegrastats --interval 1000 --logfile" in text


def test_a_template_that_fails_to_render_names_the_field():
    pb = load_playbook(GOOD)
    pb.workload.spec.command = "run {{ params.nope }}"
    inv = cli.load_inventory(INVENTORY)
    with pytest.raises(ConfigError, match=r"workload.command: .*'nope'"):
        resolve(pb, inv, "base", "sim")


def test_duration_must_be_a_positive_number():
    pb = load_playbook(GOOD)
    inv = cli.load_inventory(INVENTORY)
    pb.workload.spec.duration_s = "{{ params.tag }}"
    with pytest.raises(ConfigError, match=r"duration_s is 'a b'; expected a number of seconds"):
        resolve(pb, inv, "base", "sim")


LOG = """starting
tick 0
SLOW latency=4.5ms
tick 1
SLOW latency=1.5ms
noise SLOW latency=xms
tick 2
SLOW latency=3.0ms
done
"""


def test_events_are_parsed_with_values_and_metrics_follow(tmp_path):
    w = load_playbook(GOOD).workload
    (tmp_path / "output.log").write_text(LOG)
    events = w.parse(tmp_path)
    assert list(events["event"]) == ["tick", "slow", "tick", "slow", "tick", "slow"]
    assert list(events["line"]) == [2, 3, 4, 5, 7, 8]
    slow = events[events["event"] == "slow"]["value"].tolist()
    assert slow == [4.5, 1.5, 3.0]
    m = w.run_metrics(events, duration_s=30)
    assert m["slow_count"] == 3 and m["tick_count"] == 3
    assert m["slow_per_min"] == pytest.approx(6.0)
    assert m["duration_s"] == 30.0  # the exposure of its counts
    assert (m["slow_min"], m["slow_median"], m["slow_max"]) == (1.5, 3.0, 4.5)
    assert m["slow_p95"] == pytest.approx(4.35)
    assert set(m) == set(w.metrics)


def test_no_events_is_zero_not_unknown_and_no_duration_no_rate(tmp_path):
    w = load_playbook(GOOD).workload
    (tmp_path / "output.log").write_text("nothing here\n")
    m = w.run_metrics(w.parse(tmp_path), duration_s=None)
    assert m["slow_count"] == 0
    assert m["slow_per_min"] is None and m["duration_s"] is None
    assert m["slow_min"] is None
    assert w.run_metrics(w.parse(tmp_path), duration_s=10)["slow_per_min"] == 0
    assert w.parse(tmp_path / "missing") is None


def test_progress_counts_the_progress_event_and_its_last_value():
    w = load_playbook(GOOD).workload
    assert w.progress_event == "slow"
    assert w.progress(LOG) == (3, 3.0)
    assert w.progress("tick 4\n") == (0, None)


def test_a_run_record_rebuilds_the_workload(tmp_path):
    w = load_playbook(GOOD).workload
    again = workload_of(run_record(workload=w.record()))
    assert isinstance(again, Command)
    (tmp_path / "output.log").write_text(LOG)
    assert again.run_metrics(again.parse(tmp_path), 30) == w.run_metrics(w.parse(tmp_path), 30)
    # schema-1 records (no workload) are lerobot-record runs
    old = current({"status": "complete", "host": {"name": "h"}}, tmp_path / "exp1" / "r1")
    assert workload_of(old).kind == "lerobot-record"


def test_registry():
    assert set(WORKLOADS) == {"lerobot-record", "command", "gstreamer"}
    with pytest.raises(Exception, match=r"unknown workload kind 'comand'.*did you mean 'command'"):
        get_workload("comand")


def test_the_bench_script_prints_what_the_events_match(tmp_path):
    out = subprocess.run(
        [sys.executable, str(HERE / "files/bench.py"), "--rate", "200", "--seconds", "0.1"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    (tmp_path / "output.log").write_text(out)
    w = load_playbook(GOOD).workload
    m = w.run_metrics(w.parse(tmp_path), 0.1)
    assert m["tick_count"] == 20 and m["slow_count"] == 4
    assert not math.isnan(m["slow_median"])


def test_a_command_workload_needs_no_robot_or_camera_on_the_host():
    """The inventory names arms and cameras for every host; a command workload uses none,
    so a board without them passes the preflight (lerobot-record still checks them)."""

    inv = cli.load_inventory(INVENTORY)
    jitter = load_playbook(REPO / "playbooks" / "loop-jitter.yml")
    exp = next(iter(jitter.experiments))
    plan = resolve(jitter, inv, exp, "sim")
    assert devices(plan) == {}
    ports = ["/dev/ttyACM0", "/dev/ttyACM1", "/dev/ttyACM2", "/dev/ttyACM3"]
    facts = {"python": "Python 3.11", "tegrastats": "/usr/bin/tegrastats",
             "missing_paths": ports}  # fmt: skip
    assert preflight(plan, facts).problems == []
    lag = load_playbook(REPO / "playbooks" / "lerobot-loop-lag.yml")
    record = resolve(lag, inv, "exp1", "sim")
    assert set(ports) <= set(devices(record).values())


def test_an_event_carries_the_unit_of_its_value(tmp_path):
    """`late: {regex: ..., unit: ms}`: the value metrics, the progress line and the run
    record carry the unit; a bare regex has none."""
    text = GOOD.read_text().replace(
        "    slow: 'SLOW latency=(?P<value>[0-9.]+)ms'",
        "    slow: {regex: 'SLOW latency=(?P<value>[0-9.]+)ms', unit: ms}",
    )
    assert text != GOOD.read_text()
    (tmp_path / "files").symlink_to(HERE / "files")
    (tmp_path / "unit.yml").write_text(text)
    pb = load_playbook(tmp_path / "unit.yml")
    assert pb.metrics["slow_median"].header == "slow_median [ms]"
    assert pb.metrics["slow_p95"].kind == "duration"
    assert pb.metrics["slow_count"].header == "slow_count"
    assert pb.workload.progress_unit == "ms"
    record = pb.workload.record()
    assert record["units"] == {"slow": "ms"}
    assert workload_of(run_record(workload=record)).event_units == {"slow": "ms"}


def test_loop_jitter_counts_late_ticks_only_in_ms():
    pb = load_playbook(REPO / "playbooks/loop-jitter.yml")
    assert [n for n in pb.metrics if n.endswith("_count")] == ["late_count"]
    assert pb.metrics["late_median"].unit == "ms"


STAGED = DATA / "probes" / "pyspy" / "staged.yml"


def test_a_stage_map_named_in_the_playbook_is_the_workloads_and_its_records():
    """``workload.stages``: the loop's own stages (the sleep one named), its budget, kept in
    the run record so a report measures the run again without the playbook."""
    w = load_playbook(STAGED).workload
    assert w.stage_map.loop_function == "run_loop"
    assert w.stage_map.stages == ("wait", "read", "compute", "other")
    assert w.stage_map.sleep == "wait" and w.loop_budget_s(run_record()) == 0.05
    assert w.target_hz({}) == 20.0  # the report's target column: 1 / its budget
    again = workload_of(run_record(workload=w.record()))
    assert again.stage_map == w.stage_map and again.loop_budget_s(run_record()) == 0.05
    # without one: no stage map, no budget (the good playbook names none)
    plain = load_playbook(GOOD).workload
    assert plain.stage_map is None and "stages" not in plain.record()
    assert plain.loop_budget_s(run_record()) is None and plain.target_hz({}) is None


def test_a_command_run_is_tallied_by_its_first_event_without_a_loop_rate():
    t = Command.tally({"events": ["slow", "fast"], "slow_count": 20, "fast_count": 3})
    assert (t.header, t.noun, t.count, t.floor_hz, t.has_floor) == (
        "slow events",
        "slow",
        20,
        None,
        False,
    )
    assert t.line is None  # the batch shows the run's one-line summary
    assert Command.tally({}).noun == "" and Command.tally({}).count is None


def test_invoke_plan_shows_the_loops_stages():
    out = io.StringIO()
    cli.plan("stalled", "sim", str(STAGED), INVENTORY, [], out=out)
    text = out.getvalue()
    assert "stages      wait, read, compute, other in run_loop (py-spy's profile)" in text
    assert "pyspy (attached to the workload's pid; output pyspy.out):" in text
