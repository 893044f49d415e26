"""Report time and memory over a large run store: seed-shaped runs, one hour each.

    .venv/bin/python bench/report.py [--sets 200,1000] [--rounds 3] [--jobs 2]
        [--reuse] [--distinct 100] [--s3]

For each size N: writes N sets of the seed's five experiments (``<exp>_record.log`` and
``<exp>_tegrastats.log`` as the seed left them, one hour each: tegrastats at 1 Hz with 14
cores, slow-loop warnings spread over the hour at the seed's rates) under bench/.work/,
imports them with ``invoke import`` (timed: parsing and each run's metrics, in parallel),
then times ``invoke report``: once right after the import ("first"), then ``--rounds``
rounds of one warm report per size, sizes interleaved. Every report runs in a fresh
process whose peak RSS is read from ``getrusage(RUSAGE_CHILDREN)``.

``--distinct D`` imports only D sets; every size is then made of hard-linked copies of
those runs, each copy a run folder of its own, so a report over 5000 runs reads 5000
manifests and metrics.json files without 5000 hours of logs to import first.
``--s3`` uploads the smallest store to a SeaweedFS S3 server on loopback (as the tests
start it: its own temp dir and keys, telemetry off) with labkit's own upload, reports
from ``s3://`` once with an empty cache (each run's record and metrics downloaded, and
the logs of the runs the figures draw; the files and bytes it fetched are counted) and
then warm (the cache by ETag), each warm one beside a local report of the same store,
and checks that both reports say the same. Results are appended to docs/benchmarks.md
with the machine, the date and the load average.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.lab import WORK, append_results, machine  # noqa: E402
from tests.s3server import WeedS3  # noqa: E402
from tests.seedlogs import SEED  # noqa: E402

HOUR = 3600
PLAYBOOK = ROOT / "playbooks" / "lerobot-loop-lag.yml"
INVOKE = str(Path(sys.executable).parent / "invoke")


def write_set(folder: Path, index: int) -> None:
    """The five seed experiments, one hour each, starting on their own day (so every
    run has its own id); warnings at each experiment's seed rates, repeated over the hour."""
    rnd = random.Random(index)
    folder.mkdir(parents=True, exist_ok=True)
    start = dt.datetime(2026, 2, 10, 10) + dt.timedelta(days=index)
    for name, (rates, target) in SEED.items():
        every = max(5, 60 * 60 // (len(rates) * 60))  # the seed's warnings/min, kept
        warned = {s: rnd.choice(rates) for s in range(2, HOUR, every)}
        stamp = start.strftime("%Y-%m-%d")
        lines = [
            f"INFO {stamp} 10:00:00 t_record.py:435 {{'dataset': {{'fps': {target}}}}}",
            f"INFO {stamp} 10:00:00 gs/video.py:186 Auto-selected video codec: h264_nvenc",
            f"INFO {stamp} 10:00:00 ls/utils.py:147 Recording episode 0",
        ]
        for sec, hz in warned.items():
            t = (start + dt.timedelta(seconds=sec)).strftime("%Y-%m-%d %H:%M:%S")
            lines.append(
                f"WARNING {t} t_record.py:352 Record loop is running slower ({hz} Hz) than "
                f"the target FPS ({target} Hz)."
            )
        end = (start + dt.timedelta(seconds=HOUR)).strftime("%Y-%m-%d %H:%M:%S")
        lines += [
            f"INFO {end} ls/utils.py:147 Stop recording",
            f"INFO {end} ls/utils.py:147 Exiting",
        ]
        (folder / f"{name}_record.log").write_text("\n".join(lines) + "\n")
        teg = []
        for s in range(HOUR + 1):
            loads = [20 + (s * 7 + i * 3 + index) % 25 for i in range(14)]
            if s in warned:
                loads[s % 14] = 90 + s % 11
            cpus = ",".join(f"{x}%@1566" for x in loads)
            t = (start + dt.timedelta(seconds=s)).strftime("%m-%d-%Y %H:%M:%S")
            teg.append(
                f"{t} RAM 50{s % 1000:03d}/125772MB (lfb 34x4MB) CPU [{cpus}] EMC_FREQ 0%@2750 "
                f"GR3D_FREQ @[314,314,314] NVENC0_FREQ @314 cpu@{45 + s % 5}.0C "
                "VIN 30000mW/30000mW"
            )
        (folder / f"{name}_tegrastats.log").write_text("\n".join(teg) + "\n")


def logs_for(sets: int) -> Path:
    """bench/.work/report-logs/set-NNNN/ for sets 0..sets-1 (kept between runs)."""
    base = WORK / "report-logs"
    for i in range(sets):
        folder = base / f"set-{i:04d}"
        if not (folder / "exp5_tegrastats.log").exists():
            write_set(folder, i)
    return base


def linked_store(distinct: Path, sets: int, distinct_sets: int) -> Path:
    """``bench/.work/report-runs-<sets>``: the ``distinct_sets`` imported sets, then copies
    of them up to ``sets`` sets, each copy a run folder of its own (``<run-id>-cN``) whose
    files are hard links to the imported run's (its stored metrics.json included, valid:
    same code, same input sizes). The report reads every folder's manifest and metrics."""
    store = WORK / f"report-runs-{sets}-of-{distinct_sets}"
    runs = sets * 5
    if store.exists() and len(list(store.glob("*/*/manifest.json"))) == runs:
        return store
    shutil.rmtree(store, ignore_errors=True)
    # set by set (a run id starts with its set's day), each set's five experiments
    originals = sorted(distinct.glob("*/*/manifest.json"), key=lambda m: (m.parent.name, str(m)))
    if len(originals) < distinct_sets * 5:
        sys.exit(f"{distinct}: {len(originals)} runs imported, expected {distinct_sets * 5}")
    for n in range(runs):
        src = originals[n % len(originals)].parent
        copy = n // len(originals)
        dest = store / src.parent.name / (src.name if copy == 0 else f"{src.name}-c{copy}")
        dest.mkdir(parents=True)
        for f in src.iterdir():
            if f.is_file():
                os.link(f, dest / f.name)
    return store


def prepared(sets: int, jobs: int, reuse: bool, distinct: int | None, env: dict) -> tuple:
    """(the store of ``sets`` sets, seconds its import took or None)."""
    n = sets if distinct is None else distinct
    store = WORK / f"report-runs-{n}"
    took = None
    if not (reuse and store.exists()):
        took = _import(logs_for(n), store, n, jobs, env)
    if n == sets:
        return store, took
    return linked_store(store, sets, distinct), took


def measure(
    sizes: list[int], rounds: int, jobs: int, reuse: bool, distinct: int | None, s3: bool
) -> list[dict]:
    """Every size's store prepared, then ``rounds`` rounds of one warm report per size
    (interleaved, so a shared machine's load falls on each alike); with ``s3``, the
    smallest store pushed to a SeaweedFS on loopback and reported from there, cold once
    and then warm, interleaved with the local report of the same store."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    stores, took = {}, {}
    for n in sizes:
        stores[n], took[n] = prepared(n, jobs, reuse, distinct, env)
    first = {n: _report(stores[n], WORK / f"report-out-{n}", env) for n in sizes}
    warm: dict[int, list] = {n: [] for n in sizes}
    for _ in range(rounds):
        for n in sizes:
            warm[n].append(_report(stores[n], WORK / f"report-out-{n}", env))
    results = []
    for n in sizes:
        runs = len(list(stores[n].glob("*/*/manifest.json")))
        results.append({
            "sets": n, "runs": runs, "distinct_runs": min(n, distinct or n) * 5,
            "import_s": took[n],
            "first_report_s": first[n][0], "first_report_peak_mb": first[n][1],
            "report_s": statistics.median(r[0] for r in warm[n]),
            "report_s_all": [round(r[0], 1) for r in warm[n]],
            "report_peak_mb": max(r[1] for r in warm[n]),
            "report_peak_mb_all": [round(r[1]) for r in warm[n]],
        })  # fmt: skip
    if s3:
        results[0]["s3"] = measure_s3(stores[sizes[0]], rounds, env)
    return results


def measure_s3(store: Path, rounds: int, env: dict) -> dict:
    """The store uploaded to a fresh SeaweedFS (loopback, its own temp dir and keys,
    telemetry off: tests/s3server.py's), then ``invoke report --runs s3://...``: once
    with an empty cache (records and metrics, and the logs of the runs the figures
    draw), then warm (the cache by ETag: nothing new to download), each warm one beside
    a local report of the same store."""
    root = Path(tempfile.mkdtemp(prefix="s3-", dir=WORK))
    server = WeedS3(root)
    server.start()
    try:
        s3env = {**env, **server.env(), "LABKIT_CACHE_DIR": str(root / "cache")}
        url = "s3://bench/runs"
        t0 = time.perf_counter()
        uploaded = _push(store, url, s3env)
        push_s = time.perf_counter() - t0
        out = WORK / "report-out-s3"
        cold = _report(url, out, s3env)
        fetched = [
            f for f in (root / "cache").rglob("*") if f.is_file() and not f.name.startswith(".")
        ]
        local, remote = [], []
        for _ in range(rounds):
            local.append(_report(store, WORK / "report-out-local", env))
            remote.append(_report(url, out, s3env))
        same = _same_report(WORK / "report-out-local", out)
        return {
            "objects": uploaded, "push_s": push_s,
            "cold_s": cold[0], "cold_peak_mb": cold[1], "cold_files": len(fetched),
            "cold_mb": sum(f.stat().st_size for f in fetched) / 1e6,
            "store_mb": sum(f.stat().st_size for f in store.rglob("*") if f.is_file()) / 1e6,
            "warm_s": statistics.median(r[0] for r in remote),
            "warm_s_all": [round(r[0], 1) for r in remote],
            "warm_peak_mb": max(r[1] for r in remote),
            "local_s": statistics.median(r[0] for r in local),
            "local_s_all": [round(r[0], 1) for r in local],
            "local_peak_mb": max(r[1] for r in local),
            "same_report": same,
        }  # fmt: skip
    finally:
        server.stop(keep=False)  # its data goes with its temp dir
        shutil.rmtree(root, ignore_errors=True)


def _push(store: Path, url: str, env: dict) -> int:
    """Every run of ``store`` uploaded with labkit's own upload (record last), in a
    fresh process with the store's AWS environment: the number of objects sent."""
    code = (
        "import sys; from pathlib import Path; from labkit.records.s3 import S3Runs; "
        "s = S3Runs(sys.argv[1]); s.ensure_bucket(); "
        "[s.upload_run(m.parent, m.parent.parent.name, m.parent.name) "
        " for m in sorted(Path(sys.argv[2]).glob('*/*/manifest.json'))]; print(s.uploads)"
    )
    res = subprocess.run([sys.executable, "-c", code, url, str(store)], env=env, check=True,
                         capture_output=True, text=True)  # fmt: skip
    return int(res.stdout.split()[-1])


def _same_report(a: Path, b: Path) -> bool:
    """Whether two reports say the same: Markdown (but for its "Generated <time>" line),
    summary.csv and hypotheses.json."""
    name = PLAYBOOK.stem

    def text(root: Path, f: str) -> list[str]:
        lines = (root / f).read_text().splitlines()
        return [x for x in lines if not x.startswith("Generated ")]

    files = [f"{name}.md", f"{name}/summary.csv", f"{name}/hypotheses.json"]
    return all(text(a, f) == text(b, f) for f in files)


def _import(logs: Path, store: Path, sets: int, jobs: int, env: dict) -> float:
    """``invoke import`` of the first ``sets`` sets into a fresh store: wall seconds."""
    shutil.rmtree(store, ignore_errors=True)
    folders = sorted(logs.glob("set-*"))[:sets]
    staged = WORK / f"report-import-{sets}"
    shutil.rmtree(staged, ignore_errors=True)
    staged.mkdir(parents=True)
    for f in folders:
        (staged / f.name).symlink_to(f)
    t0 = time.perf_counter()
    subprocess.run(
        [INVOKE, "import", "--logs", str(staged), "--runs", str(store), "--playbook",
         str(PLAYBOOK), "--jobs", str(jobs)], cwd=ROOT, env=env, check=True,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    return time.perf_counter() - t0


def _report(store: Path | str, out: Path, env: dict) -> tuple[float, float]:
    """One ``invoke report`` in a fresh process: wall seconds and its peak RSS (MB)."""
    # RUSAGE_CHILDREN keeps the largest child so far, so the report's own peak is
    # read by an interpreter whose only child is the report
    code = (
        "import resource, subprocess, sys; "
        "r = subprocess.run(sys.argv[1:], capture_output=True); "
        "sys.stderr.write(r.stderr.decode(errors='replace')[-3000:] if r.returncode else ''); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)"
    )
    t0 = time.perf_counter()
    res = subprocess.run(
        [sys.executable, "-c", code, INVOKE, "report", "--runs", str(store), "--out",
         str(out), "--playbook", str(PLAYBOOK)],
        cwd=ROOT, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - t0
    rss_kb, code_ = res.stdout.split()
    if code_ != "0":
        sys.exit(f"invoke report failed over {store}:\n{res.stderr}")
    return elapsed, int(rss_kb) / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="200", help="comma-separated numbers of sets (x5 runs)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--no-write", action="store_true", help="do not append to docs/")
    ap.add_argument("--reuse", action="store_true", help="report over stores already imported")
    ap.add_argument(
        "--distinct",
        type=int,
        help="import only this many sets; larger sizes "
        "are hard-linked copies of them (each copy its own run folder)",
    )
    ap.add_argument(
        "--s3",
        action="store_true",
        help="also report the smallest size from "
        "a SeaweedFS S3 store on loopback, cold and warm, against local",
    )
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sets.split(","))
    load0 = os.getloadavg()
    results = measure(sizes, args.rounds, args.jobs, args.reuse, args.distinct, args.s3)
    load1 = os.getloadavg()
    for r in results:
        print(json.dumps(r), flush=True)
    text = "\n".join(
        [
            f"`{_command(args)}` on {machine()}; the machine was shared with other work "
            f"while it ran (load average {load0[0]:.1f} at the start, {load1[0]:.1f} at "
            "the end, on 2 cores). Seed-shaped runs (five experiments per set, one hour "
            "each, tegrastats at 1 Hz); `invoke import` then `invoke report` in fresh "
            "processes, one report per size per round, sizes interleaved; peak RSS from "
            "getrusage(RUSAGE_CHILDREN).",
            "",
            *_rows(results),
            "",
            *_notes(results, args.distinct),
        ]
    )
    print(text)
    if not args.no_write:
        print(f"appended to {append_results('report', text)}")


def _command(args: argparse.Namespace) -> str:
    cmd = f"bench/report.py --sets {args.sets} --rounds {args.rounds} --jobs {args.jobs}"
    cmd += " --reuse" if args.reuse else ""
    cmd += f" --distinct {args.distinct}" if args.distinct else ""
    return cmd + (" --s3" if args.s3 else "")


def _rows(results: list[dict]) -> list[str]:
    rows = [
        "| run-hours (runs; distinct) | import s | first report s (peak MB) "
        "| report s, warm (median; each) | warm report peak RSS MB (each) |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        imp = f"{r['import_s']:.0f}" if r["import_s"] is not None else "(earlier)"
        each = ", ".join(f"{x:.1f}" for x in r["report_s_all"])
        rss = ", ".join(str(x) for x in r["report_peak_mb_all"])
        rows.append(
            f"| {r['runs']} ({r['runs']}; {r['distinct_runs']}) | {imp} | "
            f"{r['first_report_s']:.1f} ({r['first_report_peak_mb']:.0f}) | "
            f"{r['report_s']:.1f} ({each}) | {r['report_peak_mb']:.0f} ({rss}) |"
        )
    s3 = results[0].get("s3")
    if s3:
        rows += [
            "",
            f"| {results[0]['runs']} run-hours | report s (median; each) | peak RSS MB |",
            "|---|---|---|",
            f"| local store | {s3['local_s']:.1f} "
            f"({', '.join(f'{x:.1f}' for x in s3['local_s_all'])}) | {s3['local_peak_mb']:.0f} |",
            f"| S3 store, cold (empty cache: {s3['cold_files']} files, {s3['cold_mb']:.0f} MB "
            f"of {s3['store_mb']:.0f} MB downloaded) | {s3['cold_s']:.1f} | "
            f"{s3['cold_peak_mb']:.0f} |",
            f"| S3 store, warm (cache by ETag) | {s3['warm_s']:.1f} "
            f"({', '.join(f'{x:.1f}' for x in s3['warm_s_all'])}) | {s3['warm_peak_mb']:.0f} |",
        ]
    return rows


def _notes(results: list[dict], distinct: int | None) -> list[str]:
    base = results[0]
    notes = [
        f"- {r['runs']} run-hours / {base['runs']}: peak RSS "
        f"**{r['report_peak_mb'] / base['report_peak_mb']:.2f}x**, warm time "
        f"**{r['report_s'] / base['report_s']:.2f}x**"
        for r in results[1:]
    ]
    if distinct:
        notes.append(
            f"- {distinct * 5} runs imported (parsed, metrics stored); the larger stores are "
            "hard-linked copies of them, each in its own run folder, so every report reads "
            "every folder's manifest.json and metrics.json"
        )
    s3 = base.get("s3")
    if s3:
        notes.append(
            f"- S3 warm / local: **{s3['warm_s'] / s3['local_s']:.2f}x** (target <= 1.5x); "
            f"cold / local: {s3['cold_s'] / s3['local_s']:.2f}x; {s3['objects']} objects "
            f"pushed in {s3['push_s']:.0f} s; reports equal (Markdown, summary.csv, "
            f"hypotheses.json): {'yes' if s3['same_report'] else 'NO'}"
        )
    return notes


if __name__ == "__main__":
    main()
