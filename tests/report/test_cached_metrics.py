"""Reports from stored metrics: a second report parses no log again, a new analysis
version recomputes, and the report equals one made from fresh parsing."""

from __future__ import annotations

import json

import numpy as np
import pytest

import labkit.analysis.runs as runs_mod
from labkit.analysis.runs import store_metrics
from labkit.config.playbook import load_playbook
from labkit.records.metrics_cache import METRICS_FILE
from labkit.report.build import build_report
from labkit.report.plots import Late, draw_all
from labkit.study.importer import import_logs
from tests.conftest import REPO
from tests.seedlogs import write_seed

PLAYBOOK = REPO / "playbooks" / "lerobot-loop-lag.yml"
QUIET = {"log": lambda m: None}
# each test imports the five seed runs and builds reports: 15-30 s on a shared machine
pytestmark = pytest.mark.slow


@pytest.fixture
def store(tmp_path):
    pb = load_playbook(PLAYBOOK)
    runs = tmp_path / "runs"
    import_logs(write_seed(tmp_path / "logs"), pb, runs, jobs=1, finish=store_metrics, **QUIET)
    return pb, runs


@pytest.fixture
def computed(monkeypatch):
    """Counts each run's metrics computations."""
    calls: list[str] = []
    real = runs_mod.compute_metrics

    def counting(run_dir, manifest):
        calls.append(run_dir.name)
        return real(run_dir, manifest)

    monkeypatch.setattr(runs_mod, "compute_metrics", counting)
    return calls


def _same_report(a: str, b: str) -> None:
    strip = lambda t: [ln for ln in t.splitlines() if "Generated" not in ln]  # noqa: E731
    assert strip(a) == strip(b)


def test_second_report_parses_nothing_again(store, tmp_path, computed):
    pb, runs = store
    build_report(pb, runs, tmp_path / "a", **QUIET)  # metrics stored at import: none computed
    build_report(pb, runs, tmp_path / "b", **QUIET)
    assert computed == []
    assert len(list(runs.glob(f"*/*/{METRICS_FILE}"))) == 5


def test_a_new_analysis_version_recomputes_once(store, tmp_path, computed, monkeypatch):
    pb, runs = store
    monkeypatch.setattr(runs_mod, "analysis_version", lambda: "another")
    build_report(pb, runs, tmp_path / "a", **QUIET)
    assert len(computed) == 5
    build_report(pb, runs, tmp_path / "b", **QUIET)
    assert len(computed) == 5


def test_report_from_stored_metrics_equals_fresh_parsing(store, tmp_path, computed):
    pb, runs = store
    cached = build_report(pb, runs, tmp_path / "cached", **QUIET)
    for stored in runs.glob(f"*/*/{METRICS_FILE}"):
        stored.unlink()
    for parsed in runs.glob("*/*/*.parquet"):
        parsed.unlink()
    fresh = build_report(pb, runs, tmp_path / "fresh", **QUIET)
    assert len(computed) == 5
    _same_report(cached.markdown.read_text(), fresh.markdown.read_text())
    for name in ("summary.csv", "hypotheses.json", "threats.json"):
        assert (cached.folder / name).read_text() == (fresh.folder / name).read_text(), name
    figures = sorted(p.name for p in cached.folder.glob("*.png"))
    assert figures == sorted(p.name for p in fresh.folder.glob("*.png")) and figures


def test_only_the_drawn_runs_are_parsed(store, tmp_path):
    pb, runs = store
    loaded = runs_mod.load_runs(runs, pb.name)
    assert not any(r.loaded for r in loaded)

    (tmp_path / "fig").mkdir()
    late = Late.of(pb.workload, pb.metrics, "warnings_per_min")
    draw_all([], loaded, list(pb.experiments), tmp_path / "fig", late)
    # one CPU heat map per experiment reads that run's samples; the rest stay unread
    assert sum(r.loaded for r in loaded) <= len({r.experiment for r in loaded})


def test_each_run_holds_its_warned_rates_as_counts_and_reads_its_warnings_again(store):
    """What every run keeps in memory for the figures is its warned rates as distinct
    values and counts; the warnings' times and rates, in order, are read again from its
    stored metrics for a run a figure draws: the same numbers metrics.json stores."""
    pb, runs = store
    loaded = runs_mod.load_runs(runs, pb.name)
    warned = [r for r in loaded if r.warned_rates is not None and r.warned_rates.total]
    assert warned
    for run in warned:
        stored = json.loads((run.dir / METRICS_FILE).read_text())["metrics"]["_figures"]
        secs, hz = stored["warned"]
        rates = run.warned_rates
        assert rates.total == len(hz) and len(rates.hz) == len(set(hz))
        assert rates.expanded().tolist() == sorted(hz)
        again = run.warned
        assert again is not None
        assert again[0].dtype == again[1].dtype == np.float64
        assert again[0].tolist() == secs and again[1].tolist() == hz
