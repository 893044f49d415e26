"""Connecting early: the handshake and the remote shell's start overlap the task's own
start-up, and the run takes that connection (or its error) where it would connect."""

from __future__ import annotations

import pytest

from labkit.config.hostvars import HostConfig
from labkit.errors import ConnectError, HostKeyError
from labkit.remote import connect
from tests.labhost import trust
from tests.sshd import LOOPBACK, free_port


def host(sshd, workdir, **kw) -> HostConfig:
    return HostConfig(
        name="thor",
        ansible_host=LOOPBACK,
        ansible_port=kw.pop("port", sshd.port),
        ansible_user=sshd.user,
        ansible_ssh_private_key_file=str(sshd.key),
        labkit_workdir=str(workdir),
        **kw,
    )


@pytest.fixture
def opened(monkeypatch):
    """Every target opened, in order (the early thread's and the run's own)."""
    made = []
    real = connect.open_target

    def counting(h):
        made.append(h.name)
        return real(h)

    monkeypatch.setattr(connect, "open_target", counting)
    return made


def test_the_host_is_taken_from_the_early_connection(sshd, fake_home, tmp_path, opened):
    trust(fake_home, sshd)
    h = host(sshd, tmp_path / "wd")
    connect.connect_early(h)
    hs = connect.open_host(h)
    try:
        assert opened == ["thor"]  # one connection: the early one, not a second
        assert hs.workdir == str(tmp_path / "wd")
        assert hs.target.run("echo ready").stdout == "ready\n"
    finally:
        hs.close()


def test_another_host_config_is_not_served_by_it(sshd, fake_home, tmp_path, opened):
    """An early connection made with other settings (here the work dir) is not the run's:
    the run connects itself, and the untaken one is closed at exit."""
    trust(fake_home, sshd)
    connect.connect_early(host(sshd, tmp_path / "one"))
    untaken = connect._EARLY[-1]
    hs = connect.open_host(host(sshd, tmp_path / "two"))
    try:
        assert opened == ["thor", "thor"]
        assert hs.workdir == str(tmp_path / "two")
    finally:
        hs.close()
    assert untaken.done.wait(60)
    connect._close_untaken()
    assert untaken.target is not None and untaken.target.conn is None
    connect._EARLY.remove(untaken)


def test_an_unknown_host_key_is_raised_where_the_run_connects(sshd, fake_home, tmp_path):
    """The error connecting raised in the background is the run's, word for word, raised
    when it takes the connection (before: when it connected itself)."""
    h = host(sshd, tmp_path / "wd")
    with pytest.raises(HostKeyError) as direct:
        connect.open_host(h)
    connect.connect_early(h)
    with pytest.raises(HostKeyError) as early:
        connect.open_host(h)
    assert str(early.value) == str(direct.value)
    assert not connect._EARLY


def test_an_unreachable_port_is_a_connect_error_where_the_run_connects(sshd, tmp_path):
    h = host(sshd, tmp_path / "wd", port=free_port())
    connect.connect_early(h)
    with pytest.raises(ConnectError, match=r"thor: cannot reach 127\.0\.0\.1:\d+ over SSH"):
        connect.open_host(h)


def test_a_local_host_is_not_connected_early(tmp_path):
    connect.connect_early(HostConfig(name="here", ansible_connection="local"))
    assert not connect._EARLY
