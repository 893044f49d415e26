"""`invoke import` in several processes gives the same runs as in one."""

from __future__ import annotations

import json

import pytest

from labkit.analysis.runs import store_metrics
from labkit.config.playbook import load_playbook
from labkit.errors import LabkitError
from labkit.records.metrics_cache import METRICS_FILE
from labkit.study.importer import import_logs
from tests.conftest import REPO
from tests.labhost import manifests
from tests.seedlogs import write_seed, write_seed_logs

PLAYBOOK = REPO / "playbooks" / "lerobot-loop-lag.yml"
VARIES = ("imported_at",)


def _runs(store):
    out = {}
    for d, m in manifests(store):
        stored = json.loads((d / METRICS_FILE).read_text())
        out[d.relative_to(store).as_posix()] = (
            {k: v for k, v in m.items() if k not in VARIES},
            stored["metrics"],
        )
    return out


@pytest.mark.slow  # starts two spawned worker processes (~10 s on a busy machine)
def test_parallel_import_equals_serial(tmp_path):
    logs = write_seed(tmp_path / "logs")
    write_seed_logs(logs / "session-2", "exp1", [11.0, 12.0])  # a subfolder: another session
    pb = load_playbook(PLAYBOOK)
    quiet = {"log": lambda m: None, "finish": store_metrics}
    serial = import_logs(logs, pb, tmp_path / "serial", jobs=1, **quiet)
    parallel = import_logs(logs, pb, tmp_path / "parallel", jobs=2, **quiet)
    assert len(serial) == len(parallel) == 6
    assert [m.run_id for m in serial] == [m.run_id for m in parallel]
    assert _runs(tmp_path / "serial") == _runs(tmp_path / "parallel")


def test_a_bad_pair_stops_the_import_before_anything_is_written(tmp_path):
    logs = write_seed(tmp_path / "logs")
    (logs / "exp3_record.log").write_text("not a LeRobot log\n")
    with pytest.raises(LabkitError, match="exp3_record.log: no LeRobot log lines"):
        import_logs(logs, load_playbook(PLAYBOOK), tmp_path / "runs", jobs=1, log=print)
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").rglob("*.log"))
