"""Shared test setup: a fake $HOME so a developer's own ssh/invoke config cannot leak in."""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit import provision
from tests.sshd import start_sshd

# what the CLI wires in for every task: a simulated host gets the simulated Jetson
provision.wire()

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


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
