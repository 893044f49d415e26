"""`invoke report` on imported seed-shaped logs: the seed's numbers, verdicts and advice,
computed; incomplete runs left out; repeats aggregated; a failed build keeps the old report."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from labkit.config.playbook import load_playbook
from labkit.errors import LabkitError
from labkit.records.store import load_manifest, write_manifest
from labkit.report.build import build_report
from labkit.study.importer import import_logs
from tests.conftest import REPO
from tests.labhost import invoke
from tests.seedlogs import SEED, write_seed, write_seed_logs

PLAYBOOK = REPO / "playbooks" / "lerobot-loop-lag.yml"
QUIET = {"log": lambda m: None}


def table(text: str, first_header: str) -> list[dict[str, str]]:
    """The Markdown table whose header row starts with ``| first_header |``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    header = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=True)))
    return rows


def summary_rows(path: Path) -> list[dict[str, str]]:
    """summary.csv's rows by column name: each header is the name with its metric's unit
    in brackets (``min_hz [Hz]``, ``warnings_per_min_ci_lo [1/min]``)."""
    with open(path) as fh:
        return [{k.split(" [", 1)[0]: v for k, v in r.items()} for r in csv.DictReader(fh)]


def section(text: str, title: str) -> str:
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


@pytest.fixture(scope="module")
def seed_report(tmp_path_factory):
    """`invoke import` then `invoke report`, as a user runs them."""
    base = tmp_path_factory.mktemp("seed-report")
    write_seed(base / "logs")
    runs, out = base / "runs", base / "reports"
    res = invoke("import", "--logs", str(base / "logs"), "--runs", str(runs), home=base)
    assert res.returncode == 0, res.stderr
    res = invoke("report", "--runs", str(runs), "--out", str(out), home=base)
    assert res.returncode == 0, res.stdout + res.stderr
    return out, (out / "lerobot-loop-lag.md").read_text()


def test_summary_table_shows_the_seed_numbers(seed_report):
    out, text = seed_report
    rows = {r["Experiment"]: r for r in table(section(text, "Quantitative summary"), "Experiment")}
    got = {k: (r["Warnings per run"], r["Min Hz"], r["Target Hz"]) for k, r in rows.items()}
    assert got == {
        "`exp1`": ("11", "9.6", "30"),
        "`exp2b`": ("1", "15.6", "20"),
        "`exp3`": ("5", "16.0", "30"),
        "`exp4`": ("8", "15.8", "30"),
        "`exp5`": ("11", "15.5", "30"),
    }
    assert "- `exp2b` (3 cameras, camera fps 30, dataset fps 20): 1 warning, min `15.6 Hz`" in text
    res = {r["Experiment"]: r for r in table(text, "Experiment | Episodes")}
    # RAM 50000 + s MB, cpu@45+s%5 C and VIN 30000 mW in the seed-shaped tegrastats
    assert res["`exp1`"]["RAM peak MB"] == "50060" and res["`exp1`"]["Hottest °C"] == "49"
    assert res["`exp1`"]["Mean input power W"] == "30" and res["`exp1`"]["Errors"] == "0"
    csv_file = out / "lerobot-loop-lag" / "summary.csv"
    header = csv_file.read_text().splitlines()[0].split(",")
    # units in the headers, as each metric's plug-in declares them
    assert {"warnings", "min_hz [Hz]", "warnings_per_min_ci_lo [1/min]", "cpu_mean_pct [%]"} <= set(
        header
    )
    data = {r["experiment"]: r for r in summary_rows(csv_file)}
    for name, (hz, target) in SEED.items():
        assert int(data[name]["warnings"]) == len(hz)
        assert float(data[name]["min_hz"]) == min(hz)
        assert float(data[name]["target_hz"]) == target and data[name]["runs"] == "1"
        assert data[name]["codec"] == "h264_nvenc"
        assert float(data[name]["all_cores_saturated_share"]) == 0.0
        assert 90 <= float(data[name]["cpu_peak_pct"]) <= 100
        assert 25 < float(data[name]["cpu_mean_pct"]) < 40  # moderate mean utilisation


