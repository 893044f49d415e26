"""Which runs measured the same thing: runs grouped by experiment and configuration.

A run's configuration is its resolved parameters and settings (read from its manifest),
leaving out run length -- every rate labkit compares is per minute -- and what does not
change the measurement (the dataset's name, root and task text). Runs of one experiment
with different configurations are never pooled: the playbook's own configuration (runs
without configuration-changing ``--set`` values) is the experiment's *main* group, the one
checks, root cause and recommendation use; every other configuration is its own group,
labelled with what differs (``exp1 [settings.cpu_governor=performance]``).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from labkit.analysis.runs import RunData
from labkit.config.playbook import Playbook
from labkit.records.model import RunRecord
from labkit.registry import PROBES

RUN_LENGTH = ("dataset.episode_time_s", "dataset.num_episodes", "dataset.reset_time_s")
NOT_MEASURED = ("dataset.repo_id", "dataset.root", "dataset.single_task")
IGNORED = RUN_LENGTH + NOT_MEASURED


def _setting_key(key: str) -> str:
    return key if key.startswith(("settings.", "monitor.")) else f"settings.{key}"


def _observing(manifest: RunRecord) -> dict[str, str]:
    """The sysctl values the run's probes needed: an observation's, not a treatment."""
    out: dict[str, str] = {}
    for name in manifest.probes:
        if name in PROBES:
            out.update(PROBES[name].needs_sysctl)
    return out


def config_of(manifest: RunRecord) -> dict[str, Any]:
    """Parameters and settings that define what a run measured: not its probes, nor the
    host settings its probes needed (an experiment that only observes is the same
    configuration as the one it observes)."""
    params = {k: v for k, v in manifest.params.items() if k not in IGNORED}
    raw = dict(manifest.settings)
    needed = _observing(manifest)
    if needed and isinstance(raw.get("settings.sysctl"), dict):
        raw["settings.sysctl"] = {
            k: v for k, v in raw["settings.sysctl"].items() if str(needed.get(k)) != str(v)
        }
    settings = {
        _setting_key(k): v
        for k, v in raw.items()
        if not k.startswith("monitor.") and v not in (None, {})
    }
    return {**params, **settings}


def config_overrides(manifest: RunRecord, playbook: Playbook | None = None) -> dict[str, Any]:
    """The run's ``--set`` values that change its configuration: not its length, and not a
    value the playbook gives the experiment anyway (``--set dataset.fps=30`` on exp1)."""
    own: dict[str, Any] = {}
    if playbook is not None and manifest.experiment in playbook.experiments:
        exp = manifest.experiment
        own = {**playbook.params_for(exp), **playbook.settings_for(exp)}
    missing = object()
    return {
        k: v
        for k, v in manifest.overrides.items()
        if k not in IGNORED and not k.startswith("monitor.") and own.get(k, missing) != v
    }


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(map(str, value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def assignments(values: dict[str, Any]) -> str:
    """``k=v, k2=v2`` in key order: how a configuration difference is named."""
    return ", ".join(f"{k}={_show(v)}" for k, v in sorted(values.items()))


def _canon(value: Any) -> Any:
    """1 and 1.0 are one value (a float parameter given as ``--set x=1``)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _canon(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canon(v) for v in value]
    return value


def _key(config: dict[str, Any]) -> str:
    return json.dumps(_canon(config), sort_keys=True, default=str)


def same_configuration(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two configurations measure the same thing (1 and 1.0 are one value)."""
    return _key(a) == _key(b)


def common_sets(runs: list[RunData]) -> dict[str, Any]:
    """The ``--set`` values most of ``runs`` were made with (run length included)."""
    seen = Counter(_key(r.manifest.overrides) for r in runs)
    return json.loads(seen.most_common(1)[0][0]) if seen else {}


def set_args(values: dict[str, Any]) -> str:
    """`` --set k=v`` for each value, in name order: what a command needs to repeat them."""
    return "".join(f" --set {k}={_show(v)}" for k, v in sorted(values.items()))


def repeat_command(names: list[str], sets: dict[str, Any], repeat: int = 3) -> str:
    """The batch that brings ``names`` to ``repeat`` runs like the ones they have: their
    ``--set`` values (run length included), so the new runs add to the old ones."""
    return f"invoke batch --only {','.join(names)} --repeat {repeat}{set_args(sets)}"


@dataclass
class Group:
    """Runs of one experiment with one configuration."""

    experiment: str
    config: dict[str, Any]
    runs: list[RunData] = field(default_factory=list)
    main: bool = False
    differs: dict[str, Any] = field(default_factory=dict)  # vs the main configuration

    @property
    def configuration(self) -> str:
        """``playbook`` for the main group, else what differs (``k=v, ...``)."""
        return "playbook" if self.main else assignments(self.differs) or "playbook (other)"

    @property
    def label(self) -> str:
        return self.experiment if self.main else f"{self.experiment} [{self.configuration}]"

    @property
    def reproduce_sets(self) -> dict[str, Any]:
        """The ``--set`` values most of its runs were made with (run length included)."""
        return common_sets(self.runs)

    def reproduce(self) -> str:
        """The command that makes one more run of this configuration (on its host, when all
        its runs were made on one)."""
        sets = set_args(self.reproduce_sets)
        hosts = {r.host for r in self.runs if not r.manifest.imported}
        target = f" --target {hosts.pop()}" if len(hosts) == 1 else ""
        return f"invoke experiment --name {self.experiment}{target}{sets}"


def group_runs(runs: list[RunData], playbook: Playbook | None = None) -> list[Group]:
    """Runs grouped by (experiment, configuration), runs kept in store order (oldest
    first). Each experiment's main group is its playbook configuration: made without
    configuration-changing ``--set`` values (``playbook`` tells which values are its own);
    when several such configurations exist (hosts that resolve different parameters, an
    edited playbook) the one made with the current playbook file, then the one with the
    most runs, then the newest. An experiment whose every run had such values has no main
    group."""
    groups: dict[tuple[str, str], Group] = {}
    position = {id(r): i for i, r in enumerate(runs)}
    sha = playbook.sha256 if playbook is not None else None
    for run in runs:
        config = config_of(run.manifest)
        g = groups.setdefault((run.experiment, _key(config)), Group(run.experiment, config))
        g.runs.append(run)
    by_exp: dict[str, list[Group]] = {}
    for g in groups.values():
        by_exp.setdefault(g.experiment, []).append(g)
    for mine in by_exp.values():
        plain = [g for g in mine if not any(config_overrides(r.manifest, playbook) for r in g.runs)]
        main = max(plain, key=lambda g: _rank(g, sha, position)) if plain else None
        for g in mine:
            g.main = g is main
            ref = main.config if main else {}
            if g is not main:
                g.differs = {
                    k: g.config.get(k)
                    for k in sorted({**ref, **g.config})
                    if _canon(ref.get(k)) != _canon(g.config.get(k))
                }
                if main is None:  # nothing to compare with: name the --set values
                    g.differs = {
                        k: v
                        for r in g.runs
                        for k, v in config_overrides(r.manifest, playbook).items()
                    }
    return list(groups.values())


def _rank(g: Group, sha: str | None, position: dict[int, int]) -> tuple:
    """Which plain configuration is the playbook's: made with the current playbook file,
    then the most runs, then the newest."""
    current = any(r.manifest.playbook.sha256 == sha for r in g.runs)
    return (current, len(g.runs), position[id(g.runs[-1])])


def main_runs(groups: list[Group]) -> list[RunData]:
    return [r for g in groups if g.main for r in g.runs]
