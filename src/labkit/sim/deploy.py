"""Put the simulator on a host: the package, the wrappers, the simulated root.

``bundle()`` is a tar.gz of this package; ``install_script()`` is the shell script that
unpacks it (read from stdin) into ``<workdir>/sim`` and writes the wrappers, so the same
two pieces deploy locally and over SSH.
"""

from __future__ import annotations

import io
import json
import shlex
import tarfile
from pathlib import Path

TOOLS = ("tegrastats", "lerobot-record", "nvpmodel", "jetson_clocks")
PKG = Path(__file__).resolve().parent


def bundle() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("labkit/__init__.py")
        info.size = 0
        tar.addfile(info, io.BytesIO(b""))
        for f in sorted(PKG.glob("*.py")):
            tar.add(f, arcname=f"labkit/sim/{f.name}")
    return buf.getvalue()


def paths(workdir: str) -> dict[str, str]:
    base = f"{workdir.rstrip('/')}/sim"
    return {"base": base, "lib": f"{base}/lib", "bin": f"{base}/bin", "root": f"{base}/root"}


def install_script(workdir: str, python: str = "python3", config: dict | None = None) -> str:
    """Shell script: unpack the bundle from stdin, write wrappers, create the root."""
    p = paths(workdir)
    q = {k: shlex.quote(v) for k, v in p.items()}
    lines = [
        "set -e",
        f"mkdir -p {q['lib']} {q['bin']} {q['root']}",
        f"rm -rf {q['lib']}/labkit",
        f"tar -xzf - -C {q['lib']}",
    ]
    for tool in TOOLS:
        wrapper = (
            f"#!/bin/sh\nLABKIT_SIM_ROOT={q['root']} PYTHONPATH={q['lib']} "
            f'exec {shlex.quote(python)} -m labkit.sim {tool} "$@"\n'
        )
        lines.append(f"printf '%s' {shlex.quote(wrapper)} > {q['bin']}/{tool}")
        lines.append(f"chmod +x {q['bin']}/{tool}")
    init = (
        f"import json,sys; from pathlib import Path; from labkit.sim.root import init_root; "
        f"init_root(Path({p['root']!r}), json.loads(sys.argv[1]))"
    )
    lines.append(
        f"PYTHONPATH={q['lib']} {shlex.quote(python)} -c {shlex.quote(init)} "
        f"{shlex.quote(json.dumps(config or {}))}"
    )
    return "\n".join(lines) + "\n"
