"""Put py-spy into labkit's work dir on a host, for the ``pyspy`` probe (and the thread
names of the ``threads`` probe).

In order: py-spy already there (the work dir's ``tools/bin/py-spy`` or one on PATH); ``pip``
on the host (``python3 -m pip install --target``, when the host reaches PyPI); else the
workstation pushes its own py-spy binary (the one beside labkit's Python, or on PATH) when
the host's machine type is the workstation's, or a py-spy wheel for the host's machine type
(from ``~/.cache/labkit/wheels``, downloaded there by the workstation's pip) pushed and
unpacked with the host's python3 -- so a board without internet still gets it. When none
works the probe is skipped with the reason; the run never fails for it.
"""

from __future__ import annotations

import platform
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from labkit.core import environment
from labkit.probes.tools import PYSPY_IN_WORKDIR

PIP_TIMEOUT_S = 180


def local_pyspy() -> Path | None:
    """The workstation's py-spy: beside this Python (a venv's bin), else on PATH."""
    beside = Path(sys.executable).parent / "py-spy"
    if beside.exists():
        return beside
    found = shutil.which("py-spy")
    return Path(found) if found else None


def ensure_pyspy(target, facts: dict, workdir: str, log=lambda m: None) -> tuple[str | None, str]:
    """(py-spy's path on the host or None, how it got there or why it is missing)."""
    if facts.get("pyspy"):
        return facts["pyspy"], "already on the host"
    dest = workdir.rstrip("/") + PYSPY_IN_WORKDIR
    pkg = workdir.rstrip("/") + "/tools/py-spy-pip"
    q = shlex.quote
    log(f"{target.name}: installing py-spy into {dest}")
    if not environment.pyspy_pip():  # LABKIT_PYSPY_PIP=0: e.g. a board known to be offline
        return _push(target, facts, dest, "pip on the host not tried (LABKIT_PYSPY_PIP=0)")
    res = target.run(
        f"python3 -m pip install --quiet --disable-pip-version-check --no-input "
        f"--target {q(pkg)} py-spy && mkdir -p {q(str(Path(dest).parent))} && "
        f"ln -sf {q(pkg + '/bin/py-spy')} {q(dest)} && {q(dest)} --version",
        check=False,
        timeout=PIP_TIMEOUT_S,
        what="pip install py-spy",
    )
    if res.ok:
        return dest, "installed with pip on the host"
    why_pip = (res.stdout + res.stderr).strip().splitlines()[-1:] or ["pip failed"]
    return _push(target, facts, dest, f"pip on the host failed ({why_pip[0]})")


def wheels_dir() -> Path:
    """Where the workstation keeps py-spy wheels, one per machine type."""
    return Path.home() / ".cache" / "labkit" / "wheels"


def host_wheel(arch: str) -> Path | None:
    """A py-spy wheel for ``arch`` (``aarch64``, ``x86_64``) on this workstation: one in
    ``~/.cache/labkit/wheels``, else downloaded there by pip (the workstation reaches
    PyPI when the board does not); None when neither works."""
    cache = wheels_dir()
    cache.mkdir(parents=True, exist_ok=True)
    found = sorted(cache.glob(f"py_spy-*{arch}*.whl"))
    if found:
        return found[-1]
    res = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--platform", f"manylinux2014_{arch}", "--python-version", "3", "--dest", str(cache),
         "py-spy"],
        capture_output=True, text=True, timeout=PIP_TIMEOUT_S, check=False,
    )  # fmt: skip
    found = sorted(cache.glob(f"py_spy-*{arch}*.whl"))
    return found[-1] if res.returncode == 0 and found else None


# run by the host's python3: take the py-spy binary out of a pushed wheel (no pip needed)
UNPACK = (
    "import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); "
    "n = [m for m in z.namelist() if m.endswith('.data/scripts/py-spy')][0]; "
    "open(sys.argv[2], 'wb').write(z.read(n))"
)


def _push(target, facts: dict, dest: str, why_not_pip: str) -> tuple[str | None, str]:
    """The workstation's own py-spy when the machine types match, else a py-spy wheel for
    the host's machine type, pushed and unpacked there."""
    q = shlex.quote
    mine = local_pyspy()
    arch = facts.get("arch") or ""
    target.run(f"mkdir -p {q(str(Path(dest).parent))}", what="tools dir")
    if mine is None or arch != platform.machine():
        wheel = host_wheel(arch) if arch else None
        if wheel is None:
            return None, (
                f"{why_not_pip}, and no py-spy wheel for {arch or 'its machine type'} could be "
                f"found or downloaded here: install py-spy on the host or put it at {dest}"
            )
        remote = f"{Path(dest).parent}/{wheel.name}"
        target.put(wheel.read_bytes(), remote)
        unpack = target.run(
            f"python3 -c {q(UNPACK)} {q(remote)} {q(dest)} && chmod 755 {q(dest)} && "
            f"rm -f {q(remote)} && {q(dest)} --version",
            check=False,
            what="unpack py-spy",
        )
        if not unpack.ok:
            return None, f"the pushed py-spy wheel did not unpack or run: {unpack.stderr.strip()}"
        return dest, f"pushed from this workstation as {wheel.name} ({why_not_pip})"
    target.put(mine.read_bytes(), dest, mode=0o755)
    check = target.run(f"{q(dest)} --version", check=False, what="py-spy --version")
    if not check.ok:
        return None, f"the pushed py-spy does not run on the host: {check.stderr.strip()}"
    return dest, f"pushed from this workstation ({why_not_pip})"
