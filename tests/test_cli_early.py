"""``invoke experiment``'s early connection through ``labkit.cli`` in-process, against the
real test sshd: taken by the first run only, closed when planning fails, and a playbook's
error reported while a host that does not answer is still being reached."""

from __future__ import annotations

import io
import socket
import sys
import threading

import pytest

from labkit import cli
from labkit.errors import LabkitError
from labkit.remote import early as early_mod
from labkit.remote import ssh as ssh_mod
from labkit.remote.early import Early
from tests.conftest import DATA
from tests.labhost import ssh_host, trust, wait_for, write_inventory
from tests.sshd import LOOPBACK

PLAYBOOK = DATA / "playbooks" / "e2e" / "e2e.yml"


@pytest.fixture(autouse=True)
def switch_interval():
    """The interpreter's switch interval as it was, whatever a failed test left."""
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


@pytest.fixture
def spied(monkeypatch):
    """Every early connection started, and what each run took from it."""
    seen: dict[str, list] = {"early": [], "taken": []}
    start, take = Early.start, Early.take

    def spy_start(self):
        seen["early"].append(self)
        return start(self)

    def spy_take(self, name, params):
        got = take(self, name, params)
        seen["taken"].append(got)
        return got

    monkeypatch.setattr(Early, "start", spy_start)
    monkeypatch.setattr(Early, "take", spy_take)
    return seen


def test_the_first_run_takes_the_early_connection_and_a_repeat_connects_anew(
    sshd, tmp_path, fake_home, spied
):
    trust(fake_home, sshd)
    workdir = tmp_path / "wd"
    inv = write_inventory(tmp_path / "hosts.yml", {"thor": ssh_host(sshd, workdir)})
    cli.facts("thor", str(inv), out=io.StringIO())  # the simulator installed
    before = sshd.accepted()
    switch = sys.getswitchinterval()
    out = io.StringIO()
    cli.experiment("short", "thor", str(PLAYBOOK), str(inv), check=True, repeat=2, out=out)
    assert sys.getswitchinterval() == switch  # the interpreter's own, once the run took over
    [early] = spied["early"]
    [taken] = spied["taken"]  # the second run was given no early connection
    assert taken is not None  # the first run ran on it
    assert sshd.accepted() - before == 2  # that one, and the second run's own
    assert out.getvalue().count("thor: connecting (") == 2


def test_a_playbook_error_closes_the_early_connection(sshd, tmp_path, fake_home, spied):
    trust(fake_home, sshd)
    inv = write_inventory(tmp_path / "hosts.yml", {"thor": ssh_host(sshd, tmp_path / "wd")})
    sessions = set(sshd.sessions())
    switch = sys.getswitchinterval()
    with pytest.raises(LabkitError, match="nosuch"):
        cli.experiment("nosuch", "thor", str(PLAYBOOK), str(inv), out=io.StringIO())
    assert sys.getswitchinterval() == switch
    [early] = spied["early"]
    assert spied["taken"] == []
    # the connection, opened or still opening, ends: sshd's session for it goes away
    wait_for(lambda: early._done.is_set(), 30, "the early connection's attempt to end")
    wait_for(lambda: set(sshd.sessions()) <= sessions, 30, "sshd's session for it to end")


def test_a_playbook_error_does_not_wait_for_a_host_that_does_not_answer(
    tmp_path, fake_home, spied, monkeypatch
):
    # a port that accepts the TCP connection and never speaks SSH: the handshake waits for
    # its banner (here up to 10 minutes), and the playbook's error is reported meanwhile
    monkeypatch.setattr(ssh_mod, "CONNECT_TIMEOUT", 600.0)
    silent = socket.create_server((LOOPBACK, 0))
    port = silent.getsockname()[1]
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(silent.accept()[0])
            except OSError:
                continue

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    host = {"ansible_host": LOOPBACK, "ansible_port": port, "labkit_simulate": True,
            "labkit_workdir": str(tmp_path / "wd")}  # fmt: skip
    inv = write_inventory(tmp_path / "hosts.yml", {"thor": host})
    try:
        with pytest.raises(LabkitError, match="nosuch"):
            cli.experiment("nosuch", "thor", str(PLAYBOOK), str(inv), out=io.StringIO())
        [early] = spied["early"]
        assert not early._done.is_set()  # still waiting for the banner
    finally:
        stop.set()
        acceptor.join()
        for conn in held:
            conn.close()  # the handshake fails now, and the early connection with it
        silent.close()
    wait_for(lambda: early._done.is_set(), 30, "the early connection's attempt to end")


def test_nothing_is_opened_early_for_a_local_host(tmp_path, fake_home, monkeypatch):
    started = []
    monkeypatch.setattr(early_mod.Early, "start", lambda self: started.append(self) or self)
    inv = write_inventory(tmp_path / "hosts.yml", {"here": {"ansible_connection": "local"}})
    with pytest.raises(LabkitError, match="nosuch"):
        cli.experiment("nosuch", "here", str(PLAYBOOK), str(inv), out=io.StringIO())
    assert started == []
