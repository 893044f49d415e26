"""A target over SSH, through Fabric, with the traps of its defaults closed.

- host keys: known_hosts loaded, unknown hosts refused (``hostkeys``), not auto-added;
- every command has a timeout, channel opening too (paramiko waits an hour by default);
- keepalive on the transport, so a dead link shows up as an error instead of a hang;
- files go over SFTP, or, on a server without the SFTP subsystem (minimal images), through
  ``cat`` in a session of its own (bytes as they are; written to a temp file and renamed);
- ``~/.ssh/config`` is honoured (Fabric loads it: HostName, User, Port, IdentityFile,
  ProxyJump, UserKnownHostsFile);
- one persistent ``bash`` per connection runs the commands (each still in its own
  ``bash -c`` under GNU ``timeout``, stdin from /dev/null): a new SSH session per command
  would cost a fork in sshd and a login shell reading ``~/.bashrc`` (a conda or pyenv
  init there is ~100 ms), every time. Output is framed by a random end marker. The shell
  is started as the connection opens and waited for by the first command, so its start
  (that ``~/.bashrc``) overlaps whatever labkit does in between (``remote.early``).
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import os
import secrets
import select
import shlex
import socket
import threading
import time
from pathlib import Path

import paramiko
from fabric import Config, Connection
from invoke.exceptions import CommandTimedOut, ThreadException

from labkit.errors import CommandTimeout, ConnectError, HostKeyError, RemoteError
from labkit.remote import hostkeys
from labkit.remote.target import CommandResult, Target

CONNECT_TIMEOUT = 15.0
KEEPALIVE_S = 5
CHANNEL_TIMEOUT = 20.0

_LINK_ERRORS = (EOFError, OSError, socket.error, paramiko.SSHException)


class SshTarget(Target):
    def __init__(
        self,
        name: str,
        address: str,
        *,
        user: str | None = None,
        port: int | None = None,
        key_file: str | None = None,
        host_key_policy: str = "strict",
    ) -> None:
        super().__init__(name)
        self.address, self.user, self.port = address, user, port
        self.key_file, self.policy = key_file, host_key_policy
        self.conn: Connection | None = None
        self._sh: paramiko.Channel | None = None
        self._sh_starting: str | None = None  # the ready marker of a shell not yet seen ready
        self._sh_opening: _Opening | None = None  # its channel, still being opened
        self._no_sftp = False  # the server has no SFTP subsystem: files go through a shell
        self.connect()

    def connect(self) -> None:
        kwargs: dict = {"banner_timeout": CONNECT_TIMEOUT, "auth_timeout": CONNECT_TIMEOUT}
        if self.key_file:
            kwargs["key_filename"] = [os.path.expanduser(self.key_file)]
        conn = Connection(
            self.address,
            user=self.user,
            port=self.port,
            config=Config(overrides={"load_ssh_configs": True}),
            connect_timeout=CONNECT_TIMEOUT,
            connect_kwargs=kwargs,
        )
        hostkeys.apply_policy(conn.client, self.name, conn.port, self.policy, conn.ssh_config)
        try:
            if not conn.gateway:  # ProxyJump / ProxyCommand bring their own channel
                conn.connect_kwargs["sock"] = _tcp(conn.host, conn.port)
            conn.open()
        except HostKeyError:
            raise
        except paramiko.BadHostKeyException as exc:
            raise hostkeys.changed_key_error(self.name, exc, conn.port) from None
        except paramiko.AuthenticationException as exc:
            raise ConnectError(
                f"{self.name}: SSH authentication failed for {conn.user}@{conn.host}:"
                f"{conn.port} ({exc}); check ansible_user / ansible_ssh_private_key_file"
            ) from None
        except (*_LINK_ERRORS, TimeoutError) as exc:
            raise ConnectError(
                f"{self.name}: cannot reach {conn.host}:{conn.port} over SSH: {exc or type(exc)}"
            ) from None
        conn.transport.set_keepalive(KEEPALIVE_S)
        conn.transport.channel_timeout = CHANNEL_TIMEOUT
        self.conn = conn
        self._start_shell()  # its login shell's rc files run while labkit goes on

    def reconnect(self) -> None:
        self.close()
        self.connect()

    def on_this_machine(self) -> bool:
        """The sshd answering is this machine's: its address (the one the connection
        reached, after ``~/.ssh/config`` aliases) is a loopback one (127.0.0.0/8, ::1, or
        IPv4-mapped), or the connection's own local address (this machine by its LAN
        address). A tunnel's loopback end counts too: only a simulated host is taken to
        share this machine's CPU for it (``engine.run.shares_cpu``)."""
        try:
            sock = self._require().transport.sock
            peer = _ip(sock.getpeername()[0])
            return peer.is_loopback or peer == _ip(sock.getsockname()[0])
        except (ConnectError, OSError, ValueError, IndexError, AttributeError, TypeError):
            return False  # a jump host's channel or a proxy command: no address to tell

    def close(self) -> None:
        self._drop_shell()
        if self.conn is not None:
            with contextlib.suppress(Exception):  # closing a dead link fails in many ways
                self.conn.close()
            self.conn = None

    def _require(self) -> Connection:
        if self.conn is None or not self.conn.is_connected:
            raise ConnectError(f"{self.name}: the SSH connection is closed")
        return self.conn

    def _exec(self, command: str, timeout: float, stdin: bytes | None) -> CommandResult:
        if stdin is None:
            return self._exec_in_shell(command, timeout)
        return self._exec_channel(command, timeout, stdin)

    # -- the persistent shell ---------------------------------------------------------

    def _start_shell(self) -> None:
        """Open the persistent shell without waiting for it, in a thread of its own: the
        channel's opening waits on the server (sshd holds its answer until its previous
        message is acknowledged, ~40 ms of delayed ACK), and the login shell sshd starts
        it with reads its rc files before the ready marker. The first command waits for
        both (``_shell``)."""
        self._sh_starting = f"@@labkit-ready-{secrets.token_hex(8)}"
        self._sh_opening = _Opening(self._require().transport, self._sh_starting)

    def _shell(self) -> paramiko.Channel:
        if self._sh_opening is not None:  # started with the connection: its channel now
            opening = self._sh_opening
            try:
                self._sh = opening.channel()
            except BaseException as exc:
                raise self._not_started(exc) from None
            self._sh_opening = None
        ch = self._sh
        if ch is None or ch.closed or ch.exit_status_ready():
            if ch is not None and self._sh_starting is not None:  # never ready: no retry
                raise self._ended(ch)
            self._drop_shell()  # it served before: a new one, once
            self._start_shell()
            return self._shell()
        tok = self._sh_starting
        if tok is not None:  # started, not yet seen ready
            try:
                _read_until(
                    ch,
                    f"\n{tok}".encode(),
                    f"\n{tok}\n".encode(),
                    time.monotonic() + CHANNEL_TIMEOUT,
                )
            except EOFError:
                raise self._ended(ch) from None
            except BaseException as exc:  # Ctrl-C too: the marker may be half read
                raise self._not_started(exc) from None
            self._sh_starting = None
        return ch

    def _not_started(self, exc: BaseException) -> BaseException:
        """What to raise for a shell that failed to open or to get ready (it is dropped:
        the next command starts a new one): a timeout or a lost link as a
        ``ConnectError``, anything else (Ctrl-C) as it is."""
        self._drop_shell()
        if isinstance(exc, TimeoutError):
            return ConnectError(f"{self.name}: the remote shell did not start")
        if isinstance(exc, _LINK_ERRORS):
            return ConnectError(f"{self.name}: SSH connection lost ({exc or type(exc)})")
        return exc

    def _ended(self, ch: paramiko.Channel) -> ConnectError:
        """The error for a shell that ended before it was ready (not started again: a
        login shell that exits at once, e.g. a ForceCommand, would do so every time). An
        exit status says the shell exited (sshd sends it before closing the channel);
        none, that the link went (the transport closes its channels first)."""
        self._drop_shell()
        if not ch.exit_status_ready():
            return ConnectError(f"{self.name}: SSH connection lost (the remote shell ended)")
        return ConnectError(
            f"{self.name}: the remote shell ended as it started (exit "
            f"{ch.recv_exit_status()}); the account's login shell or the server's "
            "ForceCommand may not allow running commands"
        )

    def _drop_shell(self) -> None:
        if self._sh is not None:
            with contextlib.suppress(Exception):
                self._sh.close()
        if self._sh_opening is not None:  # its channel is closed once open
            self._sh_opening.abandon()
        self._sh, self._sh_starting, self._sh_opening = None, None, None

    def _exec_in_shell(self, command: str, timeout: float) -> CommandResult:
        ch = self._shell()
        tok = f"@@labkit-end-{secrets.token_hex(8)}"
        line = (
            f"timeout -k 5 {timeout:.1f} bash --norc --noprofile -c {shlex.quote(command)} "
            f"< /dev/null; printf '\\n{tok} %d\\n' $?; printf '\\n{tok}\\n' >&2\n"
        )
        start = time.monotonic()
        deadline = start + timeout + 10  # GNU timeout on the target acts first
        end_out, end_err = f"\n{tok} ".encode(), f"\n{tok}\n".encode()
        try:
            ch.sendall(line.encode())
            out, err = _read_until(ch, end_out.rstrip(), end_err, deadline)
        except TimeoutError:
            self._drop_shell()
            raise self._timeout(command, timeout) from None
        except _LINK_ERRORS as exc:
            self._drop_shell()
            if self.conn is not None and self.conn.transport and self.conn.transport.is_active():
                raise ConnectError(f"{self.name}: the remote shell ended ({exc})") from None
            raise ConnectError(f"{self.name}: SSH connection lost ({exc or type(exc)})") from None
        body, _, tail = bytes(out).partition(end_out)
        exited = int(tail.split()[0])
        if exited in (124, 137) and time.monotonic() - start >= timeout * 0.95:
            raise self._timeout(command, timeout)
        errs = bytes(err).partition(end_err)[0]
        return CommandResult(
            self.name,
            command,
            exited,
            body.decode(errors="replace"),
            errs.decode(errors="replace"),
        )

    def _exec_channel(self, command: str, timeout: float, stdin: bytes | None) -> CommandResult:
        """A session of its own, for a command that reads stdin (sudo's password)."""
        conn = self._require()
        stream = io.StringIO(stdin.decode()) if stdin is not None else False
        # Fabric's timeout only stops waiting: the remote command would run on. GNU
        # timeout on the target kills the command's whole process group (TERM, then KILL
        # after 5 s); the local timeout is a backstop for a link that stops answering.
        # --norc: bash started with the SSH socket as stdin sources ~/.bashrc even for
        # -c (Debian's SSH_SOURCE_BASHRC); a conda/pyenv init there costs ~100 ms a command
        wrapped = f"timeout -k 5 {timeout:.1f} bash --norc --noprofile -c {shlex.quote(command)}"
        start = time.monotonic()
        try:
            r = conn.run(wrapped, hide=True, warn=True, timeout=timeout + 10, in_stream=stream)
        except CommandTimedOut:
            raise self._timeout(command, timeout) from None
        except ThreadException as exc:
            raise ConnectError(f"{self.name}: SSH connection lost ({exc})") from None
        except _LINK_ERRORS as exc:
            raise ConnectError(f"{self.name}: SSH connection lost ({exc or type(exc)})") from None
        if r.exited in (124, 137) and time.monotonic() - start >= timeout * 0.95:
            raise self._timeout(command, timeout)
        return CommandResult(self.name, command, r.exited, r.stdout, r.stderr)

    def _timeout(self, command: str, timeout: float):
        return CommandTimeout(
            f"{self.name}: command timed out after {timeout:g} s: {command[:200]}"
        )

    # -- files: SFTP, or through a shell when the server offers no SFTP subsystem -------

    def _has_sftp(self) -> bool:
        """Open the connection's SFTP client once; False if the server refuses the
        subsystem (minimal images without ``Subsystem sftp``: "Channel closed.")."""
        if self._no_sftp:
            return False
        conn = self._require()
        try:
            conn.sftp()
            return True
        except paramiko.SSHException as exc:
            if conn.transport is None or not conn.transport.is_active():
                raise ConnectError(f"{self.name}: SSH connection lost ({exc})") from None
            self._no_sftp = True  # the link is fine: the server has no SFTP
            return False

    def get(self, remote: str, local: Path) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        if not self._has_sftp():
            out = self._transfer(f"cat {shlex.quote(remote)}", None, f"copying {remote}")
            tmp = local.with_name(f".{local.name}.labkit-tmp")
            tmp.write_bytes(out)
            os.replace(tmp, local)
            return
        try:
            self._require().get(remote, local=str(local))
        except _LINK_ERRORS as exc:
            raise ConnectError(f"{self.name}: copying {remote} failed: {exc}") from None

    def put(self, data: bytes, remote: str, mode: int = 0o644) -> None:
        tmp = f"{remote}.labkit-tmp"
        if not self._has_sftp():
            qt, qr = shlex.quote(tmp), shlex.quote(remote)
            self._transfer(
                f"cat > {qt} && chmod {mode:o} {qt} && mv -f {qt} {qr} || {{ rm -f {qt}; false; }}",
                data,
                f"writing {remote}",
            )
            return
        try:
            sftp = self._require().sftp()
            sftp.putfo(io.BytesIO(data), tmp)
            sftp.chmod(tmp, mode)
            sftp.posix_rename(tmp, remote)
        except _LINK_ERRORS as exc:
            raise ConnectError(f"{self.name}: writing {remote} failed: {exc}") from None

    def _transfer(self, command: str, data: bytes | None, what: str, timeout=300.0) -> bytes:
        """Run ``command`` in a session of its own with ``data`` as its stdin (bytes as
        they are, then EOF); return its stdout. ``RemoteError`` if it fails."""
        conn = self._require()
        deadline = time.monotonic() + timeout + 10
        try:
            ch = conn.transport.open_session(timeout=CHANNEL_TIMEOUT)
            try:
                ch.exec_command(
                    f"timeout -k 5 {timeout:.1f} bash --norc --noprofile -c {shlex.quote(command)}"
                )
                if data:
                    ch.sendall(data)
                ch.shutdown_write()
                out, err = bytearray(), bytearray()
                while True:
                    if ch.recv_ready():
                        out += ch.recv(1 << 16)
                    elif ch.recv_stderr_ready():
                        err += ch.recv_stderr(1 << 16)
                    elif ch.exit_status_ready() and (ch.eof_received or ch.closed):
                        # sshd may send the exit status before the last of the output:
                        # the channel's EOF, not the exit, says everything has arrived
                        break
                    elif time.monotonic() > deadline:
                        raise self._timeout(command, timeout)
                    else:
                        select.select([ch], [], [], 0.2)
                code = ch.recv_exit_status()
            finally:
                ch.close()
        except _LINK_ERRORS as exc:
            raise ConnectError(f"{self.name}: {what} failed: {exc or type(exc)}") from None
        if code != 0:
            msg = bytes(err).decode(errors="replace").strip()
            raise RemoteError(f"{self.name}: {what} failed (no SFTP, through the shell): {msg}")
        return bytes(out)


