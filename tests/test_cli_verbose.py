"""-v/--verbose through the real CLI: every remote command with its time and exit code on
stderr (what LABKIT_TRACE=1 does), and none of it without -v."""

from __future__ import annotations

import re
import shutil

import pytest
import yaml

from tests.conftest import REPO
from tests.labhost import invoke

pytestmark = pytest.mark.slow


def test_verbose_shows_each_remote_command_with_its_time(tmp_path, fake_home):
    inv_dir = tmp_path / "inventory"
    shutil.copytree(REPO / "inventory", inv_dir)
    hosts = yaml.safe_load((inv_dir / "hosts.yml").read_text())
    hosts["all"]["children"]["simulated"]["hosts"]["sim"]["labkit_workdir"] = str(tmp_path / "wd")
    (inv_dir / "hosts.yml").write_text(yaml.safe_dump(hosts))
    inventory = str(inv_dir / "hosts.yml")
    res = invoke("facts", "-v", "-i", inventory, "--limit", "sim", home=fake_home)
    assert res.returncode == 0, res.stderr
    trace = res.stderr.splitlines()
    assert len(trace) >= 2
    # [labkit trace] <host> <seconds>s exit <code>  '<command>'  @+<since start>s
    for line in trace:
        assert re.match(r"\[labkit trace\] sim +\d+\.\d{3}s exit \d+  ['\"]", line), line
        assert re.search(r"  @\+\d+\.\d{3}s$", line), line
    since = [float(line.rsplit("@+", 1)[1][:-1]) for line in trace]
    assert since == sorted(since) and since[0] > 0  # where each falls in the run, in order
    assert any("cat " in line for line in trace)
    quiet = invoke("facts", "-i", inventory, home=fake_home)
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert "arch" in quiet.stdout and "arch" in res.stdout  # the same facts either way
