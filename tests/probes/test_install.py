"""py-spy onto a host for the pyspy probe: a host without it and without PyPI gets the
workstation's pushed; one of another machine type is told why not (and skipped)."""

from __future__ import annotations

import platform
import subprocess

from labkit.probes.install import ensure_pyspy
from labkit.remote.target import LocalTarget

OFFLINE = "export PIP_NO_INDEX=1 PIP_FIND_LINKS=/nonexistent; "  # pip reaches no index


def offline_host() -> LocalTarget:
    t = LocalTarget("board")
    t.env_prefix = OFFLINE
    return t


def test_an_offline_host_gets_the_workstations_pyspy_pushed(tmp_path):
    wd = str(tmp_path / "wd")
    path, how = ensure_pyspy(offline_host(), {"arch": platform.machine()}, wd)
    assert path == f"{wd}/tools/bin/py-spy"
    assert how.startswith("pushed from this workstation (pip on the host failed")
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("py-spy ")


def test_a_host_of_another_machine_type_is_told_why_not(tmp_path):
    other = "aarch64" if platform.machine() != "aarch64" else "x86_64"
    path, how = ensure_pyspy(offline_host(), {"arch": other}, str(tmp_path / "wd"))
    assert path is None
    assert f"this workstation's py-spy is for {platform.machine()}, the host is {other}" in how
    assert not (tmp_path / "wd" / "tools" / "bin" / "py-spy").exists()


def test_a_host_that_has_it_is_left_alone(tmp_path):
    path, how = ensure_pyspy(offline_host(), {"pyspy": "/usr/bin/py-spy"}, str(tmp_path))
    assert (path, how) == ("/usr/bin/py-spy", "already on the host")
    assert list(tmp_path.iterdir()) == []
