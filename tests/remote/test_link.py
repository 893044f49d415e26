"""Connecting early: the handshake and the remote shell's start overlap the task's own
start-up, and the run takes that connection (or its error) where it would connect."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from labkit.config.hostvars import HostConfig, connection_config
from labkit.config.inventory import Inventory
from labkit.errors import ConnectError, HostKeyError, InventoryError
from labkit.remote import connect, link
from tests.conftest import REPO
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
    real = link.open_target

    def counting(h):
        made.append(h.name)
        return real(h)

    monkeypatch.setattr(link, "open_target", counting)  # the early thread's
    monkeypatch.setattr(connect, "open_target", counting)  # open_host's own
    return made


def test_the_host_is_taken_from_the_early_connection(sshd, fake_home, tmp_path, opened):
    trust(fake_home, sshd)
    h = host(sshd, tmp_path / "wd")
    link.connect_early(h)
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
    link.connect_early(host(sshd, tmp_path / "one"))
    untaken = link._EARLY[-1]
    hs = connect.open_host(host(sshd, tmp_path / "two"))
    try:
        assert opened == ["thor", "thor"]
        assert hs.workdir == str(tmp_path / "two")
    finally:
        hs.close()
    assert untaken.done.wait(60)
    link._close_untaken()
    assert untaken.target is not None and untaken.target.conn is None
    link._EARLY.remove(untaken)


def test_an_unknown_host_key_is_raised_where_the_run_connects(sshd, fake_home, tmp_path):
    """The error connecting raised in the background is the run's, word for word, raised
    when it takes the connection (before: when it connected itself)."""
    h = host(sshd, tmp_path / "wd")
    with pytest.raises(HostKeyError) as direct:
        connect.open_host(h)
    link.connect_early(h)
    with pytest.raises(HostKeyError) as early:
        connect.open_host(h)
    assert str(early.value) == str(direct.value)
    assert not link._EARLY


def test_an_unreachable_port_is_a_connect_error_where_the_run_connects(sshd, tmp_path):
    h = host(sshd, tmp_path / "wd", port=free_port())
    link.connect_early(h)
    with pytest.raises(ConnectError, match=r"thor: cannot reach 127\.0\.0\.1:\d+ over SSH"):
        connect.open_host(h)


def test_a_local_host_is_not_connected_early(tmp_path):
    link.connect_early(HostConfig(name="here", ansible_connection="local"))
    assert not link._EARLY


def test_connecting_early_imports_no_plug_in():
    """What ``invoke experiment`` imports to begin connecting (the host's connection
    variables read and checked, paramiko) loads no workload, probe or registry: those
    are what the connection overlaps."""
    code = textwrap.dedent(
        """
        import sys
        from labkit.config.hostvars import connection_config
        from labkit.config.inventory import Inventory
        from labkit.remote import link
        link._ssh_target()
        host = connection_config(Inventory("inventory/hosts.yml"), "sim")
        print(host.name, sorted(m for m in sys.modules
                                if m.startswith(("labkit.registry", "labkit.workloads",
                                                 "labkit.probes", "pandas"))))
        """
    )
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["sim", "[]"]


def test_the_connection_variables_are_checked_by_the_hosts_model(tmp_path):
    """Only the connection variables are read (a plug-in's own variable, checked later
    with every plug-in, is not), and a bad one is the inventory's error, naming the host."""
    inv = tmp_path / "hosts.yml"
    inv.write_text(
        "all:\n  hosts:\n"
        "    thor: {ansible_host: 127.0.0.1, ansible_port: 2222, labkit_lerobot_record: /x}\n"
        "    bad: {ansible_port: 70000}\n"
    )
    host = connection_config(Inventory(inv), "thor")
    assert (host.address, host.ansible_port, host.workdir) == ("127.0.0.1", 2222, "~/labkit")
    with pytest.raises(InventoryError, match=r"ansible_port: host bad: .*65535") as err:
        connection_config(Inventory(inv), "bad")
    assert str(inv) in str(err.value)
