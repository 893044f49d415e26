"""One root exception; each specific error also subclasses the matching builtin.

User errors (bad YAML, unknown experiment, ...) carry a message that names the file,
the line, the field and what was expected, so the CLI can print it without a traceback.
"""

from __future__ import annotations


class LabkitError(Exception):
    """Root of every error labkit raises on purpose."""


class ConfigError(LabkitError, ValueError):
    """A YAML file (inventory, playbook) is malformed or does not validate."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file, self.line, self.field, self.detail = file, line, field, message
        where = ""
        if file:
            where = f"{file}:{line}" if line else file
        if field:
            where = f"{where}: {field}" if where else field
        super().__init__(f"{where}: {message}" if where else message)


class InventoryError(ConfigError):
    """The inventory does not load or names an unknown host/group."""


class PlaybookError(ConfigError):
    """The playbook does not validate or names an unknown experiment."""


class UnknownNameError(LabkitError, KeyError):
    """A name (host, experiment, parameter) that does not exist; lists the ones that do."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class RemoteError(LabkitError, RuntimeError):
    """Something on the target went wrong; names the host."""


class ConnectError(RemoteError, ConnectionError):
    """The target cannot be reached, or the connection dropped."""


class HostKeyError(ConnectError):
    """The target's SSH host key is unknown (strict policy) or has changed."""


class CommandFailed(RemoteError):
    """A remote command exited non-zero; carries the whole result (host, command, output)."""

    def __init__(self, message: str, result: object) -> None:
        super().__init__(message)
        self.result = result


class PreflightError(RemoteError):
    """The target lacks something the experiment needs; nothing was changed."""


class LockedError(RemoteError):
    """Another labkit run holds the target."""


class CommandTimeout(RemoteError, TimeoutError):
    """A remote command did not finish within its timeout (it was stopped)."""


class StoreError(LabkitError, OSError):
    """A shared run store (S3) could not be reached or refused a request; names the store."""
