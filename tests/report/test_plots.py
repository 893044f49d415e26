"""The report's figures read at a glance whatever the numbers."""

from __future__ import annotations

from labkit.report import plots


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
    fig = plots.warnings_per_experiment(rows, [], tmp_path)
    assert fig is not None and "CI 6.32e-06–6.98e+08" in fig.alt
    ax = saved[0].axes[0]
    assert ax.get_ylim() == (0.0, 80.0)
    assert [t.get_text() for t in ax.texts] == ["CI to 6.98e+08 ↑"]


def test_ordinary_intervals_keep_the_whole_axis(tmp_path, monkeypatch):
    saved = []
    monkeypatch.setattr(plots, "_save", lambda fig, path: saved.append(fig))
    rows = [{"experiment": "exp1", "warnings_per_min": 10.0,
             "warnings_per_min_ci_lo": 5.0, "warnings_per_min_ci_hi": 19.0}]  # fmt: skip
    plots.warnings_per_experiment(rows, [], tmp_path)
    ax = saved[0].axes[0]
    assert ax.get_ylim()[1] >= 19.0 and not ax.texts
