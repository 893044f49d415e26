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

from labkit.analysis.configs import common_sets, repeat_command
from labkit.analysis.counts import rate_interval
from labkit.analysis.decide import (
    compare_runs,
    counts_of,
    is_count,
    metric_of,
    missing,
    pooled_dispersion,
)
from labkit.analysis.runs import RunData, without_late_events
from labkit.analysis.stats import ALPHA, MAX_RUNS_NEEDED, Comparison, effect_text, json_number
from labkit.analysis.unknown import unknown_sentence
from labkit.config.playbook import Check, Hypothesis
from labkit.core.metrics import Metric
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
EVERY_RUN = "each run's own value against the condition (no statistics: every run must meet it)"


@dataclass
class CheckResult:
    outcome: str  # supports | refutes | inconclusive
    evidence: str
    check: Check | None = None
    comparison: Comparison | None = None
    runs: list[str] = field(default_factory=list)  # the run ids the check looked at
    # the --set values (run length included) of the runs it looked at, for a follow-up
    sets: dict[str, Any] = field(default_factory=dict)
    # why the check could not be computed at all (one sentence; '' when it could)
    why: str = ""
    # how it was decided, as the report names it (a compare check: its comparison's)
    method: str = ""

    def __post_init__(self) -> None:
        if not self.method and self.comparison is not None:
            self.method = self.comparison.method

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
        if self.method:
            out["method"] = self.method
        if self.why:
            out["cannot_compute"] = self.why
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
                    f"would decide {chk.metric} at 80 % power at the spread seen "
                    f"({_more(chk, cmp, c.sets)})"
                )
            elif c.why:  # why it cannot be computed: one sentence, kept whole
                steps.append(c.why)
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


_num = json_number  # JSON has no NaN or infinity


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


def compare_check(
    check: Check,
    runs: list[RunData],
    metrics: dict[str, Metric] | None = None,
    alpha: float = ALPHA,
) -> CheckResult:
    m = check.metric
    chosen = {
        name: [r for r in runs if r.experiment == name] for name in (check.baseline, check.variant)
    }
    ids = _ids(chosen[check.baseline] + chosen[check.variant])
    for name, mine in chosen.items():
        if not mine:
            why = (
                f"no complete run of {name}: {m} of {check.variant} vs {check.baseline} "
                "needs at least one run a side"
            )
            return _cannot(why, check, ids)
    metric = metric_of(m, metrics)
    pooled = None
    if is_count(metric):  # the spread beyond Poisson, pooled over every experiment
        by_exp: dict[str, list[RunData]] = {}
        for r in runs:
            by_exp.setdefault(r.experiment, []).append(r)
        pooled = pooled_dispersion(metric, by_exp.values())
    c = compare_runs(
        metric, chosen[check.baseline], chosen[check.variant], check.expect,
        check.min_effect, pooled, alpha,
    )  # fmt: skip
    sets = common_sets(chosen[check.baseline] + chosen[check.variant])
    if isinstance(c, str):
        return CheckResult("inconclusive", c, check, runs=ids, sets=sets, why=c)
    need = f"{-check.min_effect if check.expect == 'lower' else check.min_effect:+.0%}"
    head = (
        f"{m}: {check.variant} {_fmt(c.mean_variant)} vs {check.baseline} "
        f"{_fmt(c.mean_baseline)}, {effect_text(c.effect)}"
    )
    lo, hi = c.effect_ci
    if c.single:
        runs_text = (
            "single run per experiment"
            if c.n_baseline == c.n_variant == 1
            else f"{c.n_variant} and {c.n_baseline} runs, one side a single run"
        )
        head += f" ({runs_text} — no spread"
        if not math.isnan(lo):
            head += f"; counts alone: {c.interval_text('exact Poisson 95 % CI')}"
        head += f"; {_more(check, c, sets)} to confirm)"
    else:
        what = "rates over" if is_count(metric) else "means of"
        head += (
            f" ({what} {c.n_variant} and {c.n_baseline} runs; "
            f"{c.interval_text(f'{(1 - alpha) * 100:.4g} % CI')}, p={_p(c.p_value)})"
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
        tail = c.reason + "; " + needed_sentence(c)
        outcome = "inconclusive"
    return CheckResult(outcome, f"{head}; {tail}", check, c, ids, sets)


def needed_sentence(c: Comparison) -> str:
    """The one runs-needed figure of a comparison, with its assumption."""
    if c.runs_needed:
        return f"at the spread seen, about {c.runs_needed} runs per side would decide at 80 % power"
    if c.mean_baseline:
        return f"more than {MAX_RUNS_NEEDED} runs per side would be needed to decide"
    return "no number of runs would decide it at the rates seen"


def _more(check: Check, c: Comparison, sets: dict[str, Any]) -> str:
    """The batch that adds runs like the ones compared (their length and --set values)."""
    n = max(c.runs_needed or 3, 2)
    return f"`{repeat_command([check.baseline, check.variant], sets, n)}`"


def _listed(experiments: Any) -> str:
    return "any experiment" if experiments == "all" else ", ".join(experiments)


def _named(pairs: list[tuple[RunData, Any]], limit: int = 6) -> str:
    shown = "; ".join(f"{r.experiment} {r.dir.name} {_fmt(v)}" for r, v in pairs[:limit])
    return shown + (f"; … {len(pairs) - limit} more" if len(pairs) > limit else "")


def _cannot(why: str, check: Check, ids: list[str] | None = None) -> CheckResult:
    """A check that cannot be computed, with the one sentence that says why."""
    return CheckResult("inconclusive", why, check, runs=ids or [], why=why)


def _every_run(
    check: Check, runs: list[RunData], metrics: dict[str, Metric] | None = None
) -> CheckResult:
    names = None if check.experiments == "all" else set(check.experiments)
    chosen = [r for r in runs if names is None or r.experiment in names]
    if not chosen:
        return _cannot(f"no complete run of {_listed(check.experiments)} to check", check)
    cond = f"{check.metric} {OP_TEXT[check.op]} {_fmt(check.value)}"
    metric = metric_of(check.metric, metrics)
    quiet = []
    if check.metric in PER_WARNING or metric.per_warning:  # runs without warnings: nothing
        quiet = [r for r in chosen if without_late_events(r)]
        chosen = [r for r in chosen if r not in quiet]
        if not chosen:
            why = f"{check.metric} describes the warnings and no run of them has one"
            return _cannot(why, check, _ids(quiet))
    values = [(r, _value(r, check.metric)) for r in chosen]
    ids = _ids(chosen)
    unknown = [r for r, v in values if v is None]
    if unknown:
        return _cannot(unknown_sentence(metric, unknown, of=len(chosen)), check, ids)
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
            method=EVERY_RUN,
        )
    return CheckResult(
        check.outcome_if_fails(),
        f"{cond} fails on {len(failing)} of {len(chosen)} runs ({_named(failing)})",
        check,
        runs=ids,
        method=EVERY_RUN,
    )


