"""The typed run record: schema 2 validated when written and read, schema 1 migrated."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from labkit import cli
from labkit.config.params import parse_set
from labkit.config.plan import resolve
from labkit.config.playbook import load_playbook
from labkit.records.model import (
    RecordError,
    RunRecord,
    migrate,
    new_record,
    read_record,
    validated,
)
from labkit.records.store import list_runs, load_manifest, write_manifest
from labkit.report.build import build_report
from labkit.study.importer import import_logs
from tests.conftest import DATA, REPO
from tests.seedlogs import write_seed

OLD = DATA / "records"
PLAYBOOK = REPO / "playbooks" / "lerobot-loop-lag.yml"


def old(name: str) -> dict:
    return json.loads((OLD / name).read_text())


def test_a_schema_1_run_reads_as_schema_2_with_its_workload_and_probe():
    rec = validated(migrate(old("schema1-run.json")))
    assert rec.schema_ == 2
    assert rec.workload.model_dump() == {"kind": "lerobot-record", "log": "record.log"}
    teg = rec.probes["tegrastats"]
    assert (teg.pid, teg.exit, teg.error) == (101, -15, None)
    assert teg.log == "tegrastats.out" and teg.files == ["tegrastats.log"]
    assert teg.argv[:3] == ["tegrastats", "--interval", "1000"]
    status = rec.remote_status
    assert "tegrastats_pid" not in status and "tegrastats_exit" not in status
    assert status["probes"]["tegrastats"] == {"pid": 101, "exit": -15, "error": None}
    assert (status["workload_pid"], status["workload_exit"]) == (102, 0)
    assert rec.commands.workload_argv == ["lerobot-record", "--dataset.fps=20"]
    assert rec.commands.probes["tegrastats"].startswith("tegrastats --interval")
    # everything else is kept as it was
    assert rec.as_dict()["batch"] == {"id": "b1", "slot": "exp2b#1", "position": 1}
    assert rec.facts == {"kernel": "6.8.12-tegra"} and rec.summary == {"warnings": 3}


def test_a_schema_2_record_of_an_older_supervisor_names_the_workload_keys():
    rec = validated(migrate(old("schema1-run.json"))).as_dict()
    rec["remote_status"] = {
        "state": "done",
        "record_pid": 7,
        "record_started_at": "t0",
        "record_exit": 3,
        "workload_s": 1.5,
    }
    status = validated(migrate(rec)).remote_status
    assert status == {
        "state": "done",
        "workload_pid": 7,
        "workload_started_at": "t0",
        "workload_exit": 3,
        "workload_s": 1.5,
    }


def test_an_imported_schema_1_run_keeps_its_source_and_tegrastats():
    rec = validated(migrate(old("schema1-imported.json")))
    assert rec.imported is True
    assert rec.source is not None and rec.source["tegrastats"] == "/logs/exp1_tegrastats.log"
    assert rec.probes["tegrastats"].files == ["tegrastats.log"]
    assert rec.probes["tegrastats"].pid is None
    no_teg = old("schema1-imported.json") | {"source": {"record": "x", "tegrastats": None}}
    assert validated(migrate(no_teg)).probes == {}


def test_a_record_that_does_not_validate_names_the_field(tmp_path):
    bad = old("schema1-run.json") | {"status": "finished"}
    with pytest.raises(RecordError, match=r"status: Input should be 'running'"):
        validated(migrate(bad))
    with pytest.raises(RecordError, match=r"schema 7: expected 1 or 2"):
        migrate({"schema": 7})
    run = tmp_path / "exp2b" / "r1"
    run.mkdir(parents=True)
    (run / "manifest.json").write_text(json.dumps(old("schema1-run.json") | {"host": "thor1"}))
    with pytest.raises(RecordError, match=r"manifest.json: host: Input should be"):
        read_record(run / "manifest.json")
    rec = validated(migrate(old("schema1-run.json")))
    rec.probes["tegrastats"].pid = "many"  # type: ignore[assignment]  # set after it was built
    with pytest.raises(RecordError, match=r"probes.tegrastats.pid"):
        write_manifest(run, rec)
    assert not (run / "manifest.json").exists() or "many" not in (run / "manifest.json").read_text()


def test_write_then_read_is_the_same_record(tmp_path):
    run = tmp_path / "exp2b" / "20260210T100000Z-thor1-ab12"
    rec = validated(migrate(old("schema1-run.json")))
    write_manifest(run, rec)
    assert load_manifest(run) == rec
    assert json.loads((run / "manifest.json").read_text()) == rec.as_dict()
    assert rec.as_dict()["schema"] == 2


def _old_store(runs, logs) -> None:
    """A store as labkit wrote it before schema 2: imported runs with schema-1 records."""
    pb = load_playbook(PLAYBOOK)
    for rec in sorted(logs.glob("*_record.log")):
        name = rec.name.removesuffix("_record.log")
        run = runs / name / f"20260210T10000{len(list(runs.glob('*')))}-imported-0000"
        run.mkdir(parents=True)
        shutil.copyfile(rec, run / "record.log")
        shutil.copyfile(logs / f"{name}_tegrastats.log", run / "tegrastats.log")
        manifest = old("schema1-imported.json") | {
            "run_id": run.name,
            "experiment": name,
            "params": pb.params_for(name),
            "playbook": {"name": pb.name, "file": str(pb.file), "sha256": pb.sha256},
        }
        (run / "manifest.json").write_text(json.dumps(manifest))


def test_an_old_store_still_reports_as_a_new_one(tmp_path):
    logs = tmp_path / "logs"
    write_seed(logs)
    pb = load_playbook(PLAYBOOK)
    _old_store(tmp_path / "old", logs)
    assert {m.schema_ for _, m in list_runs(tmp_path / "old")} == {2}  # read migrated
    import_logs(logs, pb, tmp_path / "new", log=lambda m: None)
    quiet = {"log": lambda m: None}
    old_r = build_report(pb, tmp_path / "old", tmp_path / "old-out", **quiet)
    new_r = build_report(pb, tmp_path / "new", tmp_path / "new-out", **quiet)
    assert old_r.runs_used == new_r.runs_used > 0
    assert old_r.verdicts == new_r.verdicts
    assert old_r.recommended == new_r.recommended

    def rows(folder):
        with open(folder / "summary.csv") as fh:
            return [{k: v for k, v in r.items()} for r in csv.DictReader(fh)]

    assert rows(old_r.folder) == rows(new_r.folder)
    # the old files on disk are left as they were (read through the migration only)
    first = next((tmp_path / "old").glob("*/*/manifest.json"))
    assert json.loads(first.read_text())["schema"] == 1


def test_a_new_record_names_the_workload_and_the_probes_with_their_files():
    pb = load_playbook(DATA / "workloads/command/good.yml")
    inv = cli.load_inventory(str(REPO / "inventory/hosts.yml"))
    plan = resolve(pb, inv, "fast", "sim", parse_set([]))
    rec = new_record(
        plan,
        "r1",
        store="s",
        watchdog_s=63,
        facts={"kernel": "x"},
        provenance={"version": "0"},
        started_at="now",
        skipped={"pyspy": "py-spy not found"},
    )
    assert rec.schema_ == 2 and rec.status == "running"
    assert rec.workload.kind == "command" and rec.workload.log == "output.log"
    assert rec.as_dict()["workload"]["events"] == pb.workload.spec.regexes()
    assert rec.probes["tegrastats"].files == ["tegrastats.log"]
    assert rec.probes["tegrastats"].log == "tegrastats.out"
    assert rec.probes["pyspy"].skipped == "py-spy not found"
    assert rec.commands.workload_argv == plan.workload_command()
    assert rec.commands.probes["tegrastats"].startswith("tegrastats --interval 1000")
    assert "pyspy" not in rec.commands.probes
    assert rec.params == {"rate": 50, "seconds": 2, "tag": "a b"}
    assert (rec.store, rec.watchdog_s) == ("s", 63)
    # every key it writes at the top is declared: readers get attributes
    assert rec.other == {}


def test_every_key_labkit_writes_is_declared():
    """Readers get attributes, never string keys: what the engine and the importer write
    at the top of a record is a field of ``RunRecord`` (a program's version aside, kept
    as it was); a field that is not declared cannot be set."""
    run = RunRecord.model_validate(migrate(old("schema1-run.json")))
    assert run.other == {"lerobot_version": "0.4.4"}
    assert run.as_dict()["lerobot_version"] == "0.4.4"  # written back as it was read
    with pytest.raises(ValueError, match='no field "stroe"'):
        run.stroe = "abcd"  # type: ignore[attr-defined]  # a typo is an error, not a key
    assert (run.store, run.watchdog_s) == ("abcd1234abcd1234", 150.0)
    assert run.batch is not None and run.batch.id == "b1" and run.batch.index is None
    imported = RunRecord.model_validate(migrate(old("schema1-imported.json")))
    assert imported.other == {}
    assert imported.source == {"record": "/logs/exp1_record.log",
                               "tegrastats": "/logs/exp1_tegrastats.log"}  # fmt: skip


def test_a_field_nothing_set_is_not_written():
    """A record is written with the keys it was read with: an imported run gets no
    ``watchdog_s: null``, an old batch slot no ``index: null``."""
    rec = validated(migrate(old("schema1-imported.json"))).as_dict()
    assert not {"watchdog_s", "store", "batch", "traceback", "collected_at"} & set(rec)
    batch = validated(migrate(old("schema1-run.json"))).as_dict()["batch"]
    assert batch == {"id": "b1", "slot": "exp2b#1", "position": 1}
