"""Pull a run directory back in one archive transfer, and check what arrived.

Fabric's ``get`` copies single files over SFTP; a run has many. The target packs the
logs (not the recorded videos) into one tar.gz, labkit copies that file, compares its
size with the target's ``stat``, unpacks it and compares every file's size with the
target's listing.
"""

from __future__ import annotations

import posixpath
import shlex
import tarfile
import tempfile
from pathlib import Path

from labkit.errors import RemoteError
from labkit.remote.target import Target

q = shlex.quote
# everything in the run dir but the recorded dataset's payload (its meta/ is small and kept)
SELECT = r"find . -type f \( ! -path './dataset/*' -o -path './dataset/meta/*' \) ! -name '.*'"


def leftovers(remote_dir: str, archive_dir: str) -> list[str]:
    """What a pull leaves on the target for the caller to remove (``cleanup=False``)."""
    name = posixpath.basename(remote_dir.rstrip("/"))
    return [posixpath.join(archive_dir, f"pull-{name}.tgz"), f"{remote_dir}/.pull-list"]


def pull_run(
    target: Target,
    remote_dir: str,
    local_dir: Path,
    archive_dir: str,
    cleanup: bool = True,
    before: str = "",
) -> dict[str, int]:
    """Copy the run's logs into ``local_dir``; returns {relative path: size}.

    ``cleanup=False`` leaves the archive (``leftovers``) for a later command to remove,
    which saves a round trip; ``before``: a script that starts work in the background
    first, in the same round trip (it must print nothing)."""
    archive = leftovers(remote_dir, archive_dir)[0]
    listing = target.run(
        f"{before}\nmkdir -p {q(archive_dir)} && cd {q(remote_dir)} "
        f"&& {SELECT} -print > .pull-list && tar -czf {q(archive)} -T .pull-list "
        f"&& xargs -d '\\n' stat -c '%s %n' < .pull-list "
        f"&& echo @@archive $(stat -c %s {q(archive)})",
        timeout=300,
        what="packing the run logs",
    ).stdout
    sizes: dict[str, int] = {}
    archive_size = -1
    for line in listing.splitlines():
        if line.startswith("@@archive "):
            archive_size = int(line.split()[1])
        elif line.strip():
            size, _, path = line.partition(" ")
            sizes[path.removeprefix("./")] = int(size)
    local_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=local_dir, prefix=".pull-") as tmp:
        local_archive = Path(tmp) / "logs.tgz"
        target.get(archive, local_archive)
        if cleanup:
            target.run("rm -f " + " ".join(map(q, leftovers(remote_dir, archive_dir))), check=False)
        got = local_archive.stat().st_size
        if got != archive_size:
            raise RemoteError(
                f"{target.name}: pulled archive of {remote_dir} is {got} bytes, expected "
                f"{archive_size}"
            )
        with tarfile.open(local_archive) as tar:
            tar.extractall(local_dir, filter="data")
    for rel, size in sizes.items():
        have = (local_dir / rel).stat().st_size if (local_dir / rel).exists() else -1
        if have != size:
            raise RemoteError(f"{target.name}: {rel} arrived with {have} bytes, expected {size}")
    return sizes
