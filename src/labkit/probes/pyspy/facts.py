"""Where py-spy is on a host, for the ``pyspy`` probe (and the ``threads`` probe's thread
names): labkit's own copy in the work dir, else one on PATH."""

from __future__ import annotations

import shlex

from labkit.core.facts import Fact, parse_which

# labkit's own py-spy, below the host's work dir (``invoke setup-host`` or first use)
PYSPY_IN_WORKDIR = "/tools/bin/py-spy"
_PYSPY = 'p={tool}; [ -x "$p" ] || p=$(command -v py-spy) || exit 1; [ -x "$p" ] && echo "$p"'

PYSPY_FACT = Fact(
    "pyspy",
    lambda r, w: _PYSPY.format(tool=shlex.quote(w.rstrip("/") + PYSPY_IN_WORKDIR)),
    parse_which,
)
