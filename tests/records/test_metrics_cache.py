"""A run's metrics are computed once and stored beside its logs."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import labkit
from labkit.records.metrics_cache import METRICS_FILE, source_version, stored_metrics


def _counting(value):
    calls = []

    def compute():
        calls.append(1)
        return dict(value)

    return compute, calls


def test_computed_once_then_read(tmp_path):
    (tmp_path / "record.log").write_text("x\n")
    compute, calls = _counting({"warnings": 3, "min_hz": 9.6, "nan": float("nan")})
    first = stored_metrics(tmp_path, "v1", compute)
    again = stored_metrics(tmp_path, "v1", compute)
    assert len(calls) == 1
    assert again["warnings"] == 3 and again["min_hz"] == 9.6 and again["nan"] != again["nan"]
    assert first["warnings"] == again["warnings"]
    assert json.loads((tmp_path / METRICS_FILE).read_text())["version"] == "v1"


def test_a_new_version_or_changed_log_recomputes(tmp_path):
    log = tmp_path / "record.log"
    log.write_text("x\n")
    compute, calls = _counting({"warnings": 1})
    stored_metrics(tmp_path, "v1", compute)
    stored_metrics(tmp_path, "v2", compute)
    assert len(calls) == 2
    log.write_text("x\ny\n")  # a log pulled again, longer
    stored_metrics(tmp_path, "v2", compute)
    assert len(calls) == 3
    (tmp_path / "record-events.parquet").write_bytes(b"derived")  # not an input
    stored_metrics(tmp_path, "v2", compute)
    assert len(calls) == 3


def test_a_run_that_cannot_be_written_is_computed_not_failed(tmp_path):
    gone = tmp_path / "not-there"  # mkstemp fails here as it does in a read-only store
    compute, calls = _counting({"warnings": 2})
    assert stored_metrics(gone, "v1", compute) == {"warnings": 2}
    assert stored_metrics(gone, "v1", compute) == {"warnings": 2}
    assert len(calls) == 2 and not gone.exists()


def test_unreadable_file_is_recomputed(tmp_path):
    (tmp_path / METRICS_FILE).write_text("{not json")
    compute, calls = _counting({"warnings": 5})
    assert stored_metrics(tmp_path, "v1", compute) == {"warnings": 5} and len(calls) == 1


def test_source_version_follows_the_code():
    a = source_version(("labkit.parse",))
    assert a == source_version(("labkit.parse",))
    assert a != source_version(("labkit.parse", "labkit.analysis"))


def version_in_copy(src: Path, modules: tuple[str, ...]) -> str:
    """``source_version`` as a copy of labkit's source in ``src`` computes it."""
    shutil.copytree(
        Path(labkit.__file__).parent, src / "labkit", ignore=shutil.ignore_patterns("__pycache__")
    )
    code = (
        "import sys, labkit; from labkit.records.metrics_cache import source_version; "
        "print(labkit.__file__); print(source_version(tuple(sys.argv[1:])))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *modules],
        env={**os.environ, "PYTHONPATH": str(src)},
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert Path(out[0]).is_relative_to(src)  # the copy was the one imported
    return out[1]


def test_two_checkouts_of_the_same_code_give_the_same_version(tmp_path):
    """A clone in a folder named labkit and one elsewhere: the same code, the same
    version, so neither workstation recomputes (or re-downloads the logs of) the runs
    whose metrics the other stored."""
    modules = ("labkit.analysis", "labkit.parse")
    here = source_version(modules)
    assert version_in_copy(tmp_path / "labkit" / "src", modules) == here
    assert version_in_copy(tmp_path / "elsewhere" / "src", modules) == here
