"""SshTarget against the real test sshd: host keys, ~/.ssh/config, timeouts, quoting."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from types import SimpleNamespace

import paramiko
import pytest

from labkit.errors import CommandTimeout, ConnectError, HostKeyError, RemoteError
from labkit.remote import ssh as ssh_mod
from labkit.remote.ssh import SshTarget
from tests.labhost import alive, trust, wait_for
from tests.sshd import LOOPBACK, free_port, start_sshd


def target(sshd, policy: str = "strict", **kw) -> SshTarget:
    return SshTarget(
        "thor", LOOPBACK, user=sshd.user, port=sshd.port, key_file=str(sshd.key),
        host_key_policy=policy, **kw,
    )  # fmt: skip


def test_unknown_host_is_refused_with_how_to_trust_it(sshd, fake_home):
    with pytest.raises(HostKeyError) as err:
        target(sshd)
    msg = str(err.value)
    assert "unknown" in msg and "refused" in msg and "SHA256:" in msg
    assert f"ssh-keyscan -p {sshd.port} {LOOPBACK}" in msg
    assert str(fake_home / ".ssh" / "known_hosts") in msg
    assert not (fake_home / ".ssh" / "known_hosts").exists()  # nothing added behind our back


def test_accept_new_trusts_once_and_remembers(sshd, fake_home):
    t = target(sshd, "accept-new")
    assert t.run("echo hi").stdout == "hi\n"
    t.close()
    known = (fake_home / ".ssh" / "known_hosts").read_text()
    assert known.startswith(f"[{LOOPBACK}]:{sshd.port} ssh-ed25519 ")
    assert sshd.host_pub.split()[1] in known
    t = target(sshd)  # strict now works: the key is known
    assert t.run("true").ok
    t.close()


def test_changed_host_key_is_refused_even_with_accept_new(sshd, fake_home, tmp_path):
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    kind, b64 = other.with_suffix(".pub").read_text().split()[:2]
    (fake_home / ".ssh").mkdir()
    (fake_home / ".ssh" / "known_hosts").write_text(f"[{LOOPBACK}]:{sshd.port} {kind} {b64}\n")
    for policy in ("strict", "accept-new"):
        with pytest.raises(HostKeyError, match="HOST KEY CHANGED") as err:
            target(sshd, policy)
        assert f"for [{LOOPBACK}]:{sshd.port}:" in str(err.value)
        assert f"ssh-keygen -R '[{LOOPBACK}]:{sshd.port}'" in str(err.value)


def test_ssh_config_alias_is_honoured(sshd, fake_home):
    trust(fake_home, sshd)
    (fake_home / ".ssh" / "config").write_text(
        f"Host thor-alias\n  HostName {LOOPBACK}\n  Port {sshd.port}\n  User {sshd.user}\n"
        f"  IdentityFile {sshd.key}\n"
    )
    t = SshTarget("thor", "thor-alias")
    assert t.run("echo $USER").stdout.strip() == sshd.user
    t.close()


def test_an_sshd_reached_through_an_alias_to_loopback_is_on_this_machine(sshd, fake_home):
    """The address the connection reached counts, not the name it was given: an alias
    whose HostName is 127.0.0.1 is this machine (a simulated host there samples this
    machine's CPU, the controller's included)."""
    trust(fake_home, sshd)
    (fake_home / ".ssh" / "config").write_text(
        f"Host board-alias\n  HostName {LOOPBACK}\n  Port {sshd.port}\n  User {sshd.user}\n"
        f"  IdentityFile {sshd.key}\n"
    )
    t = SshTarget("thor", "board-alias")
    assert t.on_this_machine() is True
    t.close()
    assert t.on_this_machine() is False  # closed: nothing to tell, so not assumed


class _Sock:
    def __init__(self, peer: str, local: str) -> None:
        self.peer, self.local = peer, local

    def getpeername(self):
        return (self.peer, 22)

    def getsockname(self):
        return (self.local, 50000)


def _connected_to(peer: str, local: str = "192.0.2.7") -> SshTarget:
    """An SshTarget whose connection reached ``peer`` from ``local`` (no network: only
    the addresses are asked for)."""
    t = SshTarget.__new__(SshTarget)
    t.name = "board"
    t.conn = SimpleNamespace(is_connected=True, transport=SimpleNamespace(sock=_Sock(peer, local)))
    return t


@pytest.mark.parametrize(
    ("peer", "local", "here"),
    [
        ("127.0.0.1", "127.0.0.1", True),
        ("127.0.1.1", "127.0.0.1", True),
        ("::1", "::1", True),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1", True),  # IPv4 on an IPv6 socket
        ("192.0.2.7", "192.0.2.7", True),  # this machine by its own LAN address
        ("fe80::1%eth0", "fe80::1%eth0", True),
        ("192.0.2.1", "192.0.2.7", False),  # a board elsewhere
        ("2001:db8::1", "2001:db8::7", False),
    ],
)
def test_which_peer_addresses_are_this_machine(peer, local, here):
    assert _connected_to(peer, local).on_this_machine() is here


def test_a_connection_without_addresses_is_not_taken_for_this_machine():
    """A jump host's channel or a proxy command has no address to tell."""
    t = _connected_to("127.0.0.1")
    t.conn.transport.sock = object()
    assert t.on_this_machine() is False


