"""The report's figures read at a glance whatever the numbers."""

from __future__ import annotations

from labkit.config.playbook import load_playbook
from labkit.report import plots
from labkit.workloads.base import LateWords
from tests.conftest import REPO

PB = load_playbook(REPO / "playbooks" / "lerobot-loop-lag.yml")
LEROBOT = plots.Late.of(PB.workload, PB.metrics, "warnings_per_min")


def test_a_huge_interval_does_not_flatten_the_warnings_bars(tmp_path, monkeypatch):
    """Two very different runs (an imported hand-run log and a simulated one) give an
    interval up to 1e8 warnings/min: the axis stops at twice the data and the interval's
    end is written at the top instead of squashing every bar to zero."""
    saved = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: saved.append(fig))
    rows = [
        {"experiment": "exp1", "warnings_per_min": 40.0,
         "warnings_per_min_ci_lo": 6.32e-06, "warnings_per_min_ci_hi": 6.98e08},
        {"experiment": "exp2b", "warnings_per_min": 4.0,
         "warnings_per_min_ci_lo": 1.0, "warnings_per_min_ci_hi": 9.0},
    ]  # fmt: skip
    fig = plots.warnings_per_experiment(rows, [], tmp_path, LEROBOT)
    assert fig is not None and "CI 6.32e-06–6.98e+08" in fig.alt
    ax = saved[0].axes[0]
    assert ax.get_ylim() == (0.0, 80.0)
    assert [t.get_text() for t in ax.texts] == ["CI to 6.98e+08 ↑"]


def test_ordinary_intervals_keep_the_whole_axis(tmp_path, monkeypatch):
    saved = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: saved.append(fig))
    rows = [{"experiment": "exp1", "warnings_per_min": 10.0,
             "warnings_per_min_ci_lo": 5.0, "warnings_per_min_ci_hi": 19.0}]  # fmt: skip
    plots.warnings_per_experiment(rows, [], tmp_path, LEROBOT)
    ax = saved[0].axes[0]
    assert ax.get_ylim()[1] >= 19.0 and not ax.texts


def test_the_figures_plot_and_name_what_the_workload_declares(tmp_path, monkeypatch):
    """LeRobot's figures are of its warnings (its late count, floor and words); another
    workload's late events are plotted by its own rate and named in its own words."""
    assert (LEROBOT.rate, LEROBOT.count, LEROBOT.floor) == (
        "warnings_per_min",
        "warnings",
        "min_hz",
    )
    monkeypatch.setattr(plots, "_save", lambda fig, path: None)
    other = plots.Late(LateWords(), "late_per_min", "late_count", None)
    rows = [{"experiment": "raw", "late_per_min": 3.0, "warnings_per_min": 9.0}]
    fig = plots.warnings_per_experiment(rows, [], tmp_path, other)
    assert (fig.file, fig.title) == ("late-events.png", "Late events per experiment")
    assert fig.alt.startswith("Bar chart of late events per minute") and "raw 3" in fig.alt
    quiet = [{"experiment": "raw", "runs": 2, "late_per_min": 0.0}]
    assert plots.figure_notes(quiet, [], other)[0].startswith("No late events in any run (2 runs)")
