"""A run store on S3-compatible object storage, through ``s3fs``: the same layout as a
local store (``<prefix>/<experiment>/<run-id>/<file>``), one object per file.

Endpoint and credentials come from the standard AWS environment and config files
(``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``,
``~/.aws/config``) as botocore reads them; labkit never takes them from a playbook and
never writes them anywhere. Nothing here rewrites a shared object: each run is its own
keys, so two workstations writing at once cannot overwrite each other.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import s3fs

from labkit.errors import LabkitError, StoreError
from labkit.records.model import RECORD


@dataclass(frozen=True)
class RemoteFile:
    """One object of a run as the store lists it: its content identity is (etag, size)."""

    name: str
    etag: str
    size: int

    @property
    def key(self) -> str:
        return f"{self.etag}-{self.size}"


# the size of the parts of a large file's upload (s3fs's default); labkit passes it, so
# it can compute the ETag the store gives such a file (``same_etag``)
PART_SIZE = 50 * 2**20


def parse_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ("bucket", "some/prefix"); a clear error otherwise."""
    if not url.startswith("s3://"):
        raise LabkitError(f"{url}: expected an s3://bucket/prefix URL")
    bucket, _, prefix = url[len("s3://") :].partition("/")
    if not bucket:
        raise LabkitError(f"{url}: no bucket (expected s3://bucket/prefix)")
    return bucket, prefix.strip("/")


@dataclass
class S3Runs:
    """The runs under one ``s3://bucket/prefix``. ``downloads``/``uploads`` count the
    objects moved, so tests (and ``invoke report``) can say what a call cost."""

    url: str
    downloads: int = 0
    uploads: int = 0
    _fs: Any = field(default=None, repr=False)
    # runs are mirrored by several threads: one client, counts kept whole
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.bucket, self.prefix = parse_url(self.url)

    @property
    def fs(self) -> s3fs.S3FileSystem:
        with self._lock:  # one client, however many threads ask first
            if self._fs is not None:
                return self._fs
            # no listings cache: another workstation's runs appear between two calls;
            # few retries and short timeouts: an unreachable store leaves the run pending
            # within seconds instead of blocking the end of a run for minutes
            self._fs = s3fs.S3FileSystem(
                skip_instance_cache=True,
                use_listings_cache=False,
                config_kwargs={
                    "connect_timeout": 5,
                    "read_timeout": 60,
                    "retries": {"max_attempts": 2},
                },
            )
            self._fs.retries = 2  # s3fs's own retry loop (a class attribute, default 5)
        return self._fs

    def _path(self, *parts: str) -> str:
        return (
            posixpath.join(self.bucket, self.prefix, *parts)
            if self.prefix
            else (posixpath.join(self.bucket, *parts))
        )

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except FileNotFoundError:
            raise
        except Exception as exc:  # botocore/aiohttp errors differ by failure; say which
            raise StoreError(f"{self.url}: {what} failed: {_short(exc)}") from exc

    def ensure_bucket(self) -> None:
        """Make the bucket if it is not there (a new team store); an existing one is kept."""
        if not self._call("checking the bucket", self.fs.exists, self.bucket):
            self._call("creating the bucket", self.fs.mkdir, self.bucket)

    def listing(self) -> dict[tuple[str, str], dict[str, RemoteFile]]:
        """Every run in the store with its objects, by (experiment, run id), in one listing
        of the prefix (no index object: listing by prefix is the index)."""
        try:
            found = self._call("listing the runs", self.fs.find, self._path(), detail=True)
        except FileNotFoundError:  # no bucket yet: a new team store holds no runs
            return {}
        runs: dict[tuple[str, str], dict[str, RemoteFile]] = {}
        base = self._path() + "/"
        for path, info in found.items():
            rel = path.removeprefix(base).split("/")  # find gives keys under base only
            if len(rel) < 3 or any(part.startswith(".") for part in rel):
                continue  # not <experiment>/<run-id>/<file> (files in folders of a run too)
            name = "/".join(rel[2:])
            runs.setdefault((rel[0], rel[1]), {})[name] = _remote(name, info)
        return runs

    def run_files(self, experiment: str, run_id: str) -> dict[str, RemoteFile]:
        """The objects of one run, listed afresh."""
        try:
            found = self._call(
                "listing a run", self.fs.find, self._path(experiment, run_id), detail=True
            )
        except FileNotFoundError:
            return {}
        base = self._path(experiment, run_id) + "/"
        names = {p.removeprefix(base): i for p, i in found.items()}
        return {
            n: _remote(n, i)
            for n, i in names.items()
            if not any(part.startswith(".") for part in n.split("/"))
        }

    def upload_run(self, run_dir: Path, experiment: str, run_id: str) -> int:
        """Upload one run's files, its record last (a reader who sees the record sees the
        whole run); a file already there with the same content is not sent again.
        Returns the number of objects sent."""
        there = self.run_files(experiment, run_id)
        files = sorted(files_of(run_dir))
        files.sort(key=lambda name: name == RECORD)  # the record goes last
        sent = 0
        for name in files:
            path = run_dir / name
            have = there.get(name)
            if have is not None and have.size == path.stat().st_size and same_etag(path, have.etag):
                continue
            target = self._path(experiment, run_id, name)
            # parts of PART_SIZE when s3fs splits the file: its ETag can be computed here
            self._call(f"uploading {experiment}/{run_id}/{name}", self.fs.put_file,
                       str(path), target, chunksize=PART_SIZE)  # fmt: skip
            with self._lock:
                self.uploads += 1
            sent += 1
        return sent

    def download(self, experiment: str, run_id: str, name: str, dest: Path) -> None:
        """One object to ``dest``, written beside it and renamed into place whole."""
        dest.parent.mkdir(parents=True, exist_ok=True)  # a file in a folder of the run
        # beside it under a name of this process and thread: two readers of one cache
        # (a report, `invoke runs`) never write into one another's part
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}-{threading.get_ident()}.part")
        src = self._path(experiment, run_id, name)
        self._call(f"downloading {experiment}/{run_id}/{name}", self.fs.get_file, src, str(tmp))
        tmp.replace(dest)
        with self._lock:
            self.downloads += 1


