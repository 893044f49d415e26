"""Where py-spy is on a host, for the ``pyspy`` probe (and the ``threads`` probe's thread
names): labkit's own copy in the work dir, else one on PATH."""

from __future__ import annotations

import shlex

from labkit.core.facts import Fact, parse_which
from labkit.probes.tools import PYSPY_IN_WORKDIR

_PYSPY = 'p={tool}; [ -x "$p" ] || p=$(command -v py-spy) || exit 1; [ -x "$p" ] && echo "$p"'

PYSPY_FACT = Fact(
    "pyspy",
    lambda r, w: _PYSPY.format(tool=shlex.quote(w.rstrip("/") + PYSPY_IN_WORKDIR)),
    parse_which,
)
