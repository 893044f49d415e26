"""Verdicts on the playbook's hypotheses, decided by its checks on run metrics.

A check either holds, fails or cannot be decided (no runs, a metric the logs do not
give, repeats whose spread overlaps). What holding or failing means for the hypothesis
is the check's ``if_holds`` / ``if_fails``. A hypothesis is decided only when every one of
its checks decides, the same way; otherwise it is ``inconclusive`` (one undecided check
means the conclusion would rest on part of its evidence). The evidence carries the numbers.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import Any

from labkit.analysis.metrics import relative_change
from labkit.analysis.runs import RunData
from labkit.metric_names import PER_WARNING
from labkit.playbook import Check, Hypothesis

OPS = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
    "in": lambda a, b: a in b,
    "not_in": lambda a, b: a not in b,
}
OP_TEXT = {"eq": "=", "ne": "≠", "gt": ">", "ge": "≥", "lt": "<", "le": "≤", "in": "in"}
OP_TEXT["not_in"] = "not in"


@dataclass
class CheckResult:
    outcome: str  # supports | refutes | inconclusive
    evidence: str


@dataclass
class Verdict:
    id: str
    verdict: str  # supported | refuted | inconclusive
    evidence: str
    checks: list[CheckResult]

    def as_json(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "evidence": self.evidence}


def _value(run: RunData, metric: str) -> Any:
    return run.fact(metric) if metric.startswith("fact.") else run.metrics.get(metric)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _compare(check: Check, runs: list[RunData]) -> CheckResult:
    m = check.metric
    base = [_value(r, m) for r in runs if r.experiment == check.baseline]
    var = [_value(r, m) for r in runs if r.experiment == check.variant]
    for name, vals in ((check.baseline, base), (check.variant, var)):
        if not vals:
            return CheckResult("inconclusive", f"no complete run of {name}")
        if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in vals):
            return CheckResult("inconclusive", f"{m} is not available for every run of {name}")
    b, v = _mean(base), _mean(var)
    effect = relative_change(b, v)
    sign = -1 if check.expect == "lower" else 1
    holds = effect * sign >= check.min_effect
    n = f" (means of {len(var)} and {len(base)} runs)" if len(base) > 1 or len(var) > 1 else ""
    pct = "∞" if math.isinf(effect) else f"{effect:+.0%}"
    text = (
        f"{m}: {check.variant} {_fmt(v)} vs {check.baseline} {_fmt(b)}, {pct}{n}; "
        f"{'at least' if holds else 'less than'} the {sign * check.min_effect:+.0%} "
        f"this check needs"
    )
    if holds and len(base) > 1 and len(var) > 1:
        overlap = min(var) <= max(base) if check.expect == "lower" else max(var) >= min(base)
        if overlap:
            return CheckResult(
                "inconclusive",
                f"{text}, but the runs overlap ({check.variant} {_fmt(min(var))}–"
                f"{_fmt(max(var))}, {check.baseline} {_fmt(min(base))}–{_fmt(max(base))})",
            )
    return CheckResult(check.if_holds if holds else check.outcome_if_fails(), text)


def _every_run(check: Check, runs: list[RunData]) -> CheckResult:
    names = None if check.experiments == "all" else set(check.experiments)
    chosen = [r for r in runs if names is None or r.experiment in names]
    if not chosen:
        return CheckResult("inconclusive", f"no complete runs of {check.experiments}")
    cond = f"{check.metric} {OP_TEXT[check.op]} {_fmt(check.value)}"
    quiet = []
    if check.metric in PER_WARNING:  # runs without warnings have nothing to say here
        quiet = [r for r in chosen if r.metrics.get("warnings") == 0]
        chosen = [r for r in chosen if r not in quiet]
        if not chosen:
            return CheckResult("inconclusive", f"{check.metric}: no run has a warning")
    values = [(r, _value(r, check.metric)) for r in chosen]
    unknown = [r for r, v in values if v is None]
    if unknown:
        which = ", ".join(sorted({r.experiment for r in unknown}))
        return CheckResult("inconclusive", f"{check.metric} is unknown on runs of {which}")
    failing = [(r, v) for r, v in values if not OPS[check.op](v, check.value)]
    exps = ", ".join(sorted({r.experiment for r in chosen}))
    if not failing:
        note = f" ({check.note})" if check.note else ""
        seen = sorted({_fmt(v) for _, v in values})
        shown = ", ".join(seen[:6]) + (", …" if len(seen) > 6 else "")
        on = f"the {len(chosen)} run" if len(chosen) == 1 else f"all {len(chosen)} runs"
        skipped = f" ({len(quiet)} run(s) without warnings left out)" if quiet else ""
        return CheckResult(
            check.if_holds, f"{cond} on {on} of {exps}{note}; values: {shown}{skipped}"
        )
    bad = "; ".join(f"{r.experiment} {_fmt(v)}" for r, v in failing[:5])
    return CheckResult(
        check.outcome_if_fails(),
        f"{cond} fails on {len(failing)} of {len(chosen)} runs ({bad})",
    )


def judge(hypothesis: Hypothesis, runs: list[RunData]) -> Verdict:
    """The hypothesis's verdict from complete runs; evidence names every check's numbers."""
    results = [
        (_compare if c.kind == "compare" else _every_run)(c, runs) for c in hypothesis.checks
    ]
    outcomes = {r.outcome for r in results}
    decided = outcomes - {"inconclusive"}
    if len(decided) == 1 and "inconclusive" not in outcomes:
        verdict = {"supports": "supported", "refutes": "refuted"}[decided.pop()]
    else:
        verdict = "inconclusive"
    evidence = "; ".join(r.evidence for r in results)
    if len(decided) > 1:
        evidence = "checks disagree: " + evidence
    return Verdict(hypothesis.id, verdict, evidence, results)
