"""What a run is asked to do (``RunOptions``) and how it reports (``emit``: events)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from labkit.core import environment, interrupts
from labkit.core.interrupts import Interrupted
from labkit.engine.events import Message, PlainRenderer
from labkit.records.backends import RunStore

__all__ = ["Interrupted", "RunOptions"]


@dataclass
class RunOptions:
    runs: Path = Path("runs")  # where runs are written (a shared store's staging folder)
    # the store a finished run is uploaded to when it is shared (None: ``runs`` is it)
    store: RunStore | None = None
    check: bool = False
    detach: bool = False
    grace_s: float = 30.0
    poll_s: float = 1.0
    reconnect_s: float = field(default_factory=environment.reconnect_s)
    out: IO = field(default_factory=lambda: sys.stdout)
    # who renders the run's events (``labkit.engine.events``); default: lines to ``out``
    on_event: Callable[[Any], None] | None = None
    # for batches: a stop request shared by every host's run, and record additions
    stop: threading.Event | None = None
    manifest_extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.on_event is None:
            self.on_event = PlainRenderer(self.out)

    def emit(self, event: Any) -> None:
        self.on_event(event)

    def say(self, msg: str) -> None:
        self.emit(Message(msg))

    def log_to(self, path: Path) -> None:
        """The run's own log: where its lines go if the terminal goes away
        (``labkit.engine.terminal.Lasting``; other streams have none)."""
        log_to = getattr(self.out, "log_to", None)
        if log_to is not None:
            log_to(path)

    def check_stop(self) -> None:
        """A batch asked every run to stop (Ctrl-C, --fail-fast): end this one like Ctrl-C;
        so does a Ctrl-C whose KeyboardInterrupt a finalizer swallowed."""
        interrupts.check()
        if self.stop is not None and self.stop.is_set():
            raise Interrupted("batch stopped")
