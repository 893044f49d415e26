"""What a batch shows while it runs: a live block (one line per host, one overall) on a
terminal, plain prefixed log lines otherwise. Every message also goes to the batch log."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import IO


@dataclass
class HostState:
    host: str
    total: int
    done: int = 0
    failed: int = 0
    not_run: int = 0  # never started: Ctrl-C, --fail-fast or the host dropped off
    current: str = ""
    expected_s: float = 0.0
    elapsed_s: float = 0.0
    events: int = 0  # the current run's progress events (LeRobot: slow-loop warnings)
    label: str = "events"  # what the workload calls them (``Workload.progress_label``)
    note: str = ""
    remaining_s: float = 0.0  # expected recording time of the runs not started yet
    started: float = field(default_factory=time.monotonic)

    @property
    def finished(self) -> int:
        """Runs decided: complete, failed or not run."""
        return self.done + self.failed + self.not_run


def _clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Progress:
    """Thread-safe sink for the hosts' messages and state."""

    def __init__(self, out: IO, log: IO | None, live: bool) -> None:
        self.out, self.log, self.live = out, log, live
        self.lock = threading.RLock()
        self.hosts: dict[str, HostState] = {}
        self.lines_drawn = 0
        self.overheads: list[float] = []  # wall time beyond the recording, per finished run
        self.t0 = time.monotonic()

    def add(self, state: HostState) -> None:
        self.hosts[state.host] = state

    def say(self, host: str, msg: str) -> None:
        with self.lock:
            for line in msg.splitlines() or [""]:
                text = f"[{host}] {line}" if line.strip() else ""
                if self.log is not None:
                    self.log.write(f"{time.strftime('%H:%M:%S')} {text}\n")
                    self.log.flush()
                if not self.live and text:
                    print(text, file=self.out, flush=True)

    def announce(self, msg: str) -> None:
        """A batch-level line: above the live block, or plain."""
        with self.lock:
            if self.log is not None:
                self.log.write(f"{time.strftime('%H:%M:%S')} {msg}\n")
                self.log.flush()
            if self.live:
                self._erase()
            print(msg, file=self.out, flush=True)
            if self.live:
                self.draw()

    def eta_s(self) -> float | None:
        """Longest remaining host: expected recording left plus the overhead seen so far."""
        if not self.overheads:
            return None
        per_run = sum(self.overheads) / len(self.overheads)
        left = []
        for h in self.hosts.values():
            todo = h.total - h.finished
            current = max(0.0, h.expected_s - h.elapsed_s) if h.current else 0.0
            left.append(h.remaining_s + current + per_run * todo)
        return max(left, default=0.0)

    def overall(self) -> str:
        total = sum(h.total for h in self.hosts.values())
        done = sum(h.done for h in self.hosts.values())
        failed = sum(h.failed for h in self.hosts.values())
        not_run = sum(h.not_run for h in self.hosts.values())
        finished = done + failed + not_run
        eta = self.eta_s()
        skipped = f", {not_run} not run" if not_run else ""
        return (
            f"batch: {finished}/{total} runs finished ({failed} failed{skipped}), "
            f"elapsed {_clock(time.monotonic() - self.t0)}"
            + (f", ETA {_clock(eta)}" if eta is not None and finished < total else "")
        )

    def host_line(self, h: HostState) -> str:
        head = f"{h.host:<12} {h.finished:>3}/{h.total:<3}"
        if h.current:
            return (
                f"{head} {h.current:<24} {h.elapsed_s:5.0f}/{h.expected_s:.0f} s  "
                f"{h.events} {h.label}"
            )
        return f"{head} {h.note or 'waiting'}"

    def _erase(self) -> None:
        if self.lines_drawn:
            self.out.write(f"\x1b[{self.lines_drawn}F\x1b[J")
            self.lines_drawn = 0

    def draw(self) -> None:
        if not self.live:
            return
        with self.lock:
            self._erase()
            lines = [self.host_line(h) for h in self.hosts.values()] + [self.overall()]
            self.out.write("\n".join(lines) + "\n")
            self.out.flush()
            self.lines_drawn = len(lines)


class HostWriter:
    """A file-like ``out`` for one host's ``RunOptions``: lines go to ``Progress.say``."""

    def __init__(self, progress: Progress, host: str) -> None:
        self.progress, self.host, self.buf = progress, host, ""

    def write(self, text: str) -> int:
        self.buf += text.replace("\r", "\n")
        while "\n" in self.buf:
            line, self.buf = self.buf.split("\n", 1)
            self.progress.say(self.host, line)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False
