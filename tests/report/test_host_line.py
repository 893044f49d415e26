"""The report's host line names the versions of the playbook's own workload and probes,
not those of every registered plug-in's program the facts round trip found."""

from __future__ import annotations

from labkit.config.playbook import load_playbook
from labkit.records.store import load_manifest, write_manifest
from labkit.report.build import build_report
from tests.report.test_build import section
from tests.report.test_one_template import PLAYBOOK as COMMAND
from tests.report.test_one_template import _run
from tests.report.test_statistics import PLAYBOOK as LEROBOT
from tests.report.test_statistics import QUIET, add_runs

# what one facts round trip gathers on a host with both programs installed
FACTS = {
    "kernel": "5.15.148-tegra",
    "lerobot": {"path": "/opt/conda/bin/lerobot-record", "version": "0.4.4"},
    "gstreamer": {"version": "1.20.3", "elements": ["fakesrc", "fakesink"]},
    "tegrastats": "/usr/bin/tegrastats",
}


def host_line(text: str) -> str:
    [line] = [x for x in section(text, "Experiment setup").splitlines() if x.startswith("- `")]
    return line


def test_a_command_playbooks_host_line_names_no_lerobot_nor_gstreamer(tmp_path):
    pb = load_playbook(COMMAND)
    runs = tmp_path / "runs"
    _run(runs, pb, "base", 0, 3, {"tegrastats": {}})
    [run] = (runs / "base").iterdir()
    record = load_manifest(run)
    record.facts = FACTS
    write_manifest(run, record)
    line = host_line(build_report(pb, runs, tmp_path / "out", **QUIET).markdown.read_text())
    assert "kernel 5.15.148-tegra" in line
    assert "lerobot" not in line and "0.4.4" not in line, line
    assert "gstreamer" not in line and "1.20.3" not in line, line


def test_a_lerobot_playbooks_host_line_names_its_lerobot_alone(tmp_path):
    runs = tmp_path / "runs"
    add_runs(runs, tmp_path, "exp1", [3], facts=FACTS)
    line = host_line(
        build_report(load_playbook(LEROBOT), runs, tmp_path / "out", **QUIET).markdown.read_text()
    )
    assert "lerobot 0.4.4" in line and "kernel 5.15.148-tegra" in line
    assert "gstreamer" not in line, line
