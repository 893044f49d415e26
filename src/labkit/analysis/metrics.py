"""The helpers the report shares for per-run metrics (rounding).

Each metric is computed by the plug-in that declares it (its ``run_metrics``), and a run
is measured by all of them in ``labkit.measure``.
"""

from __future__ import annotations

import math
from typing import Any


def rounded(metrics: dict[str, Any], digits: int = 3) -> dict[str, Any]:
    """For tables and JSON: floats rounded, NaN as None."""
    out = {}
    for k, v in metrics.items():
        if isinstance(v, float):
            v = None if math.isnan(v) else round(v, digits)
        out[k] = v
    return out
