"""What the ``gstreamer`` workload needs to know of a host: GStreamer's version and the
elements it has (the preflight names a pipeline's missing element and its package)."""

from __future__ import annotations

import re

from labkit.core.facts import Fact

_GST = "command -v gst-launch-1.0 >/dev/null || exit 1; gst-launch-1.0 --version; gst-inspect-1.0"


def parse_gstreamer(out: str, code: int) -> dict | None:
    """``gst-launch-1.0 --version`` then ``gst-inspect-1.0`` (``plugin:  element: what``
    lines) -> the version and the element names the host knows."""
    if code != 0:
        return None
    version = re.search(r"^GStreamer (\S+)", out, re.M)
    elements = sorted(set(re.findall(r"^[\w.-]+:\s+([\w+-]+):\s", out, re.M)))
    return {"version": version.group(1) if version else None, "elements": elements}


GSTREAMER_FACT = Fact("gstreamer", lambda r, w: _GST, parse_gstreamer)
