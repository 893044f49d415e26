"""`invoke report` through the real CLI: nothing hidden (a run whose record cannot be read
is listed, never "not run yet"; no Python warning on stderr), the verdicts and the
recommendation on the terminal, and a non-zero exit only when it could not write."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.labhost import invoke


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """The shipped seed logs imported, then exp3's record cut short."""
    runs = tmp_path_factory.mktemp("store") / "runs"
    home = tmp_path_factory.mktemp("home")
    res = invoke("import", "--logs", str(REPO / "examples" / "seed-logs"), "--runs", str(runs),
                 home=home)  # fmt: skip
    assert res.returncode == 0, res.stderr
    [manifest] = runs.glob("exp3/*/manifest.json")
    manifest.write_bytes(manifest.read_bytes()[:200])
    return runs


@pytest.mark.slow
def test_an_unreadable_run_is_listed_and_the_verdicts_printed(store, tmp_path, fake_home):
    out = tmp_path / "reports"
    res = invoke("report", "--runs", str(store), "--out", str(out), home=fake_home)
    assert res.returncode == 0, res.stderr
    assert res.stderr == ""  # no CorruptManifestWarning with a source line
    lines = res.stdout.splitlines()
    verdicts = lines[lines.index("verdicts:") + 1 :]
    assert [v.split()[0] for v in verdicts[:5]] == ["H1", "H2", "H3", "H4", "H5"]
    assert verdicts[0].startswith("  H1 refuted: Software encoding")
    assert "  1 run(s) could not be read: listed in the report" in lines
    assert any(line.startswith("recommendation: ") for line in lines)
    text = (out / "lerobot-loop-lag.md").read_text()
    [bad] = store.glob("exp3/*")
    assert "Runs that could not be read (1;" in text
    assert f"- `{bad}` (`exp3`): manifest.json: " in text
    not_run = next(line for line in text.splitlines() if line.startswith("Not run yet:"))
    assert "`exp3`" not in not_run and "`exp6`" in not_run


@pytest.mark.slow
def test_report_exits_non_zero_only_when_it_cannot_write(store, tmp_path, fake_home):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    res = invoke("report", "--runs", str(store), "--out", str(blocker / "reports"),
                 home=fake_home)  # fmt: skip
    assert res.returncode == 2
    assert res.stderr.startswith("labkit: error: ") and len(res.stderr.splitlines()) == 1
