"""Shared test setup: a fake $HOME so a developer's own ssh/invoke config cannot leak in."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from labkit import provision
from tests.sshd import start_sshd

# what the CLI wires in for every task: a simulated host gets the simulated Jetson
provision.wire()

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session", autouse=True)
def matplotlib_cache(tmp_path_factory):
    """One matplotlib font cache for the session (each xdist worker): with a fake $HOME per
    test, every report subprocess would build it again (about 1 CPU-s each) and print
    "Matplotlib is building the font cache" on stderr."""
    os.environ["MPLCONFIGDIR"] = str(tmp_path_factory.mktemp("matplotlib"))


@pytest.fixture(autouse=True)
def fake_home(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """A real OpenSSH server on 127.0.0.1 (free port, temp keys), stopped at the end."""

    server = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield server
    server.stop()
