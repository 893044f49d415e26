"""Host settings as operations (remote.settings.OPERATIONS): each owns one kind of
setting, reads its own fact and plans its change; a setting not asked for plans nothing."""

from __future__ import annotations

import pytest

from labkit.errors import PreflightError
from labkit.remote.settings import (
    OPERATIONS,
    PlanContext,
    governor_operation,
    plan_changes,
    sysctl_operation,
)
from labkit.remote.target import LocalTarget


def context(tmp_path, facts=None) -> PlanContext:
    return PlanContext(LocalTarget("here"), facts or {}, str(tmp_path), str(tmp_path), False, 60)


def test_an_operation_plans_nothing_for_a_setting_not_asked(tmp_path):
    ctx = context(tmp_path)
    assert [op(ctx, {}) for op in OPERATIONS] == [[] for _ in OPERATIONS]
    assert plan_changes(ctx.target, {}, {}, sysroot=str(tmp_path), state_dir=str(tmp_path)) == []


def test_the_sysctl_operation_reads_each_value_and_plans_its_write_and_undo(tmp_path):
    swappiness = tmp_path / "proc/sys/vm/swappiness"
    swappiness.parent.mkdir(parents=True)
    swappiness.write_text("60\n")
    changes = sysctl_operation(context(tmp_path), {"settings.sysctl": {"vm.swappiness": "10"}})
    [c] = changes
    assert (c.key, c.before, c.after) == ("sysctl vm.swappiness", "60", "10")
    assert str(swappiness) in c.apply[0] and "10" in c.apply[0]
    assert str(swappiness) in c.undo[0] and "60" in c.undo[0]
    same = sysctl_operation(context(tmp_path), {"settings.sysctl": {"vm.swappiness": "60"}})
    assert not same[0].changed


def test_an_operation_says_what_the_host_cannot_take(tmp_path):
    with pytest.raises(PreflightError, match="sysctl vm.nope does not exist"):
        sysctl_operation(context(tmp_path), {"settings.sysctl": {"vm.nope": "1"}})
    with pytest.raises(PreflightError, match="no cpufreq governors"):
        governor_operation(context(tmp_path, {"cpu": {}}), {"settings.cpu_governor": "performance"})