def test_verdicts_and_recommendation_match_the_seed(seed_report):
    out, text = seed_report
    verdicts = json.loads((out / "lerobot-loop-lag" / "hypotheses.json").read_text())
    assert {k: v["verdict"] for k, v in verdicts.items()} == {
        "H1": "refuted",
        "H2": "supported",
        "H3": "supported",
        "H4": "refuted",
        "H5": "refuted",
        "H6": "inconclusive",  # exp8 (profiled) is not in the seed's logs
        "H7": "inconclusive",
        "H8": "inconclusive",  # exp9 (runq) is not in the seed's logs either
    }
    assert "exp2b 1 vs exp1 11, -91%" in verdicts["H2"]["evidence"]
    assert "### H2) Target FPS is too aggressive" in text
    # one line per check, the method named where a comparison was made
    assert "\n- warnings_per_min over exp1, exp3, exp4, exp5: 8.75/min pooled" in text
    assert "*supports* (method: single run per side: the point estimate" in text
    # ... and the rate and every-run checks name theirs too (every computed check does)
    h1 = section(text, "Hypotheses and checks").split("### H1)", 1)[1].split("### H2)", 1)[0]
    lines = [line for line in h1.splitlines() if line.startswith("- ")]
    assert len(lines) == 2 and all("(method: " in line for line in lines)
    assert "(method: exact Poisson interval of the total count" in lines[1]
    assert "Verdict: **supported**. The 30 Hz loop budget is too tight" in text
    rec = section(text, "Recommendation")
    assert "Best tested configuration: **`exp2b`**" in rec
    assert "lowering dataset.fps 30→20" in rec and "15.6 Hz at a 20 Hz target" in rec
    cause = section(text, "Most likely root cause")
    primary = cause.split("Primary:\n", 1)[1].split("\n\n", 1)[0]
    assert primary == (
        "- lowering dataset.fps 30→20 (exp2b) cut warnings per minute by 91% "
        "(11 → 1/min; single run per side — no spread; lowest warned rate 9.6 → 15.6 Hz)"
    )
    contributing = cause.split("Contributing:\n", 1)[1].split("\n\n", 1)[0]
    assert "fewer cameras 3→1 (exp3) cut warnings per minute by 55%" in contributing
    assert "turning dataset.streaming_encoding off (exp4) cut" in contributing
    assert "(exp5) left warnings per minute unchanged" in cause.split("Not primary", 1)[1]
    assert "Not run yet: `exp6`, `exp7`, `exp8`, `exp9`." in text


def test_every_metric_the_report_names_is_explained_from_its_declaration(seed_report):
    """The report ends with a glossary: each metric its tables and checks name, with the
    unit, kind, better direction, plug-in and meaning its plug-in declares."""
    _, text = seed_report
    playbook = load_playbook(PLAYBOOK)
    rows = {r["Metric"].strip("`"): r for r in table(section(text, "Metrics"), "Metric")}
    checked = {c.metric for h in playbook.model.hypotheses for c in h.checks}
    assert checked <= set(rows)  # every metric a hypothesis checks
    assert set(playbook.workload.headline_metrics()) <= set(rows)
    for name, row in rows.items():
        declared = playbook.metrics[name]
        assert row["Computed by"] == f"`{declared.source}`"
        assert row["Kind"] == declared.kind
        assert row["Unit"] == (declared.unit or "—")
        assert row["Better"] == (declared.better or "—")
        assert row["What it measures"] == declared.description.replace("|", "\\|")
    assert rows["warnings_per_min"]["Computed by"] == "`lerobot-record`"


