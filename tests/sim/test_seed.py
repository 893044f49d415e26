"""The default simulated Jetson varies from run to run like a board: each run draws its own
seed and records it; a fixed seed (for tests) is recorded as fixed."""

from __future__ import annotations

import json

from tests.sim.test_sim import THREE, cams, record, remote, sh  # noqa: F401  (fixture)


def seed_of(remote, name: str) -> dict:  # noqa: F811
    _, _, _, workdir = remote
    return json.loads(sh(remote, f"cat {workdir}/runs/{name}/sim.json", check=True).stdout)


def test_each_run_draws_and_records_its_own_seed(remote):  # noqa: F811
    _, _, deploy, _ = remote
    deploy({"jitter": {"rate": 0.01, "stall_ms": 40}})
    for name in ("drawn-a", "drawn-b"):
        res, log = record(remote, name, cams(THREE[:1]), 30, streaming=False, seconds=1)
        assert res.returncode == 0, log
    a, b = seed_of(remote, "drawn-a"), seed_of(remote, "drawn-b")
    assert a["seed_drawn"] is True and b["seed_drawn"] is True
    assert a["seed"] != b["seed"]  # 1 in 2**32 to collide by chance


def test_a_fixed_seed_is_recorded_as_fixed(remote):  # noqa: F811
    _, _, deploy, _ = remote
    deploy({"jitter": {"rate": 0.01, "stall_ms": 40, "seed": 7}})
    res, log = record(remote, "fixed", cams(THREE[:1]), 30, streaming=False, seconds=1)
    assert res.returncode == 0, log
    got = seed_of(remote, "fixed")
    assert got == {
        "seed": 7,
        "seed_drawn": False,
        "jitter": {"rate": 0.01, "stall_ms": 40, "seed": 7},
    }
