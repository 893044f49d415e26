"""``invoke report``: the run store in, the investigation report out.

Everything the report states is computed here from the runs: the per-experiment table,
the verdicts, the ranking of changes, the recommendation and the figures. Only prose comes
from the playbook (titles, questions, conclusions, scope, follow-ups). The report, its
figures and data files are built in a temp folder beside the output and moved into place
at the end, so a failed build leaves the previous report whole.
"""

from __future__ import annotations

import csv
import inspect
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.analysis.configs import common_sets, group_runs, main_runs, repeat_command
from labkit.analysis.decide import RULES
from labkit.analysis.effects import (
    baseline_of,
    best,
    check_bars,
    diff,
    effects,
    label,
    ranking_metric,
    short_label,
)
from labkit.analysis.experiments import column_header, columns, group_rows
from labkit.analysis.hypotheses import judge
from labkit.analysis.metrics import rounded
from labkit.analysis.observer import observer_effects
from labkit.analysis.runs import Fetch, RunData, load_runs
from labkit.analysis.stats import MEAN_METHOD, POINT
from labkit.analysis.validity import threats
from labkit.config.playbook import Playbook
from labkit.core.metrics import Metric
from labkit.errors import LabkitError
from labkit.records.store import Unreadable, provenance
from labkit.registry import PROBES, plugin_facts
from labkit.report import deep
from labkit.report.figures import draw
from labkit.report.render import render


@dataclass
class ReportResult:
    markdown: Path
    folder: Path
    runs_used: int
    runs_left_out: list[RunData] = field(default_factory=list)
    verdicts: dict[str, str] = field(default_factory=dict)
    recommended: str | None = None


def verdict_lines(ctx: dict[str, Any]) -> list[str]:
    """What the report decided, for the terminal: one line per hypothesis, then the
    recommendation (the report itself has the evidence)."""
    lines = []
    for item in ctx["hypotheses"]:
        h, v = item["h"], item["v"]
        step = v.next_step() if v.verdict == "inconclusive" else ""
        lines.append(f"  {h.id} {v.verdict}: {h.title}" + (f" (next: {step})" if step else ""))
    if ctx["unreadable"]:
        lines.append(f"  {len(ctx['unreadable'])} run(s) could not be read: listed in the report")
    rec = ctx.get("recommendation")
    if rec is None:
        lines.append("recommendation: none yet (no runs to compare)")
    elif rec["is_baseline"]:
        lines.append(
            f"recommendation: keep the baseline {ctx['baseline']}; no tested change is "
            "confirmed to beat it"
        )
    else:
        changes = "; ".join(rec["changes"])
        lines.append(
            f"recommendation: {rec['row']['experiment']}" + (f" ({changes})" if changes else "")
        )
    for e in rec["undecided"] if rec else []:
        decide = f"; about {e.runs_needed} runs per side would decide" if e.runs_needed else ""
        lines.append(f"  not recommended yet: {e.experiment}, {e.change_text}{decide}")
    return (["verdicts:"] if ctx["hypotheses"] else []) + lines


def _write_csv(path: Path, rows: list[dict[str, Any]], metrics: dict) -> None:
    """One row per experiment and configuration; each metric's unit in its header."""
    cols = columns(metrics)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow([column_header(c, metrics) for c in cols])
        for row in rows:
            shown = rounded(row)
            w.writerow(["" if shown.get(c) is None else shown[c] for c in cols])


def _foreign_tools(pb: Playbook) -> set[str]:
    """The facts of the registered plug-ins this playbook does not use (another kind's
    program, a probe none of its experiments runs): the host line leaves them out (runs
    recorded before a run gathered only its own plug-ins' facts have them all)."""
    used = {p for names in pb.probes.values() for p in names}
    own = (type(pb.workload), *(PROBES[p] for p in used if p in PROBES))
    return {f.name for f in plugin_facts(None)} - {f.name for c in own for f in c.facts(None)}


