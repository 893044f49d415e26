"""The metric declaration: what a plug-in says about each number it computes.

Every per-run metric is declared once, by the workload or probe that computes it, with its
unit, its kind (what it measures, which decides the statistics and the interval's domain),
how the runs of one experiment combine, and which direction is better. The analysis, the
report and ``summary.csv`` read these declarations instead of guessing from names.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

# what a metric measures; the statistics follow from it:
# count     events in a run (>= 0): rates over exposure, count models (Poisson, over-dispersed)
# rate      events per minute (>= 0), the rate of the count metric ``count_of``
# share     a fraction in [0, 1]
# duration  a positive time (ms, s): log scale
# frequency a positive rate of a loop (Hz, fps): log scale
# flag      true/false per run
# value     any other number
# category  a label (a codec name): one value per experiment or "mixed"
Kind = Literal["count", "rate", "share", "duration", "frequency", "flag", "value", "category"]
# the values a metric can take, (low, high) with None for no limit, when its kind does not
# say: a CPU load in percent of one core is >= 0 (a process's may pass 100), one in percent
# of the whole machine lies in [0, 100]; ANY for a number that may well be negative
Domain = tuple[float | None, float | None]
NON_NEGATIVE: Domain = (0.0, None)
PCT_OF_A_CORE: Domain = (0.0, None)
PCT_OF_ALL: Domain = (0.0, 100.0)
ANY: Domain = (None, None)
# how the runs of one experiment combine into its row
Aggregate = Literal["mean", "min", "max", "sum", "categorical"]
Better = Literal["higher", "lower"]
# the key of a run's metrics that says, per metric left unknown (None), why it could not be
# computed from that run's logs, in one sentence: {metric name: sentence}
UNKNOWN = "_unknown"


@dataclass(frozen=True)
class Metric:
    """One per-run metric: its name, what it means and how to treat it."""

    name: str
    description: str
    unit: str = ""
    aggregate: Aggregate = "mean"
    # describes the late events themselves (slow-loop warnings, a workload's late event):
    # a run without any is left out instead of counting as unknown
    per_warning: bool = False
    source: str = ""  # the workload kind or probe that computes it
    kind: Kind = "value"
    better: Better | None = None
    # kind "rate": the count metric this is the per-minute rate of (its exposure is the
    # run's recorded time, metric ``duration_s``)
    count_of: str | None = None
    # the values it can take when ``kind`` does not say (kind "value"): an interval of it
    # stays inside (``bounds``); None: not declared
    domain: Domain | None = None
    # computed only through a workload's stage map (its function names -> loop stages, for
    # the py-spy profile): a workload without one has no such column
    needs_stages: bool = False
    # how a sentence of the report names it ("warnings per minute"); empty: its name
    label: str = ""
    # a headline number: with several runs, an experiment's row keeps its lowest and
    # highest run (``<name>_lo``, ``<name>_hi``) beside the combined value
    spread: bool = False

    @property
    def combine(self) -> Aggregate:
        return self.aggregate

    @property
    def bounds(self) -> tuple[float | None, float | None]:
        """The domain an interval of this metric must stay in (None: unbounded)."""
        if self.domain is not None:
            return self.domain
        if self.kind == "share":
            return 0.0, 1.0
        if self.kind in ("count", "rate", "duration", "frequency"):
            return 0.0, None
        if self.unit == "%":  # a load in percent (of one core, or of all)
            return 0.0, 100.0
        return None, None

    @property
    def is_floor(self) -> bool:
        """The lowest rate the loop ran at in a late event (LeRobot's ``min_hz``): a
        frequency that describes the late events, combined as the lowest of any run."""
        return self.per_warning and self.kind == "frequency" and self.aggregate == "min"

    @property
    def header(self) -> str:
        """The column header a table shows: the name with its unit."""
        return f"{self.name} [{self.unit}]" if self.unit else self.name


def declared(source: str, *metrics: Metric) -> dict[str, Metric]:
    """A plug-in's declarations by name, each stamped with the plug-in that computes it."""
    return {m.name: replace(m, source=source) for m in metrics}
