"""`invoke runs`: the run store at a glance, one row per run, filtered.

The rows come from the run records alone (no log is parsed), so listing a large store is
quick; a record that cannot be read is a row of its own with the reason.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from labkit.analysis.configs import assignments, config_overrides
from labkit.errors import LabkitError
from labkit.records.model import STATUSES, RunRecord
from labkit.records.store import Unreadable, list_runs
from labkit.registry import workload_class_of

UNREADABLE = "unreadable"
AGO = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class RunRow:
    """One run as `invoke runs` shows it (and prints with --json)."""

    experiment: str
    configuration: str  # "playbook", or the --set values that change what it measured
    host: str
    status: str
    started_at: str
    seconds: float | None  # how long the workload ran
    metric: str  # the workload's headline metric: slow-loop warnings, a command's first event
    value: float | None
    run_id: str
    path: str
    reason: str = ""  # why it failed, or why its record could not be read


def _when(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z"):
        try:
            return dt.datetime.strptime(text, fmt)
        except ValueError:
            continue
    try:
        when = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)


def since_arg(value: str | None, now: dt.datetime | None = None) -> dt.datetime | None:
    """``--since``: a date or time (``2026-12-01``, ``2026-12-01T10:00``, UTC unless it
    says) or a span back from now (``90m``, ``2h``, ``3d``, ``1w``)."""
    if value is None:
        return None
    text = value.strip()
    now = now or dt.datetime.now(dt.UTC)
    span = AGO.fullmatch(text)
    if span:
        return now - dt.timedelta(seconds=float(span.group(1)) * UNIT_S[span.group(2)])
    when = _when(text)
    if when is None:
        raise LabkitError(
            f"--since {value!r}: expected a date or time (2026-12-01, 2026-12-01T10:00) "
            "or a span back from now (90m, 2h, 3d, 1w)"
        )
    return when


def status_arg(value: str | None) -> str | None:
    if value is None:
        return None
    known = [*STATUSES, UNREADABLE]
    if value not in known:
        raise LabkitError(f"--status {value!r}: expected one of {', '.join(known)}")
    return value


def _headline(m: RunRecord) -> tuple[str, float | None]:
    """What the run counted, as its workload names it (``Workload.tally``)."""
    tally = workload_class_of(m).tally(m.summary)
    return (tally.noun, tally.count) if tally.noun else ("", None)


def _seconds(m: RunRecord) -> float | None:
    workload_s = m.remote_status.get("workload_s")
    if isinstance(workload_s, (int, float)):
        return float(workload_s)
    start, end = _when(m.started_at), _when(m.ended_at)
    return (end - start).total_seconds() if start and end else None


def row_of(run_dir: Path, m: RunRecord) -> RunRow:
    metric, value = _headline(m)
    overrides = config_overrides(m)
    return RunRow(
        experiment=m.experiment,
        configuration=assignments(overrides) if overrides else "playbook",
        host=m.host.name,
        status=m.status,
        started_at=m.started_at or "",
        seconds=_seconds(m),
        metric=metric,
        value=value,
        run_id=m.run_id,
        path=str(run_dir),
        reason=_first_line(m.error),
    )


def _first_line(text: str | None) -> str:
    lines = (text or "").strip().splitlines()
    return lines[0] if lines else ""


def _unreadable_row(u: Unreadable) -> RunRow:
    return RunRow(u.experiment, "", "", UNREADABLE, "", None, "", None, u.path.name,
                  str(u.path), u.reason)  # fmt: skip


def list_store(
    runs: Path,
    name: str | None = None,
    status: str | None = None,
    since: dt.datetime | None = None,
) -> list[RunRow]:
    """The store's runs, oldest first (unreadable ones last), filtered."""
    unreadable: list[Unreadable] = []
    rows = [row_of(d, m) for d, m in list_runs(runs, unreadable)]
    rows += [_unreadable_row(u) for u in unreadable]
    if name is not None:
        rows = [r for r in rows if r.experiment == name]
    if status is not None:
        rows = [r for r in rows if r.status == status]
    if since is not None:
        rows = [r for r in rows if (w := _when(r.started_at)) is not None and w >= since]
    return rows


def as_json(rows: list[RunRow]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]


def table(rows: list[RunRow]) -> list[str]:
    """The rows as aligned text columns, the headline metric with its name."""
    head = ("experiment", "configuration", "host", "status", "started", "length", "headline")
    cells = []
    for r in rows:
        length = "—" if r.seconds is None else f"{r.seconds:.0f} s"
        value = "" if r.value is None else f"{r.value:g}"
        headline = f"{value} {r.metric}".strip() or "—"
        if r.status == UNREADABLE:
            headline = f"{r.path}: {r.reason}"
        started = r.started_at.replace("T", " ")[:19] or "—"
        cells.append((r.experiment, r.configuration, r.host or "—", r.status, started, length,
                      headline))  # fmt: skip
    widths = [max(len(c[i]) for c in [head, *cells]) for i in range(len(head) - 1)]
    lines = []
    for row in [head, *cells]:
        lines.append("  ".join([*(c.ljust(w) for c, w in zip(row, widths, strict=False)), row[-1]]))
    return [line.rstrip() for line in lines]