def _setup(runs: list[RunData], foreign: set[str]) -> list[str]:
    """One line per host: what it is, from the facts gathered at run time; the versions
    of the playbook's own workload and probes, not of plug-ins it does not use
    (``foreign``)."""
    lines = []
    for host in sorted({r.host for r in runs}):
        mine = [r for r in runs if r.host == host]
        facts = next((r.manifest.facts for r in mine if r.manifest.facts), None)
        if not facts:
            how = "imported hand-run logs" if mine[0].manifest.imported else "no facts"
            lines.append(f"`{host}`: {how}")
            continue
        parts = []
        l4t = facts.get("l4t") or {}
        if l4t.get("board") or l4t.get("major"):
            parts.append(f"L4T R{l4t.get('major')}.{l4t.get('revision')} {l4t.get('board') or ''}")
        if (facts.get("nvpmodel") or {}).get("name"):
            parts.append(f"nvpmodel {facts['nvpmodel']['name']}")
        cpus = facts.get("cpu") or {}
        if cpus.get("count"):
            govs = cpus.get("governors") or []
            govs = "/".join(sorted(set(govs.values() if isinstance(govs, dict) else govs)))
            parts.append(f"{cpus['count']} CPUs" + (f" ({govs})" if govs else ""))
        for name, fact in facts.items():  # its plug-ins' tools (lerobot, gstreamer, ...)
            if name in foreign or name in ("l4t", "cpu") or not isinstance(fact, dict):
                continue
            if fact.get("version"):
                parts.append(f"{name} {fact['version']}")
        if facts.get("kernel"):
            parts.append(f"kernel {facts['kernel']}")
        conn = mine[0].manifest.host.connection
        if conn:
            parts.append(f"via {conn}")
        lines.append(f"`{host}`: " + ", ".join(p.strip() for p in parts if p.strip()))
    return lines


def _context(pb: Playbook, used: list[RunData], left_out: list[RunData]) -> dict:
    order = list(pb.experiments)
    pb.with_found_metrics([r.metrics for r in used])
    groups = group_runs(used, pb)
    judged = main_runs(groups)  # the playbook's own configurations: checks, causes, advice
    all_rows = group_rows(groups, order, metrics=pb.metrics)
    for row in all_rows:
        exp = pb.experiments.get(row["experiment"])
        row["description"] = exp.description if exp else ""
    rows = [r for r in all_rows if r["main"]]
    other_rows = [r for r in all_rows if not r["main"]]
    hosts = sorted({r.host for r in used})
    host_rows = group_rows(groups, order, True, pb.metrics) if len(hosts) > 1 else []
    verdicts = [judge(h, judged, pb.metrics) for h in pb.model.hypotheses]
    hyps = []
    for h, v in zip(pb.model.hypotheses, verdicts, strict=True):
        conclusion = {
            "supported": h.conclusion_if_supported,
            "refuted": h.conclusion_if_refuted,
        }.get(v.verdict, "The runs so far do not decide this hypothesis.")
        hyps.append({"h": h, "v": v, "conclusion": conclusion})
    baseline = baseline_of(pb)
    mains = {g.experiment: g for g in groups if g.main}
    # changes are ranked by the workload's late events per minute (LeRobot: warnings)
    cause = ranking_metric(pb.metrics, pb.workload.headline_metrics())
    bars = check_bars(pb, baseline, cause) if cause else {}
    ranked = effects(groups, baseline, cause, bars, pb.metrics) if cause else []
    top = best(rows, ranked, baseline, cause, pb.metrics) if cause else None
    rec = None
    if top is not None:
        base_cfg = mains[baseline].config if baseline in mains else {}
        rec = {
            "row": top,
            "changes": diff(base_cfg, mains[top["experiment"]].config),
            "is_baseline": top["experiment"] == baseline,
            "baseline_row": next((r for r in rows if r["experiment"] == baseline), None),
            "config": mains[top["experiment"]].config,
            "reproduce": top["reproduce"],
            # repeats like the runs compared: their run length and --set values
            "confirm": repeat_command(
                [baseline, top["experiment"]],
                common_sets(
                    (mains[baseline].runs if baseline in mains else [])
                    + mains[top["experiment"]].runs
                ),
            ),
            "undecided": [e for e in ranked if e.rank == "undecided" and e.relative < 0],
            "caveats": [
                item
                for item in hyps
                if item["v"].verdict != "supported"
                and any(
                    c.kind == "compare" and c.variant == top["experiment"] for c in item["h"].checks
                )
            ],
        }
    untested = [n for n in order if n not in {r["experiment"] for r in rows}]
    # run, but only in other configurations (--set values): not "not run yet"
    elsewhere = {r["experiment"] for r in other_rows}
    other_only = [n for n in untested if n in elsewhere]
    untested = [n for n in untested if n not in elsewhere]
    observing = observer_effects(
        groups,
        pb.workload.headline_metrics(),
        pb.metrics,
        order,
        {n: pb.probes_for(n) for n in order},
    )
    return {
        "pb": pb,
        "report": pb.model.report,
        "generated_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "labkit": provenance(),
        "setup": _setup(used + left_out, _foreign_tools(pb)),
        "rows": rows,
        "other_rows": other_rows,
        "all_rows": all_rows,
        "host_rows": host_rows,
        "hosts": hosts,
        "hypotheses": hyps,
        "verdicts": verdicts,
        "baseline": baseline,
        "effects": ranked,
        "recommendation": rec,
        "untested": untested,
        "other_only": other_only,
        "threats": threats(groups, used),
        "workload": pb.workload,
        "metrics": pb.metrics,
        "metric_tables": _metric_tables(pb, rows),
        "headline": pb.workload.headline_metrics(),
        "run_columns": pb.workload.run_metrics_shown(),
        "setup_columns": list(pb.workload.setup_columns),
        "probes_of": {n: pb.probes_for(n) for n in order},
        # root cause and recommendation: for a workload whose late events have a rate
        "ranks_causes": cause is not None,
        "cause_metric": cause,
        "cause_label": label(cause, pb.metrics) if cause else "",
        "cause_short": short_label(cause, pb.metrics) if cause else "",
        # what the recommended configuration recorded, in the workload's words (else the
        # skeleton's line on the ranking metric)
        "workload_outcome": (
            f"workload/{pb.workload.report_outcome}" if pb.workload.report_outcome else None
        ),
        "observer": observing,
        "methods": {"mean": MEAN_METHOD, "compare": RULES, "single": POINT},
        "runs": used,
        "judged": judged,
        "left_out": left_out,
        "glossary": glossary(pb, rows, hyps, cause),
    }