def files_of(run_dir: Path) -> list[str]:
    """Every file of a run, its folders' too (``dataset/meta/info.json``), by its path
    in the run; hidden files and folders (this workstation's markers) stay home."""
    out = []
    for folder, dirs, files in os.walk(run_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel = Path(folder).relative_to(run_dir)
        out += [(rel / f).as_posix() for f in files if not f.startswith(".")]
    return out


def _remote(name: str, info: dict) -> RemoteFile:
    return RemoteFile(name, str(info.get("ETag") or "").strip('"'), int(info.get("size") or 0))


def md5(path: Path) -> str:
    """The ETag S3 gives a single-part upload of this file."""
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def multipart_etag(path: Path, part_size: int) -> str:
    """The ETag S3 gives a multipart upload of this file in parts of ``part_size``: the MD5
    of the parts' MD5s, then ``-<parts>``."""
    digests = []
    with open(path, "rb") as fh:
        for part in iter(lambda: fh.read(part_size), b""):
            digests.append(hashlib.md5(part, usedforsecurity=False).digest())
    return f"{hashlib.md5(b''.join(digests), usedforsecurity=False).hexdigest()}-{len(digests)}"


def same_etag(path: Path, etag: str) -> bool:
    """Whether the store's object with ``etag`` holds this file: a large file went up in
    parts (s3fs splits from twice its part size) and its ETag is not its MD5, so without
    this a dataset's videos would be sent again on every push."""
    if "-" in etag:
        return etag == multipart_etag(path, PART_SIZE)
    return etag == md5(path)


def _short(exc: BaseException) -> str:
    """An error's first line, without the long botocore chain (never credentials: botocore
    does not put them in messages)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