def test_timeout_kills_the_remote_command(sshd, fake_home):
    trust(fake_home, sshd)
    t = target(sshd)
    start = time.monotonic()
    with pytest.raises(CommandTimeout, match="timed out after 1.5 s"):
        t.run("echo $$ > /dev/null; sleep 47.25", timeout=1.5)
    assert time.monotonic() - start < 10
    found = subprocess.run(["pgrep", "-f", "sleep 47.25"], capture_output=True, text=True)
    pids = [int(p) for p in found.stdout.split()]
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(p) for p in pids)
    assert t.run("echo still usable").ok
    t.close()


def test_values_reach_the_remote_side_literally(sshd, fake_home):
    trust(fake_home, sshd)
    t = target(sshd)
    nasty = 'it\'s "x"; $(id) `id` $HOME & | > * \\ \n second line'
    res = t.run("cat", stdin=nasty.encode())
    assert res.stdout == nasty
    t.put(nasty.encode(), "/tmp/labkit-test-put")
    assert t.run("cat /tmp/labkit-test-put").stdout == nasty
    t.run("rm -f /tmp/labkit-test-put")
    t.close()


def test_unreachable_port_is_a_connect_error(sshd, fake_home):
    with pytest.raises(ConnectError, match="cannot reach"):
        SshTarget("thor", LOOPBACK, port=free_port(), key_file=str(sshd.key))


@pytest.fixture(scope="module")
def sshd_nosftp(tmp_path_factory):
    server = start_sshd(tmp_path_factory.mktemp("sshd-nosftp"), sftp=False)
    yield server
    server.stop()


def test_files_move_through_the_shell_when_the_server_has_no_sftp(sshd_nosftp, fake_home,
                                                                  tmp_path):  # fmt: skip
    trust(fake_home, sshd_nosftp)
    t = target(sshd_nosftp)
    data = bytes(range(256)) * 4096 + b"\n\x00 end without newline"  # binary, 1 MiB
    dest = tmp_path / "dir with space" / "f'ile.bin"
    dest.parent.mkdir()
    t.put(data, str(dest), mode=0o600)
    assert dest.read_bytes() == data
    assert dest.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in dest.parent.iterdir()) == [dest.name]  # no temp file left
    back = tmp_path / "back" / "copy.bin"
    t.get(str(dest), back)
    assert back.read_bytes() == data
    t.put(b"second", str(dest))  # replaces
    assert dest.read_bytes() == b"second"
    with pytest.raises(RemoteError, match="No such file"):
        t.get(str(tmp_path / "absent"), tmp_path / "x")
    assert not (tmp_path / "x").exists()
    t.close()