def glossary(
    pb: Playbook, rows: list[dict[str, Any]], hyps: list[dict[str, Any]], cause: str | None
) -> list[Metric]:
    """The declared metrics this report names (in its tables, checks and ranking), in the
    registry's order: a reader gets each one's meaning, unit, kind and better direction
    from the plug-in that computes it, not from its column name."""
    named = set(pb.workload.headline_metrics()) | set(pb.workload.run_metrics_shown())
    named |= set(pb.workload.setup_columns)
    named |= {c.metric for item in hyps for c in item["h"].checks if c.metric}
    named |= {n for t in _metric_tables(pb, rows) for n in t["metrics"]}
    if cause:
        named.add(cause)
    return [m for n, m in pb.metrics.items() if n in named]


def _metric_tables(pb: Playbook, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The per-experiment tables of declared metrics, one per plug-in (the workload's,
    unless its own section shows them, then each probe's): the metrics some experiment
    has, the experiments that have some of them."""
    sources = [pb.workload.kind] if pb.workload.report_metrics_table else []
    sources += [p for p in PROBES if any(m.source == p for m in pb.metrics.values())]
    tables = []
    for source in sources:
        names = [n for n, m in pb.metrics.items() if m.source == source]
        shown = [n for n in names if any(r.get(n) is not None for r in rows)]
        if not shown:
            continue
        what = "workload" if source == pb.workload.kind else "probe"
        tables.append(
            {
                "title": f"The {what} `{source}`'s metrics",
                "metrics": shown,
                "rows": [r for r in rows if any(r.get(n) is not None for n in shown)],
            }
        )
    return tables


def _sections(pb: Playbook) -> tuple[str | None, list[str], dict[str, Path]]:
    """The template files the workload and the probes contribute: the workload's name,
    the probes' names, and the folder of each name's prefix (a plug-in's package)."""
    dirs: dict[str, Path] = {}
    workload = None
    if pb.workload.report_section or pb.workload.report_outcome:
        dirs["workload"] = Path(inspect.getfile(type(pb.workload))).parent
    if pb.workload.report_section:
        workload = f"workload/{pb.workload.report_section}"
    probes = []
    used = {p for n in pb.experiments for p in pb.probes_for(n)}
    for name, probe in PROBES.items():
        if name not in used:
            continue
        if probe.report_section:
            dirs[f"probe-{name}"] = Path(inspect.getfile(probe)).parent
            probes.append(f"probe-{name}/{probe.report_section}")
    return workload, probes, dirs


DEFAULT_PLAYBOOK = Path("playbooks/lerobot-loop-lag.yml")


def with_playbook(text: str, pb: Playbook) -> str:
    """The commands the report suggests (`invoke experiment ...`, `invoke batch ...`) name
    the playbook when it is not the default one, so they can be pasted as they are."""
    file = Path(pb.file).resolve()
    if file == (Path.cwd() / DEFAULT_PLAYBOOK).resolve() or file.name == DEFAULT_PLAYBOOK.name:
        return text
    try:
        shown = file.relative_to(Path.cwd())
    except ValueError:
        shown = file
    opt = f"--playbook {shown}"
    for task in ("experiment", "batch"):
        text = text.replace(f"`invoke {task} ", f"`invoke {task} {opt} ")
    return text


def build_report(
    pb: Playbook,
    runs_dir: Path,
    out_dir: Path,
    template: Path | None = None,
    include_incomplete: bool = False,
    log=print,
    fetch: Fetch | None = None,
) -> ReportResult:
    """Render ``<out>/<playbook>.md`` and ``<out>/<playbook>/`` (figures, CSV, JSON);
    ``fetch``: what downloads a mirrored run's logs before they are read."""
    unreadable: list[Unreadable] = []
    runs = load_runs(runs_dir, pb.name, unreadable=unreadable, fetch=fetch)
    # a record that cannot be read names no playbook: its folder names the experiment
    unreadable = [u for u in unreadable if u.experiment in pb.experiments]
    if not runs:
        cannot = "".join(f"; {u.path} could not be read ({u.reason})" for u in unreadable)
        raise LabkitError(
            f"no runs of playbook {pb.name!r} in {runs_dir}{cannot}; run `invoke experiment` "
            f"or `invoke batch`, or bring hand-run logs in with `invoke import --logs DIR`"
        )
    used = [r for r in runs if include_incomplete or r.complete]
    kept = {id(r) for r in used}  # by identity: comparing runs field by field is O(n²)
    left_out = [r for r in runs if id(r) not in kept]
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{pb.name}.", dir=out_dir))
    try:
        folder = tmp / pb.name
        folder.mkdir()
        ctx = _context(pb, used, left_out)
        ctx["unreadable"] = unreadable  # listed, never "not run yet"
        seen = {u.experiment for u in unreadable}
        ctx["untested"] = [n for n in ctx["untested"] if n not in seen]
        ctx["folder"] = pb.name
        ctx["figures"], ctx["figure_notes"] = draw(pb.workload.report_figures, ctx, folder)
        # the threads probe's section: where the loop's time goes, by the workload's stages
        stages = pb.workload.stage_map
        ctx["deep"] = deep.context(ctx["rows"], ctx["judged"], stages) if stages else None
        ctx["deep_figures"] = deep.figures(ctx["judged"], folder, stages) if ctx["deep"] else []
        ctx["workload_section"], ctx["probe_sections"], plugin_dirs = _sections(pb)
        _write_csv(folder / "summary.csv", ctx["all_rows"], pb.metrics)
        if ctx["host_rows"]:
            _write_csv(folder / "summary-by-host.csv", ctx["host_rows"], pb.metrics)
        hyp = {v.id: v.as_json() for v in ctx["verdicts"]}
        (folder / "hypotheses.json").write_text(with_playbook(json.dumps(hyp, indent=2), pb) + "\n")
        observer = [e.as_json() for e in ctx["observer"]]
        (folder / "observer.json").write_text(json.dumps(observer, indent=2) + "\n")
        threats = [t.as_json() for t in ctx["threats"]]
        (folder / "threats.json").write_text(json.dumps(threats, indent=2) + "\n")
        text = render(ctx, template, plugin_dirs)
        (tmp / f"{pb.name}.md").write_text(with_playbook(text, pb))
        final_md, final_dir = out_dir / f"{pb.name}.md", out_dir / pb.name
        old = tmp / ".previous"
        if final_dir.exists():
            os.rename(final_dir, old)
        try:
            os.rename(folder, final_dir)
        except OSError:
            if old.exists():
                os.rename(old, final_dir)  # the previous report stays whole
            raise
        os.replace(tmp / f"{pb.name}.md", final_md)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rec = ctx["recommendation"]
    for r in left_out:
        log(f"left out: {r.experiment} {r.dir.name} ({r.status})")
    log(f"report: {final_md} ({len(used)} runs, figures and data in {final_dir}/)")
    for line in verdict_lines(ctx):
        log(line)
    return ReportResult(
        final_md,
        final_dir,
        len(used),
        left_out,
        {v.id: v.verdict for v in ctx["verdicts"]},
        rec["row"]["experiment"] if rec else None,
    )
