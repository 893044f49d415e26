"""One copy of what many run records repeat, for a report that holds every run's record.

A store's runs share their configuration: the sections of a record that say how a run
was set up (host, playbook, workload, probes, parameters, settings...) repeat from run to
run of an experiment, and every record and metrics file repeats the same key names. Held
once and shared, thousands of runs cost the memory of their distinct configurations and
of what is each run's own (its id, status, summary, metrics), not a copy of everything per
run. The shared sections are read by the report and never changed.
"""

from __future__ import annotations

import sys
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_json

from labkit.records.model import RunRecord

# the record's sections that describe a run's set-up, not its outcome
CONFIG_SECTIONS = frozenset(
    ("host", "playbook", "workload", "probes", "params", "settings", "overrides", "commands",
     "labkit")
)  # fmt: skip
SHORT = 64  # string values up to this length are interned (names, statuses, codecs)


def interned(value: Any) -> Any:
    """``value`` with every dict key, and every short string, interned (one object for
    each distinct name however many records hold it); a record's sections (pydantic
    models) are rebuilt with their values interned, never validated again."""
    if isinstance(value, BaseModel):
        fields = {name: interned(getattr(value, name)) for name in type(value).model_fields}
        extra = {sys.intern(k): interned(v) for k, v in (value.model_extra or {}).items()}
        return type(value).model_construct(_frozen(value.model_fields_set), **fields, **extra)
    if isinstance(value, dict):
        return {sys.intern(k) if isinstance(k, str) else k: interned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [interned(v) for v in value]
    if isinstance(value, str) and len(value) <= SHORT:
        return sys.intern(value)
    return value


# each distinct set of a model's fields that were set, held once: a set of two dozen names
# costs 2 KB, times every record held (few distinct ones: records are built one way)
_FIELD_SETS: dict[frozenset[str], frozenset[str]] = {}


def _frozen(names: set[str]) -> frozenset[str]:
    """``names`` as one shared frozenset: setting a field of a model built with it
    raises ``AttributeError`` (pydantic adds the name to it), so code that changes a
    record a report holds fails loudly instead of marking the field set in every other."""
    key = frozenset(names)
    return _FIELD_SETS.setdefault(key, key)


class SharedRecords:
    """Records whose set-up sections are held once: equal sections (as their JSON text,
    key order included) are the same object."""

    def __init__(self) -> None:
        self._seen: dict[bytes, Any] = {}

    def record(self, record: RunRecord) -> RunRecord:
        """``record`` with its keys and short strings interned and its set-up sections
        shared (the same ``RunRecord``, held for reading only)."""
        fields = {
            name: (self._once if name in CONFIG_SECTIONS else interned)(getattr(record, name))
            for name in RunRecord.model_fields
        }
        return RunRecord.model_construct(_frozen(record.model_fields_set), **fields)

    def _once(self, value: Any) -> Any:
        text = to_json(value, fallback=str)
        held = self._seen.get(text)
        if held is None:
            held = self._seen[text] = interned(value)
        return held
