"""Output that outlives its terminal.

A recording must not end because nobody reads its progress any more: a reader that left
(``invoke experiment ... | head -1``) or a terminal that hung up (SIGHUP) is noticed at
the next write, and from then on the lines go to the run's log (``labkit.log`` in the run
dir) instead, the run goes on as with ``--detach`` and its record is finished as usual.
"""

from __future__ import annotations

import errno
import io
import os
import threading
import time
from pathlib import Path
from typing import IO

# a write to a reader that left (EPIPE) or to a terminal that hung up (EIO, ENXIO)
GONE = (errno.EPIPE, errno.EIO, errno.ENXIO, errno.EBADF)


class Lasting(io.TextIOBase):
    """A text stream over ``out`` that, once ``out`` is gone, writes to a log file.

    Lines written before a log is named are kept, so the log holds the whole story."""

    def __init__(self, out: IO) -> None:
        super().__init__()
        self.out = out
        self.gone = ""  # why the terminal is gone ("" while it is there)
        self._log: IO | None = None
        self._path: Path | None = None
        self._held: list[str] = []
        self._lock = threading.RLock()

    # -- the stream ----------------------------------------------------------------------

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return not self.gone and getattr(self.out, "isatty", lambda: False)()

    def write(self, text: str) -> int:
        with self._lock:
            if not self.gone:
                try:
                    self.out.write(text)
                except OSError as exc:
                    self._lose(exc)
            self._keep(text)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if not self.gone:
                try:
                    self.out.flush()
                except OSError as exc:
                    self._lose(exc)
            if self._log is not None:
                self._log.flush()

    # -- where the lines go once it is gone ------------------------------------------------

    def log_to(self, path: Path, replay: bool = True) -> None:
        """Name the log; ``replay``: it gets the lines written so far too (if it is ever
        needed). A new log replaces the previous one (the next run of a --repeat)."""
        with self._lock:
            if self._log is not None:
                self._log.close()
                self._log = None
            self._path = path
            if not replay:
                self._held.clear()
            if self.gone:
                self._open()

    def lose(self, why: str) -> None:
        """The terminal is gone (SIGHUP): write nothing more to it."""
        with self._lock:
            if not self.gone:
                self._lose(OSError(errno.EIO, why))

    def _lose(self, exc: OSError) -> None:
        if exc.errno not in GONE and not isinstance(exc, BrokenPipeError):
            raise exc
        self.gone = exc.strerror or str(exc)
        _to_devnull(self.out)
        if self._path is not None:
            self._open()

    def _open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self._path, "a")  # noqa: SIM115 -- open while the run goes on
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        self._log.write(f"-- {stamp} output gone ({self.gone}); the run goes on, its lines here\n")
        self._log.write("".join(self._held))
        self._held.clear()
        self._log.flush()

    def _keep(self, text: str) -> None:
        if self._log is not None:
            self._log.write(text)
            self._log.flush()
        elif not self.gone or self._path is None:
            self._held.append(text)
            if len(self._held) > 10_000:  # a long batch before any log is named
                del self._held[:1000]


def _to_devnull(out: IO) -> None:
    """Point the dead stream's file descriptor at /dev/null, so what is still buffered in
    it (and Python's own flush at exit) meets no error."""
    try:
        fd = out.fileno()
    except (OSError, ValueError, AttributeError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