def test_figures_are_pngs_embedded_with_alt_text(seed_report):
    out, text = seed_report
    for png, alt in [
        ("warnings.png", "repeats): exp1 11 (CI 5.49–19.7), exp2b 1 (CI 0.0253–5.57), exp3"),
        ("hz-over-time.png", "the lowest is 9.6 Hz in exp1 at 7 s"),
        ("cpu-heatmap.png", "imported-d2"),  # each panel names its run
        ("cpu-heatmap.png", ") peak 100% / mean 33%, 11 warnings"),
        ("hz-over-time.png", "Scatter of 36 slow-loop warnings from 5 runs"),  # points
        (
            "hz-distribution.png",
            "exp2b (target 20 Hz) 1 warning at 15.6 Hz; exp3 (target 30 Hz)"
            " 5 warnings from 1 run, 16.0–27.1 Hz",
        ),  # its own target, one run as points
    ]:
        assert (out / "lerobot-loop-lag" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        line = next(x for x in text.splitlines() if x.endswith(f"(lerobot-loop-lag/{png})"))
        assert line.startswith("![") and alt in line


@pytest.fixture
def store(tmp_path):
    pb = load_playbook(PLAYBOOK)
    import_logs(write_seed(tmp_path / "logs"), pb, tmp_path / "runs", **QUIET)
    return pb, tmp_path / "runs", tmp_path / "reports"


def test_failed_and_interrupted_runs_are_listed_but_left_out(store, tmp_path):
    pb, runs, out = store
    logs = tmp_path / "more"
    write_seed_logs(logs, "exp2b", [5.0, 6.0, 7.0, 8.0], target=20)
    [m] = import_logs(logs, pb, runs, **QUIET)
    run_dir = runs / "exp2b" / m.run_id
    m.status, m.error = "failed", "lerobot-record exited with 1"
    write_manifest(run_dir, m)
    result = build_report(pb, runs, out, **QUIET)
    text = result.markdown.read_text()
    assert [r.status for r in result.runs_left_out] == ["failed"]
    assert f"- `exp2b` {m.run_id} on `imported`: **failed** — lerobot-record exited" in text
    rows = {r["Experiment"]: r for r in table(section(text, "Quantitative summary"), "Experiment")}
    assert rows["`exp2b`"]["Runs"] == "1" and rows["`exp2b`"]["Min Hz"] == "15.6"
    # asked to, the report counts it: two runs, mean and spread
    text = build_report(pb, runs, out, include_incomplete=True, **QUIET).markdown.read_text()
    rows = {r["Experiment"]: r for r in table(section(text, "Quantitative summary"), "Experiment")}
    assert rows["`exp2b`"]["Runs"] == "2"
    assert rows["`exp2b`"]["Warnings per run"] == "2.5 (1–4)"
    assert rows["`exp2b`"]["Min Hz"] == "5.0 (5.0–15.6)"


def test_repeats_are_aggregated_and_overlap_is_called_noise(tmp_path):
    pb = load_playbook(PLAYBOOK)
    logs, runs = tmp_path / "logs", tmp_path / "runs"
    for i, n in enumerate([11, 9, 10]):
        write_seed_logs(logs / f"a{i}", "exp1", [12.0 + k for k in range(n)])
    for i, n in enumerate([8, 10, 12]):
        write_seed_logs(logs / f"b{i}", "exp4", [14.0 + k for k in range(n)])
    for sub in sorted(logs.iterdir()):
        import_logs(sub, pb, runs, **QUIET)
    result = build_report(pb, runs, tmp_path / "out", **QUIET)
    text = result.markdown.read_text()
    rows = {r["Experiment"]: r for r in table(section(text, "Quantitative summary"), "Experiment")}
    assert rows["`exp1`"]["Warnings per run"] == "10 (9–11)" and rows["`exp1`"]["Runs"] == "3"
    assert rows["`exp4`"]["Warnings per run"] == "10 (8–12)"
    assert result.verdicts["H4"] == "refuted"
    cause = section(text, "Most likely root cause")
    assert "Undecided (more runs needed):" in cause and "within run-to-run noise" in cause
    assert "- none: no tested change is confirmed to cut warnings" in text


def test_a_failed_build_keeps_the_previous_report_whole(store, tmp_path):
    pb, runs, out = store
    build_report(pb, runs, out, **QUIET)
    before = {p.name: p.read_bytes() for p in (out / pb.name).iterdir()}
    md = (out / f"{pb.name}.md").read_text()
    bad = tmp_path / "mine.md.j2"
    bad.write_text("# {{ pb.name }}\n\n{{ no_such_thing }}\n")
    with pytest.raises(LabkitError, match=r"mine\.md\.j2:3: 'no_such_thing' is undefined"):
        build_report(pb, runs, out, template=bad, **QUIET)
    assert {p.name: p.read_bytes() for p in (out / pb.name).iterdir()} == before
    assert (out / f"{pb.name}.md").read_text() == md
    assert sorted(p.name for p in out.iterdir()) == [pb.name, f"{pb.name}.md"]
    bad.write_text("{% for x in rows %}\n")
    with pytest.raises(LabkitError, match=r"mine\.md\.j2:1: template syntax error"):
        build_report(pb, runs, out, template=bad, **QUIET)


def test_a_user_template_gets_the_same_numbers(store, tmp_path, fake_home):
    pb, runs, out = store
    mine = tmp_path / "short.md.j2"
    mine.write_text(
        "{% for r in rows %}{{ r.experiment }}={{ r.warnings }}@{{ r.min_hz | hz }}\n{% endfor %}"
    )
    res = invoke(
        "report", "--runs", str(runs), "--out", str(out), "--template", str(mine), home=fake_home
    )
    assert res.returncode == 0, res.stderr
    assert (out / f"{pb.name}.md").read_text().splitlines() == [
        "exp1=11@9.6", "exp2b=1@15.6", "exp3=5@16.0", "exp4=8@15.8", "exp5=11@15.5",
    ]  # fmt: skip


def test_empty_store_says_what_to_do(tmp_path, fake_home):
    res = invoke(
        "report", "--runs", str(tmp_path / "none"), "--out", str(tmp_path / "o"), home=fake_home
    )
    assert res.returncode == 2
    assert "no runs of playbook 'lerobot-loop-lag'" in res.stderr and "invoke import" in res.stderr
    assert not (tmp_path / "o" / "lerobot-loop-lag.md").exists()


def test_report_of_runs_without_tegrastats(store):
    pb, runs, out = store
    for d in runs.glob("*/*"):
        (d / "tegrastats.log").unlink()
        shutil.rmtree(d / "tegrastats.parquet", ignore_errors=True)
        (d / "tegrastats.parquet").unlink(missing_ok=True)
    assert load_manifest(next(runs.glob("exp1/*")))
    result = build_report(pb, runs, out, **QUIET)
    text = result.markdown.read_text()
    assert not (result.folder / "cpu-heatmap.png").exists()
    assert result.verdicts["H5"] == "inconclusive" and result.recommended == "exp2b"
    assert "H5 is undecided: all_cores_saturated_share cannot be computed on 5 run(s)" in text
    assert "the `tegrastats` probe ran but its log gave no value for it" in text
