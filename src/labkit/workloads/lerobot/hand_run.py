"""LeRobot runs recorded by hand, as the seed investigation left them: ``<experiment>_record.log``
beside ``<experiment>_tegrastats.log``. What ``invoke import`` (``labkit.study.importer``)
needs of them (``LerobotHandRuns``, returned by ``LerobotRecord.hand_runs``): whether they
hold what their names say, and a run id of their own."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import ClassVar

from labkit.errors import LabkitError
from labkit.parse.tegrastats import read_tegrastats
from labkit.workloads.base import HandRuns
from labkit.workloads.lerobot.log import read_record_log


class LerobotHandRuns(HandRuns):
    """``<experiment>_record.log`` (lerobot-record's output) beside tegrastats' samples."""

    suffix: ClassVar[str] = "_record.log"

    def check(self, log: Path, monitor: Path | None) -> None:
        check_logs(log, monitor)

    def run_id(self, log: Path, monitor: Path | None) -> str:
        return run_id(log, monitor)


def check_logs(rec: Path, teg: Path | None) -> None:
    """A record log holds lerobot-record's output (LeRobot's ``LEVEL date time file:line``
    lines) and a tegrastats log holds samples; anything else (a tegrastats log under the
    record log's name, notes, an empty file) is refused before anything is written."""
    events = read_record_log(rec)
    example = "'INFO 2026-02-10 10:00:00 ls/utils.py:147 Recording episode 0'"
    if not (events["kind"] != "other").any():
        samples = len(read_tegrastats(rec))
        what = f"it holds {samples} tegrastats samples; " if samples else ""
        raise LabkitError(
            f"{rec}: no LeRobot log lines ({what}{len(events)} line(s), none like {example}); "
            "expected lerobot-record's output (see examples/seed-logs/README.md)"
        )
    if not (events["kind"] == "episode_start").any():
        raise LabkitError(
            f"{rec}: no episode start (a line such as {example}): the recording never began; "
            "expected the output of a recording that ran"
        )
    if teg is not None and not len(read_tegrastats(teg)):
        raise LabkitError(
            f"{teg}: no tegrastats samples (expected lines such as '02-10-2026 10:00:00 RAM "
            "50000/125772MB ... CPU [20%@1566,...]' from tegrastats --logfile; "
            f"see examples/seed-logs/README.md)"
        )


def run_id(rec: Path, teg: Path | None) -> str:
    """The log's first time and a hash of the logs' bytes: the same logs imported twice
    are found already there instead of counted twice."""
    digest = hashlib.sha256(rec.read_bytes())
    if teg is not None:
        digest.update(teg.read_bytes())
    times = read_record_log(rec)["time"].dropna()
    stamp = times.min().strftime("%Y%m%dT%H%M%S") if len(times) else "00000000T000000"
    return f"{stamp}-imported-{digest.hexdigest()[:8]}"
