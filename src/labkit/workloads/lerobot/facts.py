"""What the ``lerobot-record`` workload needs to know of a host: where lerobot-record is,
its Python and LeRobot's version (the preflight compares it with the plan's flags)."""

from __future__ import annotations

import shlex
from typing import Any

from labkit.core.facts import Fact

# the program on PATH unless the host says where (``labkit_lerobot_record``)
PROGRAM = "lerobot-record"

_LEROBOT = r"""p=$(command -v {prog}) || exit 0
echo "path=$p"
py=$(sed -n '1s/^#![[:space:]]*//p' "$p" | awk '{{print $1}}')
case "$py" in */env) py=$(sed -n '1p' "$p" | awk '{{print $2}}');; esac
case "$py" in *python*) ;; *) py=;; esac
echo "python=$py"
probe='import importlib.metadata as m; print(m.version("lerobot"))'
[ -n "$py" ] || exit 0
# the dist-info folder names the version; python (and a metadata scan) only if absent
v=$(ls -d "${{py%/bin/*}}"/lib/python3*/site-packages/lerobot-*.dist-info 2>/dev/null | head -n 1)
v=${{v##*/lerobot-}}; v=${{v%.dist-info}}
[ -n "$v" ] || v=$("$py" -c "$probe" 2>/dev/null)
printf 'version=%s\n' "$v"
true"""


def parse_lerobot(out: str, code: int) -> dict | None:
    """``path=…``, ``python=…``, ``version=…`` lines from our probe."""
    info = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    if not info.get("path"):
        return None
    return {
        "path": info["path"],
        "python": info.get("python") or None,
        "version": info.get("version") or None,
    }


def lerobot_fact(host: Any = None) -> Fact:
    """The ``lerobot`` fact for ``host`` (its ``labkit_lerobot_record``, else on PATH)."""
    prog = getattr(host, "labkit_lerobot_record", None) or PROGRAM
    return Fact("lerobot", lambda r, w: _LEROBOT.format(prog=shlex.quote(prog)), parse_lerobot)
