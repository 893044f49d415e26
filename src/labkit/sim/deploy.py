"""Put the simulator on a host the way pip puts LeRobot there.

``bundle()`` is a tar.gz of this package; ``install_script()`` is the shell script that
creates ``<workdir>/sim/venv`` (no pip, stdlib only), unpacks the bundle into its
site-packages with a ``lerobot-<version>.dist-info`` beside it, and writes console
scripts whose shebang is that venv's python — so labkit's facts find the lerobot version
on the simulated Jetson exactly as on a real one (``importlib.metadata`` through the
interpreter of ``lerobot-record``).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shlex
import tarfile
from pathlib import Path

from labkit.sim import TOOLS

PKG = Path(__file__).resolve().parent


def _files() -> list[Path]:
    """The simulator's modules, in the bundle's order."""
    return sorted(PKG.glob("*.py"))


def bundle() -> bytes:
    buf = io.BytesIO()
    # gzip stamps the time into its header unless told not to: mtime=0 keeps it stable
    with (
        gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        info = tarfile.TarInfo("labkit/__init__.py")
        info.size = 0
        info.mtime = 0
        tar.addfile(info, io.BytesIO(b""))
        for f in _files():
            data = f.read_bytes()
            info = tarfile.TarInfo(f"labkit/sim/{f.name}")
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def bundle_id(config: dict | None = None) -> str:
    """Changes when the simulator's code or its configuration changes: a hash of the
    files the bundle holds (not of the bundle, whose gzip took ~10 ms of every run's
    start to learn that nothing changed)."""
    h = hashlib.sha256()
    for f in _files():
        data = f.read_bytes()
        h.update(f"{f.name}\0{len(data)}\0".encode())
        h.update(data)
    h.update(json.dumps(config or {}, sort_keys=True).encode())
    return h.hexdigest()[:16]


def default_workdir(checkout: Path | None = None) -> str:
    """A local simulated host's work dir when the inventory names none: one per checkout
    (two checkouts on a machine never share a simulator, its lock or its runs)."""
    root = (checkout or PKG.parents[2]).resolve()
    return f"/tmp/labkit-sim-{hashlib.sha256(str(root).encode()).hexdigest()[:10]}"


def paths(workdir: str) -> dict[str, str]:
    base = f"{workdir.rstrip('/')}/sim"
    return {
        "base": base,
        "venv": f"{base}/venv",
        "bin": f"{base}/bin",
        "root": f"{base}/root",
        "stamp": f"{base}/installed",
    }


def install_script(
    workdir: str, python: str = "python3", config: dict | None = None, bundle_file: str = "-"
) -> str:
    """Shell script: venv, unpack the bundle (``bundle_file`` or stdin), scripts, root."""
    p = paths(workdir)
    q = {k: shlex.quote(v) for k, v in p.items()}
    cfg = config or {}
    version = str(cfg.get("lerobot_version", "0.4.4"))
    vpy = shlex.quote(f"{p['venv']}/bin/python")
    lines = [
        "set -e",
        f"mkdir -p {q['bin']} {q['root']}",
        f"[ -x {vpy} ] || {shlex.quote(python)} -m venv --without-pip {q['venv']}",
        f"site=$({vpy} -c 'import sysconfig; print(sysconfig.get_paths()[\"purelib\"])')",
        'rm -rf "$site/labkit" "$site"/lerobot-*.dist-info',
        f'tar -xzf {shlex.quote(bundle_file)} -C "$site"',
        f'mkdir -p "$site/lerobot-{version}.dist-info"',
        f"printf 'Metadata-Version: 2.1\\nName: lerobot\\nVersion: %s\\n' {shlex.quote(version)}"
        f' > "$site/lerobot-{version}.dist-info/METADATA"',
    ]
    for tool in TOOLS:
        script = (
            f"#!{p['venv']}/bin/python\n"
            "# labkit simulated Jetson: console script, like pip writes for lerobot-record\n"
            "import os\nimport sys\n"
            f"os.environ.setdefault('LABKIT_SIM_ROOT', {p['root']!r})\n"
            # marked as this board's process (what a simulated reboot ends): re-exec'd
            # with the mark when it was started without (a process's own environment)
            f"if os.environ.get('LABKIT_SIM_BOARD') != {p['root']!r}:\n"
            f"    os.environ['LABKIT_SIM_BOARD'] = {p['root']!r}\n"
            "    os.execv(sys.executable, [sys.executable, *sys.argv])\n"
            "from labkit.sim.__main__ import main\n"
            f"sys.argv[1:1] = [{tool!r}]\n"
            "sys.exit(main())\n"
        )
        lines.append(f"printf '%s' {shlex.quote(script)} > {q['bin']}/{tool}")
        lines.append(f"chmod +x {q['bin']}/{tool}")
    init = (
        "import json,sys; from pathlib import Path; from labkit.sim.root import init_root; "
        f"init_root(Path({p['root']!r}), json.loads(sys.argv[1]))"
    )
    lines.append(f"{vpy} -c {shlex.quote(init)} {shlex.quote(json.dumps(cfg))}")
    return "\n".join(lines) + "\n"
