"""The runq probe: its sampler on real processes, its parser and metrics on a real log of
the simulated lerobot-record (tests/data/probes/runq/lerobot-sim.log)."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from labkit.config.playbook import load_playbook
from labkit.core.late import late_table
from labkit.core.observed import Observed
from labkit.errors import PlaybookError
from labkit.probes.runq import Runq
from labkit.probes.runq.log import read_runq
from labkit.probes.runq.metrics import busiest_threads, loop_rows, run_metrics
from labkit.registry import PROBES, get_probe
from labkit.workloads.lerobot import LerobotRecord
from tests.conftest import DATA, REPO
from tests.runrecord import run_record

LOG = DATA / "probes" / "runq" / "lerobot-sim.log"
ROOT = 11241  # the workload's pid in that log (its H line)


def test_registered_with_its_options_and_declared_metrics():
    assert get_probe("runq") is Runq and PROBES["runq"] is Runq
    launch = Runq(Runq.Options(interval_ms=50)).launch(None)
    assert launch.attach and launch.log == "runq.log" and launch.stop_signal == "TERM"
    assert launch.argv[1:] == ["{run_dir}/runq_sampler.py", "--pid", "{pid}", "--interval-ms", "50"]
    assert set(launch.files) == {"runq_sampler.py", "threads_sampler.py"}
    assert Runq.declared["loop_runq_wait_share"].bounds == (0.0, 1.0)
    assert Runq.declared["warn_runq_wait_share"].per_warning
    assert Runq.declared["loop_runq_wait_ms_p95"].unit == "ms"
    assert set(Runq.metrics) == set(Runq.declared)
    pb = load_playbook(REPO / "playbooks" / "lerobot-loop-lag.yml")  # exp9 has runq
    assert pb.metrics["warn_runq_wait_share"] == Runq.declared["warn_runq_wait_share"]
    assert Runq().check({"python": None}) == "python3 not found on the host"


def test_the_parser_gives_each_thread_its_waits_per_interval():
    table = read_runq(LOG)
    assert table.attrs["root_pid"] == ROOT and table.attrs["self_cpu_s"] == 0.187033
    assert table["tid"].nunique() == 10 and set(table["name"]) == {"lerobot-record"}
    assert (table["wall_ms"] > 0).all() and (table["wait_ms"] >= 0).all()
    assert (table["start"] < table["time"]).all()
    main = table[table["tid"] == ROOT]
    raw = [line.split() for line in LOG.read_text().splitlines() if line.startswith("S ")]
    waits = [int(r[5]) for r in raw if int(r[3]) == ROOT]
    # the first reading of a thread only starts its counters: n readings, n - 1 intervals
    assert len(main) == len(waits) - 1 == 41
    assert main["wait_ms"].sum() == pytest.approx((waits[-1] - waits[0]) / 1e6)


def test_metrics_of_the_loop_thread_overall_and_in_late_windows():
    table = read_runq(LOG)
    main = table[table["tid"] == ROOT]
    m = run_metrics(table, [], None)
    assert m["loop_runq_wait_share"] == pytest.approx(main["wait_ms"].sum() / main["wall_ms"].sum())
    assert 0 <= m["loop_runq_wait_share"] <= 1
    assert m["loop_runq_wait_ms_p95"] == pytest.approx(main["wait_ms"].quantile(0.95))
    assert m["warn_runq_wait_share"] is None  # no late events: nothing to say
    # per thread: the five that ran longest, told apart by rank (they share one comm)
    per = {k: v for k, v in m.items() if k.startswith("runq_wait_share_")}
    assert len(per) == 5 and "runq_wait_share_lerobot_record" in per
    assert "runq_wait_share_lerobot_record_2" in per
    assert m["runq_probe_cpu_pct"] > 0

    # a slow-loop warning names its whole second: the loop's intervals in that second
    second = main["time"].iloc[20].floor("s")
    events = pd.DataFrame(
        {"kind": ["slow_loop", "episode"], "time": [second, second], "hz": [20.0, None]}
    )
    late = Observed(LOG.parent, run_record(), LerobotRecord().late_events(events))
    m = run_metrics(table, late.late_windows, None)
    inside = main[(main["start"] < second + pd.Timedelta(seconds=1)) & (main["time"] > second)]
    assert 0 < len(inside) < len(main)
    want = inside["wait_ms"].sum() / inside["wall_ms"].sum()
    assert m["warn_runq_wait_share"] == pytest.approx(want)


def test_the_loop_thread_a_workload_names_and_its_late_event_windows():
    table = read_runq(LOG)
    busiest = busiest_threads(table, 1)
    [(key, rows)] = busiest.items()
    assert key == "lerobot_record"
    named = loop_rows(table, "lerobot-record")  # by name: the busiest thread of that name
    assert set(named["tid"]) == set(rows["tid"])
    assert loop_rows(table, "no-such-thread").empty
    t = table["time"].iloc[0]
    gst = pd.DataFrame(
        {
            "event": ["late_sample", "sample"],
            "time": [t, t],
            "start": [t - pd.Timedelta(1, "s")] * 2,
        }
    )
    late = late_table(gst["time"][:1], start=gst["start"][:1])
    assert Observed(LOG.parent, run_record(), late).late_windows == [(gst["start"][0], t)]
    assert Observed(LOG.parent, run_record(), late_table([])).late_windows == []  # none late
    assert Observed(LOG.parent, run_record(), None).late_windows == []  # no log: nothing known


def test_no_table_or_an_empty_log_has_no_numbers(tmp_path):
    (tmp_path / "runq.log").write_text("H 1.0 0 42\nS 1.0 42 42 x\nSELF 0.01\n")
    table = Runq().parse(tmp_path)
    assert table.empty
    assert set(run_metrics(table, [], None).values()) == {None}
    assert Runq().parse(tmp_path / "nowhere") is None


def test_the_sampler_reads_schedstat_of_a_real_process_tree_until_it_ends(tmp_path):
    """A parent that starts a spinning child: both are sampled; the sampler ends by itself
    when the parent is gone (a condition, no sleep)."""
    code = (
        "import subprocess, sys, time\n"
        "c = subprocess.Popen([sys.executable, '-c', "
        "'import time\\nend = time.monotonic() + 1.5\\nwhile time.monotonic() < end: pass'])\n"
        "c.wait()\n"
    )
    for name, text in Runq().launch(None).files.items():  # as the supervisor places them
        (tmp_path / name).write_text(text)
    work = subprocess.Popen([sys.executable, "-c", code])
    out = tmp_path / "runq.log"
    with open(out, "w") as fh:
        res = subprocess.run(
            [sys.executable, str(tmp_path / "runq_sampler.py"), "--pid", str(work.pid),
             "--interval-ms", "50"],
            stdout=fh, timeout=60, check=False,
        )  # fmt: skip
    work.wait()
    assert res.returncode == 0
    lines = out.read_text().splitlines()
    assert lines[0].split()[0] == "H" and lines[0].split()[3] == str(work.pid)
    assert lines[-1].startswith("SELF ")
    table = read_runq(out)
    assert table.attrs["root_pid"] == work.pid
    child = table[table["pid"] != work.pid]
    assert len(child) and child["run_ms"].sum() > 0  # the spinning child ran
    assert 0 <= run_metrics(table, [], None)["loop_runq_wait_share"] <= 1


def test_each_busy_threads_wait_is_a_metric_a_check_may_name_and_the_report_shows(tmp_path):
    """runq_wait_share_<thread> names come from what a run finds: a check may name one (a
    camera stream's thread), and the playbook takes those its runs computed, as shares."""
    text = (REPO / "playbooks" / "camera-ingest.yml").read_text()
    check = (
        "  - id: H9\n    title: the first stream's thread waits\n    checks:\n"
        "      - kind: every_run\n        metric: runq_wait_share_videotestsrc0_s\n"
        "        op: le\n        value: 0.5\n"
    )
    pb_file = tmp_path / "camera-ingest.yml"
    pb_file.write_text(text.replace("\nreport:\n", "\n" + check + "\nreport:\n"))
    pb = load_playbook(pb_file)
    assert pb.metrics["runq_wait_share_videotestsrc0_s"].bounds == (0.0, 1.0)
    assert "runq_wait_share_gst_launch_1_0" not in pb.metrics
    pb.with_found_metrics([{"runq_wait_share_gst_launch_1_0": 0.1, "unrelated_x": 1}])
    found = pb.metrics["runq_wait_share_gst_launch_1_0"]
    assert found.kind == "share" and found.source == "runq"
    assert "unrelated_x" not in pb.metrics
    bad = text.replace(
        "\nreport:\n", "\n" + check.replace("runq_wait_share_", "runq_wait_sharp_") + "\nreport:\n"
    )
    pb_file.write_text(bad)
    with pytest.raises(PlaybookError, match="unknown metric 'runq_wait_sharp_videotestsrc0_s'"):
        load_playbook(pb_file)
