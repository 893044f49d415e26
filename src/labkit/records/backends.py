"""Where runs are kept: a local folder, or a team store at ``s3://bucket/prefix``.

Either way a run is written to a local folder first (``RunStore.local``): the folder
itself, or for an S3 store the staging folder ``.labkit/staging/<bucket>/<prefix>/`` in
the project (beside ``labkit.yml``/``tasks.py``; not a cache: runs not yet uploaded live
there). When a run ends it is uploaded (``publish``), record last; a run whose upload
failed stays complete in staging and *pending* until ``invoke push`` or ``invoke
collect`` uploads it. A run is pending while its ``.pushed`` marker (the SHA-256 of the
record that was uploaded) differs from its record, so a record changed later (``invoke
restore`` noting it) is uploaded again. Uploading twice sends the same keys and content.

Reading an S3 store (``read_dir``) mirrors it into ``~/.cache/labkit/stores/<bucket>/
<prefix>/`` (``LABKIT_CACHE_DIR`` moves it): each run's record and stored metrics, each
downloaded only when its ETag or size differs from what the mirror holds, so a second
report downloads nothing new. A run's other files (logs, samples) stay in the store,
listed in the run's ``NOT_FETCHED`` with their sizes, until something reads them
(``fetch``: a figure that draws the run, metrics made by other code); a run stored
without metrics is mirrored whole.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from labkit.errors import LabkitError, StoreError
from labkit.records.metrics_cache import METRICS_FILE, NOT_FETCHED
from labkit.records.model import FINAL, RECORD, RunRecord, read_record

if TYPE_CHECKING:
    from labkit.records.s3 import RemoteFile, S3Runs

PUSHED = ".pushed"  # the SHA-256 of the record last uploaded
OBJECTS = ".objects.json"  # in the mirror: each file's (etag, size) as downloaded
STAGING = Path(".labkit") / "staging"


def cache_root() -> Path:
    """labkit's cache on this workstation: ``LABKIT_CACHE_DIR``, else the XDG cache."""
    if os.environ.get("LABKIT_CACHE_DIR"):
        return Path(os.environ["LABKIT_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "labkit"


def is_url(spec: str) -> bool:
    return "://" in spec


@dataclass
class Pushed:
    """What ``push`` did: runs uploaded, runs still pending (with why), runs not finished."""

    uploaded: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    unfinished: list[Path] = field(default_factory=list)


class Finisher(Protocol):
    """What a finished run gets once its record is final (``__call__``), with what can
    be done before that (``prepare``: on a copy of the record as it will be)."""

    def prepare(self, run_dir: Path, record: RunRecord) -> None: ...

    def __call__(self, run_dir: Path, record: RunRecord) -> None: ...


@dataclass
class RunStore:
    """A run store as ``--runs`` or ``labkit.yml`` names it."""

    spec: str
    local: Path  # where this workstation writes runs (the store itself when local)
    remote: S3Runs | None = None
    # what a finished run gets before it is uploaded: the CLI stores its metrics beside
    # it (``metrics.json``), computed once, so they travel with the run to every reader
    finish: Finisher | None = None

    @property
    def shared(self) -> bool:
        return self.remote is not None

    def publish(self, run_dir: Path, say: Callable[[str], None] = print) -> bool:
        """A finished run's ``finish`` (its metrics), then its upload to a shared store;
        False (the run stays pending) if the store could not take it."""
        record = _record(run_dir)
        if record is None or record.status not in FINAL:
            # not finished yet: `invoke collect` finishes and uploads it
            return self.remote is None
        self._finish(run_dir, record, say)
        return True if self.remote is None else self._upload(run_dir, say)

    def prepare(self, run_dir: Path, record: RunRecord) -> None:
        """``finish``'s slow part, done ahead (the run's summary thread, beside its last
        round trip) on the record as it will be; a failure here is ``finish``'s to say."""
        if self.finish is not None:
            with contextlib.suppress(Exception):
                self.finish.prepare(run_dir, record)

    def _finish(self, run_dir: Path, record: RunRecord, say: Callable[[str], None]) -> None:
        """``finish`` of a finished run; its failure costs the run nothing (a report
        computes what it did not store)."""
        if self.finish is None:
            return
        try:
            self.finish(run_dir, record)
        except Exception as exc:  # noqa: BLE001 -- the run is recorded whole already
            say(f"{run_dir.parent.name} {run_dir.name}: metrics not stored ({exc!r}); "
                "a report computes them")  # fmt: skip

    def _upload(self, run_dir: Path, say: Callable[[str], None]) -> bool:
        assert self.remote is not None
        digest = _sha256(run_dir / RECORD)
        experiment, run_id = run_dir.parent.name, run_dir.name
        try:
            self.remote.upload_run(run_dir, experiment, run_id)
        except StoreError as exc:
            say(
                f"{experiment} {run_id}: not uploaded ({exc}); kept complete in {run_dir}, "
                "pending: `invoke push` uploads it"
            )
            return False
        _write_text(run_dir / PUSHED, digest + "\n")
        say(f"{experiment} {run_id}: uploaded to {self.spec}")
        return True

    def pending(self) -> tuple[list[Path], list[Path]]:
        """(finished runs not uploaded as they are now, runs not finished yet)."""
        if self.remote is None:
            return [], []
        waiting, unfinished = [], []
        for mf in sorted(self.local.glob(f"*/*/{RECORD}")):
            record = _record(mf.parent)
            if record is None:
                continue
            if record.status not in FINAL:
                unfinished.append(mf.parent)
            elif _marker(mf.parent) != _sha256(mf):
                waiting.append(mf.parent)
        return waiting, unfinished

    def push(self, say: Callable[[str], None] = print) -> Pushed:
        """Upload every pending run; each one that fails stays pending."""
        result = Pushed()
        waiting, result.unfinished = self.pending()
        for run_dir in waiting:
            record = _record(run_dir)
            if record is not None:  # a record changed since (restore notes it): metrics anew
                self._finish(run_dir, record, say)
            if self._upload(run_dir, say):
                result.uploaded.append(run_dir)
            else:
                result.failed.append((run_dir, "upload failed"))
        return result

    def read_dir(
        self, say: Callable[[str], None] = print, stop: threading.Event | None = None
    ) -> Path:
        """A local folder holding the store's runs as they are now (the folder itself for
        a local store; for S3 the mirror, brought up to date by content). ``stop``, once
        set, ends the mirroring at the next file (a caller interrupted meanwhile)."""
        if self.remote is None:
            return self.local
        mirror = cache_root() / "stores" / self.remote.bucket / self.remote.prefix
        before = self.remote.downloads
        n = sync_mirror(self.remote, mirror, stop)
        got = self.remote.downloads - before
        say(f"{self.spec}: {n} run(s), {got} file(s) downloaded, the rest from {mirror}")
        return mirror

    def fetch(self, run_dir: Path) -> None:
        """Download the files a mirrored run left in the store (``NOT_FETCHED``), before
        something reads them; nothing to do for a local store or a whole run."""
        if self.remote is None or not (run_dir / NOT_FETCHED).exists():
            return
        with self._fetching:
            fetch_rest(self.remote, run_dir)

    _fetching: threading.Lock = field(default_factory=threading.Lock, repr=False)


def open_store(spec: str | Path, project: Path) -> RunStore:
    """The store named by ``spec``: an ``s3://`` URL or a local folder."""
    text = str(spec)
    if text.startswith("s3://"):
        # imported here, not at the top: s3fs (aiobotocore) costs every command that
        # never touches S3 a quarter second of start-up
        try:
            from labkit.records.s3 import S3Runs, parse_url  # noqa: PLC0415
        except ImportError as exc:
            raise LabkitError(
                f"--runs {text}: an S3 store needs s3fs, which is not installed ({exc}); "
                "install labkit's s3 extra: pip install -e '.[s3]'"
            ) from exc

        bucket, prefix = parse_url(text)
        return RunStore(text, project / STAGING / bucket / prefix, S3Runs(text))
    if is_url(text):
        raise LabkitError(f"--runs {text}: expected a folder or s3://bucket/prefix")
    return RunStore(text, Path(text))


# runs mirrored at once: each waits on the store's round trips (listing a new run,
# downloading its record and metrics), which a remote store makes the whole cost
MIRROR_WORKERS = 8


def sync_mirror(remote: S3Runs, mirror: Path, stop: threading.Event | None = None) -> int:
    """Bring ``mirror`` to the store's runs: download each run's metrics and record (last)
    and any file the mirror holds, when its (etag, size) differs; list the rest in the
    run's ``NOT_FETCHED`` (a run stored without metrics: download every file); drop runs
    the store no longer has. A run without a record in the store (still uploading) is not
    mirrored. Runs are mirrored ``MIRROR_WORKERS`` at a time; the first failure (or
    Ctrl-C, or ``stop`` set by a caller) ends each run at its next file, so a run left
    behind lacks its new record and is read as before. Returns the number of runs."""
    listing = remote.listing()
    complete = {k: v for k, v in listing.items() if RECORD in v}
    for exp_dir in mirror.glob("*") if mirror.exists() else []:
        for run_dir in exp_dir.glob("*"):
            if run_dir.is_dir() and (exp_dir.name, run_dir.name) not in complete:
                shutil.rmtree(run_dir, ignore_errors=True)
    stop = stop if stop is not None else threading.Event()
    pool = ThreadPoolExecutor(max_workers=MIRROR_WORKERS, thread_name_prefix="labkit-mirror")
    try:
        running = [
            pool.submit(_mirror_run, remote, mirror / experiment / run_id, files, stop)
            for (experiment, run_id), files in sorted(complete.items())
        ]
        done, _ = wait(running, return_when=FIRST_EXCEPTION)
        for each in sorted(done, key=running.index):
            each.result()  # the first failure, raised here
    finally:
        stop.set()  # every run still going ends at its next file: nothing left to do
        pool.shutdown(wait=True, cancel_futures=True)
    return len(complete)


def _mirror_run(
    remote: S3Runs, run_dir: Path, files: dict[str, RemoteFile], stop: threading.Event
) -> None:
    """One run of ``sync_mirror``: its files in order, the record last; nothing more
    once ``stop`` is set."""
    if stop.is_set():
        return
    experiment, run_id = run_dir.parent.name, run_dir.name
    run_dir.mkdir(parents=True, exist_ok=True)
    held = _read_objects(run_dir)
    record = files[RECORD]
    if held.get(RECORD) != record.key or not (run_dir / RECORD).exists():
        # a new or changed record: list the run again, so files uploaded just before
        # its record (after the listing's page passed them) are not missed
        files = remote.run_files(experiment, run_id) or files
    whole = METRICS_FILE not in files  # no metrics to read: the report computes them
    names = sorted(files, key=lambda n: n == RECORD)  # the record last
    left = {}
    for name in names:
        rf = files[name]
        if held.get(name) == rf.key and (run_dir / name).exists():
            continue
        held_here = (run_dir / name).exists()  # a file once read is kept up to date
        if not whole and name not in (RECORD, METRICS_FILE) and not held_here:
            left[name] = {"key": rf.key, "size": rf.size}  # in the store until read
            continue
        if stop.is_set():
            return  # its record not downloaded: the run is read as it was, or not at all
        remote.download(experiment, run_id, name, run_dir / name)
        held[name] = rf.key
        _write_text(run_dir / OBJECTS, json.dumps(held, sort_keys=True))
    if left:
        _write_changed(run_dir / NOT_FETCHED, json.dumps(left, sort_keys=True))
    else:
        (run_dir / NOT_FETCHED).unlink(missing_ok=True)


def fetch_rest(remote: S3Runs, run_dir: Path) -> int:
    """Download what a mirrored run left in the store (its ``NOT_FETCHED``); returns how
    many files. Each file lands whole; the list goes once all are in."""
    try:
        left = json.loads((run_dir / NOT_FETCHED).read_text())
    except (OSError, ValueError):
        return 0
    held = _read_objects(run_dir)
    experiment, run_id = run_dir.parent.name, run_dir.name
    for name, info in sorted(left.items()):
        remote.download(experiment, run_id, name, run_dir / name)
        held[name] = info.get("key", "") if isinstance(info, dict) else ""
        _write_text(run_dir / OBJECTS, json.dumps(held, sort_keys=True))
    (run_dir / NOT_FETCHED).unlink(missing_ok=True)
    return len(left)


def _read_objects(run_dir: Path) -> dict[str, str]:
    try:
        return json.loads((run_dir / OBJECTS).read_text())
    except (OSError, ValueError):
        return {}


def _record(run_dir: Path) -> RunRecord | None:
    try:
        return read_record(run_dir / RECORD)
    except (OSError, ValueError):
        return None


def _marker(run_dir: Path) -> str:
    try:
        return (run_dir / PUSHED).read_text().strip()
    except OSError:
        return ""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write_changed(path: Path, text: str) -> None:
    """``_write_text`` unless ``path`` holds ``text`` already: a warm mirror writes nothing."""
    try:
        if path.read_text() == text:
            return
    except OSError:
        pass
    _write_text(path, text)


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
