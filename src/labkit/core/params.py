"""A parameter's declaration and the checks every parameter goes through.

Below both the configuration (``labkit.config``) and the plug-ins (``labkit.workloads``,
``labkit.probes``): a workload declares its parameters as :class:`Param`s, the playbook
and ``--set`` check values against them with :func:`coerce`, and a typo gets the same
"did you mean" hint (:func:`suggest`) everywhere.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class Param:
    key: str
    kind: str  # int, number, bool, str, str_list, mapping, choice
    help: str
    check: Callable[[Any], bool] | None = None
    expect: str = ""  # what the check wants, for the error message
    nullable: bool = False
    # kind "choice": name -> code; a value is either (stored as the name)
    choices: Mapping[str, int] | None = None
    example: str = ""  # a plausible value for an error message


def param(
    key: str,
    kind: str,
    help: str,
    check=None,
    expect: str = "",
    nullable: bool = False,
    **more: Any,
) -> Param:
    """Shorthand for the registries' long lists."""
    return Param(key, kind, help, check, expect, nullable, **more)


class ParamError(ValueError):
    """A parameter key or value is wrong; ``key`` is the dotted name at fault."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


# how alike a name must be to be suggested: `exp2` -> `exp2b` (0.89), `sm` -> `sim` (0.8);
# `nosuchgroup` is not `ungrouped` (0.6)
CLOSE = 0.75
# YAML 1.1 (PyYAML) reads 1e9 and 2.5e1 as text: a float needs a dot and a signed exponent
SCIENTIFIC = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def suggest(key: str, known) -> str:
    """' (did you mean 'dataset.fps'?)' when a close name exists; a bare last part
    (``fps``) names every dotted key that ends with it (``dataset.fps``, ``camera.fps``)."""
    key = str(key)
    norm = key.replace("_", ".").replace("-", ".")
    candidates = [str(k) for k in known]
    tail = [c for c in candidates if "." not in key and c.rsplit(".", 1)[-1] == key]
    close = (
        tail
        or difflib.get_close_matches(key, candidates, n=1, cutoff=CLOSE)
        or difflib.get_close_matches(norm, candidates, n=1, cutoff=CLOSE)
    )
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def flatten(
    mapping: dict[str, Any], prefix: str, known: Mapping[str, Param]
) -> dict[str, tuple[Any, tuple]]:
    """Nested or dotted keys -> {dotted key: (value, yaml path)}; mapping-valued params stay."""
    out: dict[str, tuple[Any, tuple]] = {}
    for k, v in mapping.items():
        key = f"{prefix}{k}"
        spec = known.get(key)
        if isinstance(v, dict) and (spec is None or spec.kind != "mapping"):
            for sub, (sv, spath) in flatten(v, key + ".", known).items():
                out[sub] = (sv, (k, *spath))
        else:
            out[key] = (v, (k,))
    return out


def coerce(key: str, value: Any, known: Mapping[str, Param]) -> Any:
    """Check ``value`` against the registry ``known``; returns the normalised value."""
    spec = known.get(key)
    if spec is None:
        if key.startswith("settings.sysctl.") and "settings.sysctl" in known:
            return sysctl_value(key, value)
        hint = suggest(key, known) or (
            "; expected one of labkit's parameters (`invoke plan --name EXP` shows an "
            "experiment's parameters)"
        )
        raise ParamError(key, f"unknown parameter {key!r}{hint}")
    if value is None:
        if spec.nullable:
            return None
        raise ParamError(key, f"{key} must not be empty; expected {describe(spec)}")
    kind = spec.kind
    if kind in ("int", "number") and isinstance(value, str):
        value = _scientific(value)
    ok = True
    if kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "str":
        ok = isinstance(value, (str, int, float)) and not isinstance(value, bool)
        value = str(value) if ok else value
    elif kind == "str_list":
        if isinstance(value, str):
            value = [s.strip() for s in value.split(",") if s.strip()]
        ok = isinstance(value, list) and all(isinstance(s, str) for s in value)
    elif kind == "mapping":
        ok = isinstance(value, dict)
        value = {str(k): sysctl_value(f"{key}.{k}", v) for k, v in value.items()} if ok else value
    elif kind == "choice":
        choices = spec.choices or {}
        if isinstance(value, str) and value.upper() in choices:
            value = value.upper()
        elif isinstance(value, int) and not isinstance(value, bool) and value in choices.values():
            value = next(n for n, v in choices.items() if v == value)
        else:
            ok = False
    if not ok:
        raise ParamError(
            key, f"{key} is {value!r} ({type(value).__name__}); expected {describe(spec)}"
        )
    if spec.check is not None and not spec.check(value):
        raise ParamError(key, f"{key} is {value!r}; expected {spec.expect}")
    return value


def _scientific(text: str) -> Any:
    """``1e9`` -> 1000000000.0 and ``2.5e1`` -> 25 (a whole number as an int); any other
    text stays text (and is refused as a number with its type named)."""
    if not SCIENTIFIC.fullmatch(text.strip()):
        return text
    number = float(text)
    return int(number) if number.is_integer() and abs(number) < 2**63 else number


def sysctl_value(key: str, value: Any) -> str:
    """A sysctl value as the text written to /proc/sys: a scalar, never empty (``None``
    would be written as the text "None")."""
    if value is None or isinstance(value, (dict, list)) or not str(value).strip():
        raise ParamError(
            key,
            f"{key} is {'empty' if value is None else repr(value)}; expected a value to "
            "write (e.g. settings.sysctl.vm.swappiness=10)",
        )
    return str(value).strip()


def describe(spec: Param) -> str:
    """What a value of ``spec`` must be, for an error message."""
    base = {
        "int": "an integer",
        "number": "a number",
        "bool": "true or false",
        "str": "a string",
        "str_list": "a list of names",
        "mapping": "a mapping",
        "choice": "one of " + ", ".join(spec.choices or {}),
    }[spec.kind]
    if spec.expect:
        base += f" {spec.expect}"
    return base + (" or null" if spec.nullable else "")


def example(key: str, known: Mapping[str, Param]) -> str:
    """A plausible value for ``key`` in an error message."""
    kinds = {"int": "25", "number": "10", "bool": "true", "str_list": "context,left_wrist"}
    spec = known.get(key)
    if key.startswith("settings.sysctl."):
        return "10"
    if spec is None:
        return "VALUE"
    if spec.example:
        return spec.example
    if spec.kind == "choice" and spec.choices:
        return next(iter(spec.choices))
    return kinds.get(spec.kind, "VALUE")


def _pairs(items: list[str]) -> list[str]:
    """Ansible's ``--extra-vars "a=1 b=2"``: several key=value pairs in one value, split
    when every word is one (``dataset.single_task=Pick the cube`` stays whole)."""
    out = []
    for item in items:
        try:
            words = shlex.split(item)
        except ValueError:
            words = [item]
        several = len(words) > 1 and all(re.match(r"[\w.-]+=", w) for w in words)
        out += words if several else [item]
    return out


def parse_set(items: list[str] | None, known: Mapping[str, Param]) -> dict[str, Any]:
    """``["dataset.fps=25", "cameras=top,left"]`` -> checked values (YAML scalars);
    ``known``: the keys the playbook takes (its workload's params, settings, monitor)."""
    out: dict[str, Any] = {}
    for item in _pairs(items or []):
        if "=" not in item:
            hint = f" (e.g. {item}=25)" if item in known else suggest(item, known)
            raise ParamError(item, f"{item!r} has no value: expected key=value{hint}")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key:
            raise ParamError(item, f"{item!r} has no key: expected key=value (e.g. dataset.fps=25)")
        if not raw.strip():
            raise ParamError(
                key,
                f"{item!r} has an empty value: expected key=value (e.g. {key}="
                f"{example(key, known)}; or null where allowed: left unset)",
            )
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        spec = known.get(key)
        if spec is not None and spec.kind in ("str", "str_list") and not isinstance(value, list):
            value = raw  # keep strings literal: "--set dataset.single_task=1e3" stays text
        out[key] = coerce(key, value, known)
    return out