class _Opening:
    """A shell channel being opened in a thread: open, ``exec bash``, send the ready
    marker; ``channel()`` waits for it and raises what opening it raised. Once abandoned
    (a Ctrl-C while waiting, the connection closed), the channel is closed as soon as it
    is open: no bash is left waiting on the board."""

    def __init__(self, transport: paramiko.Transport, tok: str) -> None:
        self._transport, self._tok = transport, tok
        self._ch: paramiko.Channel | None = None
        self._error: BaseException | None = None
        self._abandoned = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._open, name="labkit-shell", daemon=True)
        self._thread.start()

    def _open(self) -> None:
        ch = None
        try:
            ch = self._transport.open_session(timeout=CHANNEL_TIMEOUT)
            ch.exec_command("exec bash --norc --noprofile")
            # whatever the login shell's rc files print comes before this marker
            tok = self._tok
            ch.sendall(f"printf '\\n{tok}\\n'; printf '\\n{tok}\\n' >&2\n".encode())
            with self._lock:
                if not self._abandoned:
                    self._ch, ch = ch, None
        except BaseException as exc:  # noqa: BLE001 -- handed to the thread that waits
            self._error = exc
        if ch is not None:  # abandoned, or half-opened
            with contextlib.suppress(Exception):
                ch.close()

    def channel(self) -> paramiko.Channel:
        self._thread.join(CHANNEL_TIMEOUT + 5)  # open_session's own timeout acts first
        if self._thread.is_alive():
            raise TimeoutError
        if self._error is not None:
            raise self._error
        assert self._ch is not None
        return self._ch

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            ch, self._ch = self._ch, None
        if ch is not None:
            with contextlib.suppress(Exception):
                ch.close()


