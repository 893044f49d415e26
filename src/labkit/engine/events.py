"""What the engine tells its caller while it works: events, never prints.

As Ansible's callback plugins keep display out of execution, a run emits ``Message``
(one line for the user), ``Progress`` (elapsed / expected, events so far, the last value)
and ``Finished`` (the run's record); ``PlainRenderer`` writes them to a stream (a live
line on a terminal, a line every 10 s otherwise) and a batch renders them in its own
live block.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import IO, Any

from labkit.records.model import RunRecord


@dataclass(frozen=True)
class Message:
    text: str
    # the run's closing line (status and summary): a batch says it in its own done line
    outcome: bool = False


@dataclass(frozen=True)
class Progress:
    experiment: str
    elapsed: float
    expected: float
    count: int  # the workload's progress events so far (slow-loop warnings, late ticks)
    last: float | None  # the last one's value (Hz, ms), if it has one
    label: str = "events"
    unit: str = ""

    def line(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        last = "" if self.last is None else f", last {self.last:g}{unit}"
        return (
            f"  {self.experiment} {self.elapsed:5.0f}/{self.expected:.0f} s  "
            f"{self.count} {self.label}{last}"
        )


@dataclass(frozen=True)
class Finished:
    record: RunRecord


@dataclass
class PlainRenderer:
    """Events to a text stream: messages as lines; progress as one line rewritten in
    place on a terminal, else a plain line every ``every_s`` seconds."""

    out: IO
    every_s: float = 10.0
    _last: float = field(default=0.0, repr=False)
    _open: bool = field(default=False, repr=False)

    def __call__(self, event: Any) -> None:
        tty = getattr(self.out, "isatty", lambda: False)()
        if isinstance(event, Progress):
            if tty:
                print("\r" + event.line(), end="", file=self.out, flush=True)
                self._open = True
            elif time.monotonic() - self._last >= self.every_s:
                print(event.line(), file=self.out, flush=True)
                self._last = time.monotonic()
        elif isinstance(event, Message):
            if self._open:  # end the live progress line first
                print("", file=self.out, flush=True)
                self._open = False
            print(event.text, file=self.out, flush=True)
