"""Careless input meets a one-line answer, never a traceback: a table of what a new user
types (tests/data/careless/cases.yaml) walked through the real CLI, one subprocess each,
from a scratch copy of the repository so nothing of the checkout is touched."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import DATA, REPO

CASES = yaml.safe_load((DATA / "careless" / "cases.yaml").read_text())
INVOKE = str(Path(sys.executable).parent / "invoke")
KEYS = {"id", "argv", "files", "exit", "says", "stdout", "stdout_lacks", "lines", "reader"}
KEYS |= {"leaves_no", "env", "before", "stderr_lacks"}


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """tasks.py, inventory/, playbooks/ and examples/ copied; `sim` works in work/wd."""
    work = tmp_path_factory.mktemp("careless")
    shutil.copy(REPO / "tasks.py", work)
    for folder in ("inventory", "playbooks", "examples"):
        shutil.copytree(REPO / folder, work / folder)
    hosts = work / "inventory" / "hosts.yml"
    doc = yaml.safe_load(hosts.read_text())
    doc["all"]["children"]["simulated"]["hosts"]["sim"]["labkit_workdir"] = str(work / "wd")
    hosts.write_text(yaml.safe_dump(doc, sort_keys=False))
    return work


def _write(work: Path, files: dict) -> None:
    for name, spec in (files or {}).items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(spec, dict) and "copy" in spec:
            shutil.copytree(work / spec["copy"], path, dirs_exist_ok=True)
        elif isinstance(spec, dict) and "symlink" in spec:
            path.unlink(missing_ok=True)
            path.symlink_to(spec["symlink"])
        elif isinstance(spec, dict):
            path.write_bytes(spec["text"].format(work=work).encode(spec["encoding"]))
        else:
            path.write_text(spec.replace("{work}", str(work)))


def _run(work: Path, case: dict, home: Path) -> tuple[int, str, str]:
    argv = [INVOKE, *(a.replace("{work}", str(work)) for a in case["argv"])]
    env = {"HOME": str(home), "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}
    env["PYTHONPATH"] = str(REPO / "src")  # this checkout's labkit, whatever is installed
    env.update(case.get("env", {}))
    if case.get("reader") == "closed":
        proc = subprocess.Popen(
            argv, cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        proc.stdout.close()  # the reader is gone before a line was written
        err = proc.stderr.read()
        return proc.wait(timeout=60), "", err
    res = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, timeout=60)
    return res.returncode, res.stdout, res.stderr


def test_the_table_is_well_formed():
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 50
    assert all(set(c) <= KEYS and c["exit"] in (0, 1, 2, 3) for c in CASES)
    assert all(c.get("says") for c in CASES if c["exit"] != 0)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_careless_input(work, case, fake_home):
    _write(work, case.get("files"))
    for argv in case.get("before", []):  # commands that set the scene, each must succeed
        code, out, err = _run(work, {"argv": argv}, fake_home)
        assert code == 0, out + err
    code, out, err = _run(work, case, fake_home)
    assert "Traceback" not in out + err
    assert code == case["exit"], out + err
    for word in case.get("stdout", []):
        assert word in out
    for word in case.get("stdout_lacks", []):
        assert word not in out
    for word in case.get("stderr_lacks", []):
        assert word not in err
    for path in case.get("leaves_no", []):
        assert not (work / path).exists(), path
    # exit 0: nothing on stderr; 2, 3: labkit's one line; 1: Invoke's parser's one line
    lines = err.strip().splitlines()
    assert len(lines) == (0 if case["exit"] == 0 else case.get("lines", 1)), err
    assert err.startswith({0: "", 1: "", 2: "labkit: error: ", 3: "labkit: error: "}[case["exit"]])
    for word in case.get("says", []):
        assert word in err
