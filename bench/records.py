"""Reading a run store's records: typed ``RunRecord`` objects against the JSON they hold.

    .venv/bin/python bench/records.py [--runs 2000] [--rounds 5]

Writes ``--runs`` run folders under bench/.work/records/, each with a ``manifest.json`` as
the engine writes one (the schema-1 fixture migrated, given its own run id, host facts of
a 14-core board and a summary), then, alternating in each round, times reading them all:

- ``json``: ``json.loads`` of every file (the floor: what any reader pays);
- ``dict``: each file validated and dumped back to a dict (what readers got before the
  record was typed: ``RunRecord.model_validate(data).as_dict()``);
- ``typed``: ``records.store.list_runs`` (migrated and validated once, ``RunRecord``s);
- ``dict+shared``: the ``dict`` read with set-up sections held once as the report held
  them before (``DictShared``: the previous ``SharedRecords``, over dicts);
- ``typed+shared``: ``list_runs`` keeping each record through ``SharedRecords`` (what a
  report holds now: set-up sections held once).

Each is reported as a ratio to ``json`` measured in the same round, with the memory the
held records take (tracemalloc, after the read). Appends the table to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.lab import WORK, append_results, machine  # noqa: E402
from labkit.records.model import RunRecord, current  # noqa: E402
from labkit.records.shared import CONFIG_SECTIONS, SharedRecords, interned  # noqa: E402
from labkit.records.store import list_runs, write_json_atomic  # noqa: E402

FIXTURE = ROOT / "tests" / "data" / "records" / "schema1-run.json"
STORE = WORK / "records"


def facts(i: int) -> dict[str, Any]:
    """A 14-core board's facts, as the engine gathers them."""
    cpus = {
        str(c): {"online": True, "governor": "schedutil", "min_khz": 972000, "max_khz": 2601000}
        for c in range(14)
    }
    top = [
        {"pid": 100 + k, "user": "root", "cpu_pct": 0.5 * k, "command": f"proc-{k} --flag"}
        for k in range(10)
    ]
    return {"kernel": "6.8.12-tegra", "cpu": {"cpus": cpus}, "top_processes": top, "boot": i}


def write_store(n: int) -> Path:
    """``n`` runs of five experiments, each record written through the model."""
    shutil.rmtree(STORE, ignore_errors=True)
    template = json.loads(FIXTURE.read_text())
    for i in range(n):
        experiment = f"exp{i % 5 + 1}"
        run_id = f"20260210T{i:06d}Z-sim-{i:08x}"
        data = template | {
            "run_id": run_id,
            "experiment": experiment,
            "facts": facts(i),
            "facts_after": facts(i),
            "summary": {"warnings": i % 17, "min_hz": 9.6 + i % 7, "samples": 3600},
            "started_at": f"2026-02-10T10:{i % 60:02d}:00+0000",
        }
        run_dir = STORE / experiment / run_id
        write_json_atomic(run_dir / "manifest.json", current(data, run_dir).as_dict())
    return STORE


def read_json(store: Path) -> list[Any]:
    return [json.loads(p.read_text()) for p in sorted(store.glob("*/*/manifest.json"))]


def read_dicts(store: Path) -> list[Any]:
    return [
        RunRecord.model_validate(json.loads(p.read_text())).as_dict()
        for p in sorted(store.glob("*/*/manifest.json"))
    ]


class DictShared:
    """How a report held dict records before they were typed (the previous
    ``SharedRecords``): equal set-up sections, as JSON text, held once."""

    def __init__(self) -> None:
        self._seen: dict[str, Any] = {}

    def record(self, manifest: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in manifest.items():
            if key in CONFIG_SECTIONS and isinstance(value, (dict, list)):
                text = json.dumps(value, default=str)
                value = self._seen.setdefault(text, interned(value))
            else:
                value = interned(value)
            out[sys.intern(key)] = value
        return out


def read_dicts_shared(store: Path) -> list[Any]:
    shared = DictShared()
    return [shared.record(d) for d in read_dicts(store)]


def read_typed(store: Path) -> list[Any]:
    return list_runs(store)


def read_shared(store: Path) -> list[Any]:
    return list_runs(store, keep=SharedRecords().record)


WAYS: dict[str, Callable[[Path], list[Any]]] = {
    "json": read_json,
    "dict": read_dicts,
    "typed": read_typed,
    "dict+shared": read_dicts_shared,
    "typed+shared": read_shared,
}


def timed(fn: Callable[[Path], list[Any]], store: Path) -> float:
    gc.collect()
    t0 = time.perf_counter()
    fn(store)
    return time.perf_counter() - t0


def held_mb(fn: Callable[[Path], list[Any]], store: Path) -> float:
    """What the records read take once read (MB), measured apart from the timings."""
    gc.collect()
    tracemalloc.start()
    held = fn(store)
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del held
    return size / 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    store = write_store(args.runs)
    times: dict[str, list[float]] = {w: [] for w in WAYS}
    ratios: dict[str, list[float]] = {w: [] for w in WAYS}
    load0 = os.getloadavg()[0]
    for _ in range(args.rounds):
        got = {w: timed(fn, store) for w, fn in WAYS.items()}
        for w, s in got.items():
            times[w].append(s)
            ratios[w].append(s / got["json"])
    mem = {w: held_mb(fn, store) for w, fn in WAYS.items()}
    rows = [
        "| read | median s | x json (median of rounds) | held MB |",
        "|---|---|---|---|",
        *(
            f"| {w} | {statistics.median(times[w]):.3f} | {statistics.median(ratios[w]):.2f} "
            f"| {mem[w]:.1f} |"
            for w in WAYS
        ),
    ]
    body = (
        f"`bench/records.py --runs {args.runs} --rounds {args.rounds}` on {machine()}; "
        f"load average {load0:.1f} at the start, {os.getloadavg()[0]:.1f} at the end (the "
        "machine was shared with other engineers' work). Each round reads the same "
        f"{args.runs} records every way, alternating; the ratio is to `json` in that round.\n\n"
        + "\n".join(rows)
    )
    print(body)
    doc = append_results("records: typed RunRecord reads", body)
    print(f"appended to {doc}")


if __name__ == "__main__":
    main()
