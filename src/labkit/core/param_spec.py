"""Parameters a playbook declares itself (``workload.params`` of a ``command`` or
``gstreamer`` workload): their declaration and its checks.

Below the workload kinds that take such parameters, so each validates its ``params:``
the same way without importing another kind.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from labkit.core.params import Param, ParamError, coerce
from labkit.errors import PlaybookError

NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
KINDS = {"int": "int", "float": "number", "str": "str", "bool": "bool"}


class ParamSpec(BaseModel):
    """One parameter of a workload: its type, default and range."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["int", "float", "str", "bool"]
    default: Any = None
    min: float | None = None
    max: float | None = None
    help: str = ""


def to_param(name: str, spec: ParamSpec) -> Param:
    """The registry entry ``coerce`` checks values against."""
    lo, hi = spec.min, spec.max

    def check(v) -> bool:
        if spec.type in ("int", "float"):
            if not math.isfinite(v):
                return False
            return (lo is None or v >= lo) and (hi is None or v <= hi)
        return True

    parts = []
    if lo is not None:
        parts.append(f">= {lo:g}")
    if hi is not None:
        parts.append(f"<= {hi:g}")
    numeric = spec.type in ("int", "float")
    expect = (" and ".join(parts) or "finite") if numeric else ""
    return Param(name, KINDS[spec.type], spec.help or name, check, expect)


def check_name(doc, name: Any, group: str, where: tuple) -> None:
    """A parameter's or event's name: an identifier (a template says ``params.<name>``)."""
    if not re.match(NAME, str(name)):
        raise doc.error(
            f"{group} name {name!r}: expected letters, digits and _ (not starting with a digit)",
            (*where, f"{group}s", name),
            PlaybookError,
        )


def checked_params(
    specs: dict[str, ParamSpec], raw: dict[str, Any], doc, where: tuple
) -> dict[str, Param]:
    """The parameters ``specs`` (validated from ``raw``, the playbook's ``params:``) as
    ``Param``s, after the checks pydantic cannot make: names, ranges, defaults. Errors
    name the playbook's file, line and field (``doc``: its YAML source)."""
    for name in specs:
        check_name(doc, name, "param", where)
    for name, p in specs.items():
        at = (*where, "params", name)
        if p.min is not None and p.max is not None and p.min > p.max:
            raise doc.error(f"min {p.min:g} > max {p.max:g}", (*at, "min"), PlaybookError)
        if p.type not in ("int", "float") and (p.min is not None or p.max is not None):
            raise doc.error(
                f"min/max apply to int and float parameters, not {p.type}",
                (*at, "min" if p.min is not None else "max"),
                PlaybookError,
            )
        if p.default is None:
            raise doc.error(
                f"parameter {name!r} needs a default (a {p.type})",
                (*at, "default") if "default" in (raw or {}).get(name, {}) else at,
                PlaybookError,
            )
        try:
            coerce(name, p.default, {name: to_param(name, p)})
        except ParamError as exc:
            raise doc.error(str(exc), (*at, "default"), PlaybookError) from None
    return {name: to_param(name, p) for name, p in specs.items()}


def spec_defaults(specs: dict[str, ParamSpec]) -> dict[str, Any]:
    """Each parameter's default (a float parameter's as a float)."""
    return {n: float(p.default) if p.type == "float" else p.default for n, p in specs.items()}
