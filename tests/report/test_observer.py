"""The report shows what observing experiments' probes did as their observer effect, in its
own section and observer.json, and never names them as a cause or a recommendation."""

from __future__ import annotations

import json

import pytest

from labkit.config.playbook import load_playbook
from labkit.report.build import build_report
from tests.report.test_build import section
from tests.report.test_statistics import PLAYBOOK, QUIET, add_runs

PROFILED = {"probes": {"threads": {}, "pyspy": {}}}
RUNQ = {"probes": {"runq": {}}}


@pytest.mark.slow  # a dozen imported runs: a minute and more on a busy machine
def test_exp8_and_exp9_are_observer_effects_never_causes(tmp_path):
    runs = tmp_path / "runs"
    add_runs(runs, tmp_path, "exp1", [20, 22, 21])
    add_runs(runs, tmp_path, "exp2b", [2, 3, 2], target=20)  # a treatment that cuts
    add_runs(runs, tmp_path, "exp8", [2, 3, 2], **PROFILED)  # as few as exp2b's: not a cause
    add_runs(runs, tmp_path, "exp9", [21, 20, 22], **RUNQ)
    result = build_report(load_playbook(PLAYBOOK), runs, tmp_path / "out", **QUIET)
    text = result.markdown.read_text()

    observer = section(text, "Observer effect")
    [exp8] = [line for line in observer.splitlines() if "`exp8` against `exp1`" in line]
    assert exp8.startswith("- the pyspy+threads probes (`exp8` against `exp1`): warnings_per_min")
    assert "better with the probes" in exp8 and exp8.endswith("3 and 3 runs")
    [exp9] = [line for line in observer.splitlines() if "`exp9` against `exp1`" in line]
    assert exp9.startswith("- the runq probe (") and "no effect shown" in exp9
    for title in ("Most likely root cause", "Recommendation"):
        part = section(text, title)
        assert "exp8" not in part and "exp9" not in part, part
    assert "exp2b" in section(text, "Most likely root cause")
    assert result.recommended == "exp2b"

    saved = json.loads((result.folder / "observer.json").read_text())
    assert [(e["experiment"], e["observed"], e["probes"]) for e in saved] == [
        ("exp8", "exp1", ["pyspy", "threads"]),
        ("exp9", "exp1", ["runq"]),
    ]
    rate = saved[0]["metrics"][0]
    assert rate["metric"] == "warnings_per_min" and rate["verdict"] == "better"
    assert (rate["n_observed"], rate["n_observing"]) == (3, 3)
    assert rate["effect_ci"][1] < 0 and rate["method"]
