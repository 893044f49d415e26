"""A check that cannot be computed says why in one sentence: the reason a run recorded, a
probe the run did not have, a side without runs, a metric that is no count."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.analysis.decide import metric_of
from labkit.analysis.experiments import aggregate
from labkit.analysis.hypotheses import compare_check, judge
from labkit.analysis.runs import RunData
from labkit.analysis.unknown import unknown_sentence, why_unknown
from labkit.config.playbook import load_playbook
from labkit.core.metrics import UNKNOWN
from tests.conftest import REPO
from tests.runrecord import run_record

PB = load_playbook(REPO / "playbooks" / "lerobot-loop-lag.yml")
H = {h.id: h for h in PB.model.hypotheses}
SHARE = "warnings_single_thread_saturated_share"
TOO_SHORT = (
    "no late stretch was two sampling intervals long (the longest of the 3 matched to a "
    "warning: 120 ms; the `threads` interval: 100 ms); a `threads` interval of 60 ms "
    "(`probe_options: {threads: {interval_ms: 60}}`) would decide it"
)


def run(name: str, experiment: str, probes=("tegrastats",), **metrics) -> RunData:
    manifest = {
        "experiment": experiment,
        "status": "complete",
        "workload": {"kind": "lerobot-record"},
        "probes": {p: {} for p in probes},
    }
    base = {"warnings": 10, "duration_s": 60.0, "warnings_per_min": 10.0}
    return RunData(Path("runs") / experiment / name, run_record(**manifest), base | metrics)


def test_the_reason_a_run_recorded_comes_first():
    r = run("a", "exp8", ("tegrastats", "threads", "pyspy"), **{SHARE: None})
    r.metrics[UNKNOWN] = {SHARE: TOO_SHORT}
    assert why_unknown(r, PB.metrics[SHARE]) == TOO_SHORT


def test_a_run_without_the_probe_that_computes_it():
    r = run("a", "exp1")
    assert why_unknown(r, PB.metrics[SHARE]) == (
        "exp1 ran without the `threads` probe that computes it"
    )


def test_a_probe_that_ran_but_gave_nothing():
    r = run("a", "exp8", ("tegrastats", "threads"), **{SHARE: None})
    assert why_unknown(r, PB.metrics[SHARE]) == (
        "the `threads` probe ran but its log gave no value for it"
    )


def test_runs_with_different_reasons_are_grouped_in_one_sentence():
    short = run("a", "exp8", ("tegrastats", "threads", "pyspy"), **{SHARE: None})
    short.metrics[UNKNOWN] = {SHARE: TOO_SHORT}
    bare = run("b", "exp8")
    assert unknown_sentence(PB.metrics[SHARE], [short, bare], of=3) == (
        f"{SHARE} cannot be computed on 2 of 3 runs: {TOO_SHORT} (exp8 a); exp8 ran without "
        "the `threads` probe that computes it (exp8 b)"
    )


def test_h6_every_run_check_says_why_in_the_verdict_and_its_json():
    r = run("a", "exp8", ("tegrastats", "threads", "pyspy"), **{SHARE: None})
    r.metrics[UNKNOWN] = {SHARE: TOO_SHORT}
    v = judge(H["H6"], [r], PB.metrics)
    sentence = f"{SHARE} cannot be computed on 1 run(s) (exp8 a): {TOO_SHORT}"
    assert v.verdict == "inconclusive" and v.evidence == sentence
    assert v.as_json()["checks"][0]["cannot_compute"] == sentence
    assert v.next_step() == sentence  # whole in "what would decide it", never cut short


def test_a_run_without_warnings_has_nothing_for_h6_to_look_at():
    r = run("a", "exp8", ("tegrastats", "threads", "pyspy"), warnings=0, **{SHARE: None})
    v = judge(H["H6"], [r], PB.metrics)
    assert v.checks[0].why == f"{SHARE} describes the warnings and no run of them has one"


def test_an_every_run_check_without_runs_names_the_experiments():
    v = judge(H["H6"], [run("a", "exp1")], PB.metrics)
    assert v.checks[0].why == "no complete run of exp8 to check"


def test_a_compare_check_with_no_runs_on_one_side():
    c = compare_check(H["H2"].checks[0], [run("a", "exp1"), run("b", "exp1")], PB.metrics)
    assert c.outcome == "inconclusive" and c.why == (
        "no complete run of exp2b: warnings_per_min of exp2b vs exp1 needs at least one run a side"
    )
    assert c.as_json()["cannot_compute"] == c.why


def test_a_compare_check_on_runs_without_recorded_time():
    runs = [run("a", "exp1"), run("b", "exp2b", duration_s=None)]
    c = compare_check(H["H2"].checks[0], runs, PB.metrics)
    assert c.why == (
        "duration_s cannot be computed on 1 of 2 runs (exp2b b): the run's log does not say "
        "how long it recorded"
    )


def test_a_rate_check_on_a_metric_that_is_no_count():
    check = H["H1"].checks[1].model_copy(update={"metric": "min_hz"})
    v = judge(H["H1"].model_copy(update={"checks": [check]}), [run("a", "exp1")], PB.metrics)
    assert v.checks[0].why == "min_hz is not a count or a rate of one, so it has no pooled rate"


@pytest.mark.parametrize("probes", [("tegrastats",), ("tegrastats", "threads")])
def test_a_decided_check_has_no_reason(probes):
    runs = [run("a", "exp1", probes), run("b", "exp2b", probes, warnings=1)]
    c = compare_check(H["H2"].checks[0], runs, PB.metrics)
    assert c.outcome != "inconclusive" and c.why == ""
    assert "cannot_compute" not in c.as_json()


def test_a_host_fact_the_run_did_not_gather():
    r = run("a", "exp1")
    assert why_unknown(r, metric_of("fact.lerobot.version")) == (
        "the host facts gathered for the run do not include it"
    )


def test_an_experiments_row_leaves_the_reasons_out_and_keeps_the_metric_unknown():
    """A run's reasons (``_unknown``) are no metric: the row of its experiment has the
    metric unknown, not a mean of the reasons."""
    runs = [run(n, "exp8", ("tegrastats", "threads", "pyspy"), **{SHARE: None,
                UNKNOWN: {SHARE: TOO_SHORT}}) for n in ("a", "b")]  # fmt: skip
    row = aggregate(runs, "exp8", metrics=PB.metrics)
    assert row[SHARE] is None and UNKNOWN not in row
