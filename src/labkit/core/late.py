"""Late events as a table (``Observed.late``): their times and the windows they cover.

Apart from ``labkit.core.observed`` because it needs pandas, which the run path (a
playbook read and planned) does not load.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def no_late_events() -> pd.DataFrame:
    """The late events of a run that had none (or a workload without a late event)."""
    return late_table([])


def late_table(times, start=None, end=None, hz=None) -> pd.DataFrame:
    """Late events from their times (the window each covers: ``start`` .. ``end``, the
    time itself when not given; ``hz``: NaN when not given)."""
    times = pd.to_datetime(pd.Series(times, dtype=object)).reset_index(drop=True)

    def col(values, default: pd.Series) -> pd.Series:
        return default if values is None else pd.Series(values).reset_index(drop=True)

    nan = pd.Series(np.nan, index=times.index, dtype=float)
    return pd.DataFrame(
        {
            "time": times,
            "start": pd.to_datetime(col(start, times)),
            "end": pd.to_datetime(col(end, times)),
            "hz": col(hz, nan).astype(float),
        }
    )