def test_the_shell_starts_with_the_connection_and_serves_the_first_command(sshd, fake_home):
    # opened in the background as the connection opens (the server's answer and the login
    # rc files take their time meanwhile), waited for once, by the first command
    trust(fake_home, sshd)
    t = target(sshd)
    assert t._sh_opening is not None and t._sh_starting is not None
    assert t.run("echo $((6 * 7))").stdout == "42\n"
    started = t._sh
    assert started is not None and t._sh_opening is None and t._sh_starting is None
    assert t.run("echo again").stdout == "again\n"
    assert t._sh is started
    t.close()


def test_a_shell_whose_connection_drops_while_it_opens_is_a_connect_error(
    sshd, fake_home, monkeypatch
):
    # the shell's channel is held back until the connection is gone: the error is the
    # opening thread's, handed to the first command
    trust(fake_home, sshd)
    go = threading.Event()
    open_session = paramiko.Transport.open_session

    def held(self, *args, **kwargs):
        go.wait(60)
        return open_session(self, *args, **kwargs)

    monkeypatch.setattr(paramiko.Transport, "open_session", held)
    t = target(sshd)
    t.conn.transport.close()
    go.set()
    with pytest.raises(ConnectError, match="SSH connection lost"):
        t.run("true")
    t.close()


def test_the_connection_has_nagle_off(sshd, fake_home):
    # as OpenSSH's client: the handshake's messages in a row do not wait for delayed ACKs
    trust(fake_home, sshd)
    t = target(sshd)
    sock = t.conn.transport.sock
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    t.close()


@pytest.fixture(scope="module")
def sshd_forced(tmp_path_factory):
    """An sshd that, for labkit's persistent shell, runs a command that notes it and exits
    3 (other commands run as asked)."""
    base = tmp_path_factory.mktemp("sshd-forced")
    force = (
        'ForceCommand case "$SSH_ORIGINAL_COMMAND" in "exec bash"*) '
        f'echo started >> {base}/sessions; exit 3;; *) eval "$SSH_ORIGINAL_COMMAND";; esac'
    )
    server = start_sshd(base, extra=(force,))
    yield server
    server.stop()


def test_a_shell_that_ends_as_it_starts_is_an_error_and_not_started_again(sshd_forced,
                                                                        fake_home):  # fmt: skip
    trust(fake_home, sshd_forced)
    t = target(sshd_forced)
    with pytest.raises(ConnectError, match=r"ended as it started \(exit 3\)"):
        t.run("true")
    t.close()
    assert (sshd_forced.dir / "sessions").read_text() == "started\n"  # one session, no retry


def test_a_shell_given_up_while_its_channel_opens_is_closed_once_open(sshd, fake_home,
                                                                     monkeypatch):  # fmt: skip
    # Ctrl-C while the first command waits for the shell's channel: the channel, opened
    # after, is closed at once (no bash left waiting on the board), and the next command
    # gets a shell of its own
    trust(fake_home, sshd)
    go = threading.Event()
    opened: list[paramiko.Channel] = []
    open_session = paramiko.Transport.open_session

    def held(self, *args, **kwargs):
        go.wait(60)
        ch = open_session(self, *args, **kwargs)
        opened.append(ch)
        return ch

    monkeypatch.setattr(paramiko.Transport, "open_session", held)
    t = target(sshd)

    def interrupted(self):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(ssh_mod._Opening, "channel", interrupted)
        with pytest.raises(KeyboardInterrupt):
            t.run("true")
    go.set()
    wait_for(lambda: len(opened) == 1 and opened[0].closed, 30, "the given-up channel closed")
    assert t.run("echo next").stdout == "next\n"
    assert len(opened) == 2
    t.close()


def test_ctrl_c_while_the_shell_starts_leaves_the_next_command_a_new_shell(sshd, fake_home,
                                                                         monkeypatch):  # fmt: skip
    trust(fake_home, sshd)
    t = target(sshd)
    first = True
    read_until = ssh_mod._read_until

    def once(*args, **kwargs):  # Ctrl-C just after the ready marker was read
        nonlocal first
        got = read_until(*args, **kwargs)
        if first:
            first = False
            raise KeyboardInterrupt
        return got

    monkeypatch.setattr(ssh_mod, "_read_until", once)
    with pytest.raises(KeyboardInterrupt):
        t.run("true")
    assert t.run("echo next").stdout == "next\n"
    t.close()
