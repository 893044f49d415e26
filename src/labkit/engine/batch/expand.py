"""A batch as a list of runs per host: which experiments, how many times, in what order,
and which of them the run store already holds.

Resuming is decided by the run records alone: a host's complete runs of the same playbook
and experiment whose parameters and settings (``Plan.identity``) equal today's resolution
count towards the repeats asked for; only the rest are run (``force``: all of them).
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labkit.config.inventory import Inventory
from labkit.config.plan import Plan, identity_key, resolve
from labkit.config.playbook import MAX_REPEATS, Playbook
from labkit.errors import LabkitError
from labkit.records.store import list_runs

ORDERS = ("interleaved", "as-written", "random")


@dataclass
class Slot:
    """One run to do: the n-th repeat of an experiment on a host."""

    host: str
    experiment: str
    repeat: int  # 1-based among the repeats asked for
    plan: Plan


@dataclass
class HostBatch:
    host: str
    todo: list[Slot] = field(default_factory=list)
    done: Counter = field(default_factory=Counter)  # experiment -> complete runs reused


@dataclass
class BatchPlan:
    playbook: Playbook
    hosts: list[HostBatch]
    experiments: list[str]
    repeats: dict[str, int]
    order: str
    seed: int | None

    @property
    def total(self) -> int:
        return sum(len(h.todo) for h in self.hosts)

    def describe(self) -> dict[str, Any]:
        """The batch as recorded: options and, per host, the order of its runs."""
        return {
            "playbook": {"name": self.playbook.name, "file": str(self.playbook.file)},
            "experiments": self.experiments,
            "repeats": self.repeats,
            "order": self.order,
            "seed": self.seed,
            "hosts": {
                h.host: {
                    "reused": dict(h.done),
                    "runs": [f"{s.experiment}#{s.repeat}" for s in h.todo],
                }
                for h in self.hosts
            },
        }


def select_experiments(pb: Playbook, only: str | None) -> list[str]:
    """``--only exp1,exp3``; a swept experiment's name selects all its points."""
    if not only:
        return list(pb.experiments)
    out = []
    for name in (n.strip() for n in only.split(",") if n.strip()):
        points = [e for e, base in pb.sweep_of.items() if base == name]
        if points:
            out += [p for p in points if p not in out]
        elif name in pb.experiments:
            out += [name] if name not in out else []
        else:
            sweeps = ", ".join(sorted(set(pb.sweep_of.values())))
            raise LabkitError(
                f"--only: no experiment {name!r} in {pb.file}; experiments are: "
                f"{', '.join(pb.experiments)}" + (f"; sweeps: {sweeps}" if sweeps else "")
            )
    return out


def order_runs(
    counts: dict[str, int], names: list[str], order: str, rng: random.Random
) -> list[tuple[str, int]]:
    """(experiment, repeat) pairs. Interleaved: exp1#1, exp2#1, ..., exp1#2, exp2#2, ..."""
    if order == "as-written":
        return [(n, k) for n in names for k in range(1, counts[n] + 1)]
    rounds = max(counts.values(), default=0)
    pairs = [(n, k) for k in range(1, rounds + 1) for n in names if k <= counts[n]]
    if order == "random":
        rng.shuffle(pairs)
    return pairs


def complete_runs(runs: Path, playbook: str) -> Counter:
    """(host, experiment, identity key) -> complete runs in the store."""
    found: Counter = Counter()
    for _, m in list_runs(runs):
        if m.status != "complete" or m.playbook.name != playbook:
            continue
        key = identity_key({"params": m.params, "settings": m.settings})
        found[(m.host.name, m.experiment, key)] += 1
    return found


def expand(
    pb: Playbook,
    inv: Inventory,
    target: str,
    runs: Path,
    only: str | None = None,
    repeat: int | None = None,
    order: str = "interleaved",
    seed: int | None = None,
    sets: dict[str, Any] | None = None,
    force: bool = False,
) -> BatchPlan:
    if order not in ORDERS:
        raise LabkitError(f"--order {order!r}: expected one of {', '.join(ORDERS)}")
    if repeat is not None and not 1 <= repeat <= MAX_REPEATS:
        raise LabkitError(f"--repeat {repeat}: expected between 1 and {MAX_REPEATS}")
    if seed is not None and order != "random":
        raise LabkitError(
            f"--seed {seed} is only used by --order random: add --order random or drop --seed"
        )
    names = select_experiments(pb, only)
    repeats = {n: repeat or pb.experiments[n].repeats for n in names}
    if order == "random" and seed is None:
        seed = random.SystemRandom().randrange(2**31)
    hosts = inv.select(target)
    have = Counter() if force else complete_runs(runs, pb.name)
    out = []
    for host in hosts:
        hb = HostBatch(host)
        plans = {n: resolve(pb, inv, n, host, sets) for n in names}
        counts = {}
        for n in names:
            done = min(have[(host, n, plans[n].identity_key())], repeats[n])
            if done:
                hb.done[n] = done
            counts[n] = repeats[n] - done
        # the same seed gives every host the same order
        for n, k in order_runs(counts, names, order, random.Random(seed)):
            hb.todo.append(Slot(host, n, k + hb.done[n], plans[n]))
        out.append(hb)
    return BatchPlan(pb, out, names, repeats, order, seed)
