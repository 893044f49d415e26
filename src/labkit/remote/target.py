"""The one interface every target offers: run a shell command (with a timeout), move files.

Commands are strings for ``bash -c`` on the target; whoever builds them quotes every
value with ``shlex.quote``. ``sudo=True`` wraps a command for privilege: ``sudo -n`` when
the host allows it without a password, else ``sudo -S`` with the password written to the
command's stdin (never into the command line, so it cannot reach a log or a record).
"""

from __future__ import annotations

import abc
import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from labkit.core import environment
from labkit.errors import CommandFailed, CommandTimeout, RemoteError

DEFAULT_TIMEOUT = 60.0


@dataclass
class CommandResult:
    """What one command did on one host."""

    host: str
    command: str
    exited: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exited == 0

    def tail(self, n: int = 15) -> str:
        text = (self.stderr.strip() + "\n" + self.stdout.strip()).strip()
        return "\n".join(text.splitlines()[-n:])


class Target(abc.ABC):
    """Base of ``LocalTarget`` and ``SshTarget``: sudo wrapping, env prefix, checks."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.env_prefix = ""  # e.g. "export PATH=/sim/bin:$PATH; " for the simulated Jetson
        self.sudo_mode = "none"  # none | nopasswd | password
        self._sudo_password: str | None = None
        self.home = ""

    # -- to implement -------------------------------------------------------------------
    @abc.abstractmethod
    def _exec(self, command: str, timeout: float, stdin: bytes | None) -> CommandResult:
        """Run ``command`` (already wrapped) and return its result; raise on timeout."""

    @abc.abstractmethod
    def get(self, remote: str, local: Path) -> None:
        """Copy one file from the target to ``local``."""

    @abc.abstractmethod
    def put(self, data: bytes, remote: str, mode: int = 0o644) -> None:
        """Write ``data`` into file ``remote`` on the target, atomically."""

    @abc.abstractmethod
    def reconnect(self) -> None:
        """Open a fresh connection (after a drop); raises ``ConnectError`` if it can't."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection; safe to call twice."""

    @abc.abstractmethod
    def on_this_machine(self) -> bool:
        """Whether the target is the machine labkit runs on (its CPU readings see
        labkit's own work)."""

    # -- shared -------------------------------------------------------------------------
    def run(
        self,
        command: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        sudo: bool = False,
        check: bool = True,
        stdin: bytes | None = None,
        what: str = "",
    ) -> CommandResult:
        """Run ``command`` with bash; ``check`` raises ``CommandFailed`` on a non-zero exit."""
        shown = command
        full = self.env_prefix + command
        if sudo and self.sudo_mode != "none":
            full = self.env_prefix + self._sudo_wrap(command)
            if self.sudo_mode == "password":
                stdin = (self._sudo_password or "").encode() + b"\n" + (stdin or b"")
        t0 = time.monotonic()
        result = self._exec(full, timeout, stdin)
        result.command = shown
        if environment.trace():  # -v or LABKIT_TRACE=1: every command, its time and exit
            print(  # and when it ended, since the process started (imports included)
                f"[labkit trace] {self.name} {time.monotonic() - t0:6.3f}s exit {result.exited}"
                f"  {(what or shown)[:110]!r}  @+{environment.since_start():.3f}s",
                file=sys.stderr,
                flush=True,
            )
        if check and not result.ok:
            label = what or shown
            raise CommandFailed(
                f"{self.name}: {label} exited {result.exited}:\n{result.tail()}", result
            )
        return result

    def _sudo_wrap(self, command: str) -> str:
        flag = "-n" if self.sudo_mode == "nopasswd" else "-S -p ''"
        # keep PATH so the same tools (e.g. a venv's lerobot-record) resolve under sudo
        return f'sudo {flag} env "PATH=$PATH" bash --norc --noprofile -c {shlex.quote(command)}'

    def setup_sudo(self, need: bool, password_source=None) -> None:
        """Choose how to become root: not at all, NOPASSWD, or with a password asked once."""
        if not need:
            self.sudo_mode = "none"
            return
        if self._exec("sudo -n true", 20, None).ok:
            self.sudo_mode = "nopasswd"
            return
        if password_source is None:
            raise RemoteError(
                f"{self.name}: sudo needs a password; set ansible_become_password to "
                "\"{{ lookup('env', 'VAR') }}\" or 'prompt' in the inventory, or allow "
                "NOPASSWD for this user"
            )
        password = password_source()
        res = self._exec("sudo -S -p '' true", 20, password.encode() + b"\n")
        if not res.ok:
            raise RemoteError(f"{self.name}: sudo rejected the password")
        self.sudo_mode, self._sudo_password = "password", password

    def expand(self, path: str) -> str:
        """``~/x`` -> ``$HOME/x`` of the target user (SFTP and quoting do not expand ``~``)."""
        if path == "~" or path.startswith("~/"):
            if not self.home:
                self.home = self.run('printf %s "$HOME"', timeout=20).stdout
            return self.home + path[1:]
        return path


class LocalTarget(Target):
    """This machine, through the same interface (``ansible_connection: local``)."""

    def reconnect(self) -> None:  # nothing to reconnect: each command is a new process
        return None

    def close(self) -> None:
        return None

    def on_this_machine(self) -> bool:
        return True

    def _exec(self, command: str, timeout: float, stdin: bytes | None) -> CommandResult:
        proc = subprocess.Popen(
            ["bash", "-c", command],
            stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C at the terminal reaches labkit, not the child
        )
        try:
            out, err = proc.communicate(stdin, timeout=timeout)
        except BaseException as exc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            if isinstance(exc, subprocess.TimeoutExpired):
                raise CommandTimeout(
                    f"{self.name}: command timed out after {timeout:g} s: {command[:200]}"
                ) from None
            raise
        return CommandResult(
            self.name,
            command,
            proc.returncode,
            out.decode(errors="replace"),
            err.decode(errors="replace"),
        )

    def get(self, remote: str, local: Path) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(remote, local)

    def put(self, data: bytes, remote: str, mode: int = 0o644) -> None:
        path = Path(remote)
        tmp = path.with_name(f".{path.name}.labkit-tmp")
        tmp.write_bytes(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
