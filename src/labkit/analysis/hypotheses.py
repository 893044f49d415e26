"""Verdicts on the playbook's hypotheses, decided by its checks on run metrics.

A check either holds, fails or cannot be decided (no runs, a metric the logs do not
give, a ``compare`` whose 95 % interval straddles its threshold -- ``labkit.analysis.stats``
is the one rule). What holding or failing means for the hypothesis
is the check's ``if_holds`` / ``if_fails``. A hypothesis is decided only when every one of
its checks decides, the same way; otherwise it is ``inconclusive`` (one undecided check
means the conclusion would rest on part of its evidence). The evidence carries the numbers.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from typing import Any

from labkit.analysis.runs import RunData
from labkit.analysis.stats import MAX_RUNS_NEEDED, Comparison, compare, pct
from labkit.config.playbook import Check, Hypothesis
from labkit.metric_names import PER_WARNING

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
    check: Check | None = None
    comparison: Comparison | None = None
    runs: list[str] = field(default_factory=list)  # the run ids the check looked at

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"verdict": self.outcome, "evidence": self.evidence}
        if self.check is not None:
            out |= {"kind": self.check.kind, "metric": self.check.metric}
        c = self.comparison
        if self.check is not None and self.check.kind == "compare":
            out |= {"baseline": self.check.baseline, "variant": self.check.variant}
            out |= {"expect": self.check.expect, "min_effect": self.check.min_effect}
            out |= dict.fromkeys(
                ("n_baseline", "n_variant", "effect", "effect_ci", "p_value", "method")
            )
        if c is not None:
            out |= {
                "n_baseline": c.n_baseline,
                "n_variant": c.n_variant,
                "mean_baseline": _num(c.mean_baseline),
                "mean_variant": _num(c.mean_variant),
                "effect": _num(c.effect),
                "effect_ci": [_num(c.effect_ci[0]), _num(c.effect_ci[1])],
                "p_value": _num(c.p_value),
                "method": c.method,
                "runs_needed": c.runs_needed,
            }
        out["runs"] = self.runs
        return out


@dataclass
class Verdict:
    id: str
    verdict: str  # supported | refuted | inconclusive
    evidence: str
    checks: list[CheckResult]

    def next_step(self) -> str:
        """For an undecided hypothesis: what would decide it, in one line."""
        steps = []
        for c in self.checks:
            if c.outcome != "inconclusive":
                continue
            cmp, chk = c.comparison, c.check
            if cmp is not None and chk is not None and cmp.runs_needed:
                steps.append(
                    f"about {cmp.runs_needed} runs each of {chk.baseline} and {chk.variant} "
                    f"would decide {chk.metric} (`invoke batch --only {chk.baseline},"
                    f"{chk.variant} --repeat {cmp.runs_needed}`)"
                )
            else:
                text = c.evidence
                steps.append(text if len(text) <= 160 else text[:159] + "…")
        return "; ".join(steps)

    def as_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "evidence": self.evidence,
            "checks": [c.as_json() for c in self.checks],
        }


def _num(v: float) -> float | str | None:
    """JSON has no NaN or infinity: NaN is null, infinities are spelt out."""
    if v is None or math.isnan(v):
        return None
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return round(float(v), 6)


def _value(run: RunData, metric: str) -> Any:
    return run.fact(metric) if metric.startswith("fact.") else run.metrics.get(metric)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def _p(p: float) -> str:
    return "n/a (no spread)" if math.isnan(p) else f"{p:.2g}"


def _ids(runs: list[RunData]) -> list[str]:
    return [r.dir.name for r in runs]


def _compare(check: Check, runs: list[RunData]) -> CheckResult:
    m = check.metric
    chosen = {
        name: [r for r in runs if r.experiment == name] for name in (check.baseline, check.variant)
    }
    ids = _ids(chosen[check.baseline] + chosen[check.variant])
    values = {}
    for name, mine in chosen.items():
        if not mine:
            return CheckResult("inconclusive", f"no complete run of {name}", check, runs=ids)
        vals = [_value(r, m) for r in mine]
        if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in vals):
            return CheckResult(
                "inconclusive", f"{m} is not available for every run of {name}", check, runs=ids
            )
        values[name] = [float(v) for v in vals]
    c = compare(values[check.baseline], values[check.variant], check.expect, check.min_effect)
    need = f"{-check.min_effect if check.expect == 'lower' else check.min_effect:+.0%}"
    head = (
        f"{m}: {check.variant} {_fmt(c.mean_variant)} vs {check.baseline} "
        f"{_fmt(c.mean_baseline)}, {pct(c.effect)}"
    )
    if c.single:
        runs_text = (
            "single run per experiment"
            if c.n_baseline == c.n_variant == 1
            else f"{c.n_variant} and {c.n_baseline} runs, one side a single run"
        )
        head += f" ({runs_text} — no spread; `invoke batch --repeat 3` to confirm)"
    else:
        lo, hi = c.effect_ci
        head += (
            f" (means of {c.n_variant} and {c.n_baseline} runs; 95 % CI {pct(lo)} to "
            f"{pct(hi)}, Welch p={_p(c.p_value)})"
        )
    if c.outcome == "holds":
        tail = (
            f"at least the {need} this check needs"
            if c.single
            else f"the whole interval lies beyond the {need} this check needs"
        )
        outcome = check.if_holds
    elif c.outcome == "fails":
        tail = (
            f"less than the {need} this check needs"
            if c.single
            else f"the whole interval falls short of the {need} this check needs"
        )
        outcome = check.outcome_if_fails()
    else:
        tail = c.reason
        if c.runs_needed:
            tail += f"; about {c.runs_needed} runs per side would decide at the spread seen"
        elif c.mean_baseline != 0:
            tail += f"; more than {MAX_RUNS_NEEDED} runs per side would be needed to decide"
        outcome = "inconclusive"
    return CheckResult(outcome, f"{head}; {tail}", check, c, ids)


def _named(pairs: list[tuple[RunData, Any]], limit: int = 6) -> str:
    shown = "; ".join(f"{r.experiment} {r.dir.name} {_fmt(v)}" for r, v in pairs[:limit])
    return shown + (f"; … {len(pairs) - limit} more" if len(pairs) > limit else "")


def _every_run(check: Check, runs: list[RunData]) -> CheckResult:
    names = None if check.experiments == "all" else set(check.experiments)
    chosen = [r for r in runs if names is None or r.experiment in names]
    if not chosen:
        return CheckResult("inconclusive", f"no complete runs of {check.experiments}", check)
    cond = f"{check.metric} {OP_TEXT[check.op]} {_fmt(check.value)}"
    quiet = []
    if check.metric in PER_WARNING:  # runs without warnings have nothing to say here
        quiet = [r for r in chosen if r.metrics.get("warnings") == 0]
        chosen = [r for r in chosen if r not in quiet]
        if not chosen:
            return CheckResult(
                "inconclusive", f"{check.metric}: no run has a warning", check, runs=_ids(quiet)
            )
    values = [(r, _value(r, check.metric)) for r in chosen]
    ids = _ids(chosen)
    unknown = [r for r, v in values if v is None]
    if unknown:
        which = ", ".join(f"{r.experiment} {r.dir.name}" for r in unknown[:6])
        return CheckResult(
            "inconclusive", f"{check.metric} is unknown on runs {which}", check, runs=ids
        )
    failing = [(r, v) for r, v in values if not OPS[check.op](v, check.value)]
    exps = ", ".join(sorted({r.experiment for r in chosen}))
    if not failing:
        note = f" ({check.note})" if check.note else ""
        on = f"the {len(chosen)} run" if len(chosen) == 1 else f"all {len(chosen)} runs"
        skipped = f" ({len(quiet)} run(s) without warnings left out)" if quiet else ""
        return CheckResult(
            check.if_holds,
            f"{cond} on {on} of {exps}{note}; values: {_named(values)}{skipped}",
            check,
            runs=ids,
        )
    return CheckResult(
        check.outcome_if_fails(),
        f"{cond} fails on {len(failing)} of {len(chosen)} runs ({_named(failing)})",
        check,
        runs=ids,
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