def _rate(check: Check, runs: list[RunData], metrics: dict[str, Metric] | None) -> CheckResult:
    """The rate pooled over the runs of ``check.experiments`` against ``value``, by its
    95 % interval (exact Poisson for one run; quasi-Poisson with the spread within the
    experiments otherwise): one short quiet run cannot flip it."""
    names = None if check.experiments == "all" else set(check.experiments)
    chosen = [r for r in runs if names is None or r.experiment in names]
    exps = ", ".join(sorted({r.experiment for r in chosen}))
    if not chosen:
        return _cannot(f"no complete run of {_listed(check.experiments)} to pool", check)
    metric = metric_of(check.metric, metrics)
    if not is_count(metric):
        why = f"{check.metric} is not a count or a rate of one, so it has no pooled rate"
        return _cannot(why, check, _ids(chosen))
    lacking = missing(metric, chosen)
    if lacking:
        return _cannot(lacking, check, _ids(chosen))
    side = counts_of(metric, chosen)
    if side.problem():
        return _cannot(f"{check.metric} over {exps}: {side.problem()}", check, _ids(chosen))
    by_exp: dict[str, list[RunData]] = {}
    for r in chosen:
        by_exp.setdefault(r.experiment, []).append(r)
    ci = rate_interval(side, pooled_dispersion(metric, by_exp.values()))
    rate, lo, hi, method = ci.rate, ci.lo, ci.hi, ci.method
    cond = f"{OP_TEXT[check.op]} {_fmt(check.value)}/min"
    head = (
        f"{check.metric} over {exps}: {_fmt(rate)}/min pooled over {side.n} runs "
        f"({_fmt(side.exposure)} min recorded), 95 % CI {_fmt(lo)} to {_fmt(hi)}"
    )
    above = check.op in ("gt", "ge")
    if OPS[check.op](lo if above else hi, check.value):
        note = f" ({check.note})" if check.note else ""
        return CheckResult(
            check.if_holds, f"{head}: {cond}{note}", check, runs=_ids(chosen), method=method
        )
    if not OPS[check.op](hi if above else lo, check.value):
        tail = f"the whole interval is not {cond}"
        return CheckResult(
            check.outcome_if_fails(), f"{head}: {tail}", check, runs=_ids(chosen), method=method
        )
    tail = f"the interval straddles {_fmt(check.value)}/min: more runs would decide"
    return CheckResult("inconclusive", f"{head}; {tail}", check, runs=_ids(chosen), method=method)


def judge(
    hypothesis: Hypothesis,
    runs: list[RunData],
    metrics: dict[str, Metric] | None = None,
    alpha: float = ALPHA,
) -> Verdict:
    """The hypothesis's verdict from complete runs; evidence names every check's numbers.
    ``metrics``: the playbook's metric declarations (default: the built-in registry);
    ``alpha``: 1 - the level of compare intervals (a sequential look uses a share of 5 %)."""
    results = [
        compare_check(c, runs, metrics, alpha)
        if c.kind == "compare"
        else _rate(c, runs, metrics)
        if c.kind == "rate"
        else _every_run(c, runs, metrics)
        for c in hypothesis.checks
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