def _tcp(host: str, port: int) -> socket.socket:
    """The TCP connection to the server, with Nagle's algorithm off as OpenSSH's own client
    has it (paramiko leaves it on): SSH sends small messages that wait for an answer, and
    with Nagle on, the handshake's second message in a row waits for the server's delayed
    ACK (~40 ms of a ~75 ms handshake here)."""
    sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _read_until(
    ch: paramiko.Channel, out_mark: bytes, err_mark: bytes, deadline: float
) -> tuple[bytearray, bytearray]:
    """Read stdout and stderr until each holds its marker (stdout: up to the end of the
    marker's line, which may carry an exit code).

    ``TimeoutError`` past ``deadline``; ``EOFError`` if the shell ends first.
    """
    out, err = bytearray(), bytearray()

    def done() -> bool:
        i = out.find(out_mark)
        return err_mark in err and i >= 0 and b"\n" in out[i + len(out_mark) :]

    while not done():
        if ch.recv_ready():
            out += ch.recv(65536)
        elif ch.recv_stderr_ready():
            err += ch.recv_stderr(65536)
        elif ch.exit_status_ready() or ch.closed:
            raise EOFError("the remote shell ended")
        elif time.monotonic() > deadline:
            raise TimeoutError
        else:
            select.select([ch], [], [], 0.2)
    return out, err


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address as the kernel reports it: a zone (``fe80::1%eth0``) dropped, an
    IPv4-mapped IPv6 address (``::ffff:127.0.0.1``) as the IPv4 one it is."""
    ip = ipaddress.ip_address(text.split("%")[0])
    mapped = getattr(ip, "ipv4_mapped", None)
    return mapped if mapped is not None else ip
