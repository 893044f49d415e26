"""py-spy onto a host for the pyspy probe: a host without it and without PyPI gets the
workstation's pushed; one of another machine type is told why not (and skipped)."""

from __future__ import annotations

import platform
import subprocess
import zipfile

from labkit.probes.pyspy.install import ensure_pyspy
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


OTHER = "aarch64" if platform.machine() != "aarch64" else "x86_64"


def test_a_host_of_another_machine_type_gets_a_wheel_pushed_and_unpacked(tmp_path, fake_home):
    """The workstation's cached py-spy wheel for the host's machine type (here a stand-in
    whose 'py-spy' is a script) is pushed and unpacked by the host's python3, no pip."""
    cache = fake_home / ".cache" / "labkit" / "wheels"
    cache.mkdir(parents=True)
    with zipfile.ZipFile(cache / f"py_spy-0.4.3-py2.py3-none-manylinux_2_17_{OTHER}.whl", "w") as z:
        z.writestr("py_spy-0.4.3.data/scripts/py-spy", "#!/bin/sh\necho py-spy 0.4.3\n")
        z.writestr("py_spy-0.4.3.dist-info/WHEEL", "Wheel-Version: 1.0\n")
    wd = str(tmp_path / "wd")
    path, how = ensure_pyspy(offline_host(), {"arch": OTHER}, wd)
    assert path == f"{wd}/tools/bin/py-spy"
    assert how.startswith(
        f"pushed from this workstation as py_spy-0.4.3-py2.py3-none-manylinux_2_17_{OTHER}.whl"
    )
    assert (
        subprocess.run([path, "--version"], capture_output=True, text=True).stdout
        == "py-spy 0.4.3\n"
    )
    assert not list((tmp_path / "wd" / "tools" / "bin").glob("*.whl"))  # the wheel is gone


def test_without_a_wheel_for_its_machine_type_the_host_is_told_why_not(
    tmp_path, fake_home, monkeypatch
):
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # this workstation cannot download one either
    path, how = ensure_pyspy(offline_host(), {"arch": OTHER}, str(tmp_path / "wd"))
    assert path is None
    assert f"no py-spy wheel for {OTHER} could be found or downloaded here" in how
    assert not (tmp_path / "wd" / "tools" / "bin" / "py-spy").exists()


def test_a_host_that_has_it_is_left_alone(tmp_path):
    path, how = ensure_pyspy(offline_host(), {"pyspy": "/usr/bin/py-spy"}, str(tmp_path))
    assert (path, how) == ("/usr/bin/py-spy", "already on the host")
    assert list(tmp_path.iterdir()) == []
