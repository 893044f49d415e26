"""Markdown from the report context with Jinja2: the shipped template or the user's own.

One skeleton for every workload; the sections a workload or a probe contributes are
template files in its package, found under a prefix (``workload/report.md.j2``,
``probe-pyspy/report.md.j2``) and included with the same context. The environment is
strict (an unknown name in a template is an error, not an empty string) and a template
error names the template file and line.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import jinja2

from labkit.errors import LabkitError

SHIPPED = Path(__file__).parent / "templates" / "report.md.j2"


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def num(value: Any, digits: int = 3) -> str:
    """A table cell: ints as they are, floats to ``digits`` significant figures, — if none."""
    if _missing(value):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 10**digits else f"{value:.0f}"
    return str(value)


def hz(value: Any) -> str:
    """Loop rates as LeRobot prints them: one decimal."""
    if _missing(value):
        return "—"
    return f"{value:.1f}"


def pct(value: Any) -> str:
    if _missing(value):
        return "—"
    return f"{value:.0%}"


def spread(row: dict[str, Any], metric: str, fmt: str = "num") -> str:
    """``8.5 (7–10)`` when several runs, else the value."""
    show = hz if fmt == "hz" else num
    text = show(row.get(metric))
    lo, hi = row.get(f"{metric}_lo"), row.get(f"{metric}_hi")
    if lo is not None and hi is not None and lo != hi:
        text += f" ({show(lo)}–{show(hi)})"
    return text


def interval(row: dict[str, Any], metric: str) -> str:
    """``8.5 [7.1–9.9]``: the mean and its 95 % confidence interval when several runs
    that differ."""
    text = num(row.get(metric))
    lo, hi = row.get(f"{metric}_ci_lo"), row.get(f"{metric}_ci_hi")
    if not _missing(lo) and not _missing(hi) and num(lo) != num(hi):
        text += f" [{num(lo)}–{num(hi)}]"
    return text


def lengths(row: dict[str, Any]) -> str:
    """``, runs of 10–60 s`` when a row's runs differ in length (so a mean count per run is
    not read as a rate); '' otherwise."""
    lo, hi = row.get("duration_s_lo"), row.get("duration_s_hi")
    if _missing(lo) or _missing(hi) or num(lo) == num(hi):
        return ""
    return f", runs of {num(lo)}–{num(hi)} s"


@jinja2.pass_context
def header(context: Any, name: str) -> str:
    """A column header: the metric's name with its unit, as its plug-in declares it."""
    declared = (context.get("metrics") or {}).get(name)
    return declared.header if declared is not None else name


@jinja2.pass_context
def value(context: Any, name: str, v: Any) -> str:
    """A metric's value in a cell: loop rates to one decimal, as LeRobot prints them."""
    declared = (context.get("metrics") or {}).get(name)
    return hz(v) if declared is not None and declared.kind == "frequency" else num(v)


def md_cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def environment(search: Path, plugins: dict[str, Path] | None = None) -> jinja2.Environment:
    """Templates in ``search``; ``plugins``: prefix -> the folder of a plug-in's section."""
    prefixed = {k: jinja2.FileSystemLoader(str(v)) for k, v in (plugins or {}).items()}
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [jinja2.FileSystemLoader(str(search)), jinja2.PrefixLoader(prefixed)]
        ),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # Markdown, not HTML
    )
    env.filters.update(num=num, hz=hz, pct=pct, cell=md_cell)
    env.globals.update(
        spread=spread, interval=interval, header=header, value=value, lengths=lengths
    )
    return env


def render(
    context: dict[str, Any], template: Path | None = None, plugins: dict[str, Path] | None = None
) -> str:
    """The report text; ``template`` replaces the shipped one; ``plugins``: the folders
    of the workload's and probes' sections (see ``environment``)."""
    path = Path(template) if template else SHIPPED
    if not path.is_file():
        raise LabkitError(f"--template {path}: no such file")
    env = environment(path.parent, plugins)
    try:
        text = env.get_template(path.name).render(**context)
        # sections left out (and the ones included) leave runs of blank lines: one is enough
        return re.sub(r"\n{3,}", "\n\n", text)
    except jinja2.TemplateSyntaxError as exc:  # in the template or a section it includes
        where = exc.filename or path
        raise LabkitError(f"{where}:{exc.lineno}: template syntax error: {exc.message}") from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise LabkitError(f"{path}:{line}: not UTF-8 text; save the template as UTF-8") from None
    except jinja2.UndefinedError as exc:
        where = _template_line(exc, path)
        raise LabkitError(
            f"{where}: {exc.message}; the report provides: {', '.join(sorted(context))}"
        ) from None


def _template_line(exc: BaseException, path: Path) -> str:
    """``file:line`` of the template (or included section) an error was raised at, from
    the traceback Jinja2 rewrites; ``path`` alone when none says."""
    tb = exc.__traceback__
    where = str(path)
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name == str(path) or name.endswith(".j2"):
            where = f"{name}:{tb.tb_lineno}"
        tb = tb.tb_next
    return where
