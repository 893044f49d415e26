"""``labkit.yml``: the project's run store, set once for a team; ``--runs`` overrides it."""

from __future__ import annotations

import pytest

from labkit import cli
from labkit.config.project import load_project
from labkit.errors import ConfigError, LabkitError


def test_no_file_means_runs_beside_the_project(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    project = load_project()
    assert project.file is None and project.runs_spec() == "runs"
    assert cli.run_store(None).local.as_posix() == "runs"


def test_the_project_store_and_the_flag_that_overrides_it(tmp_path, monkeypatch):
    (tmp_path / "labkit.yml").write_text("runs: s3://team-runs/lab1\n")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")  # found from a folder below, as tasks.py is
    store = cli.run_store(None)
    assert store.shared and store.spec == "s3://team-runs/lab1"
    assert store.local == tmp_path / ".labkit" / "staging" / "team-runs" / "lab1"
    local = cli.run_store(str(tmp_path / "mine"))
    assert not local.shared and local.local == tmp_path / "mine"


def test_a_folder_in_labkit_yml_is_relative_to_the_project(tmp_path, monkeypatch):
    (tmp_path / "labkit.yml").write_text("runs: team/runs\n")
    (tmp_path / "sub").mkdir()
    monkeypatch.chdir(tmp_path / "sub")
    assert cli.run_store(None).local == tmp_path / "team" / "runs"


@pytest.mark.parametrize(
    ("text", "line", "said"),
    [
        ("# team store\nrunz: s3://b/p\n", 2, "unknown key 'runz'"),
        ("runs: http://example.org/x\n", 1, "expected a folder or s3://bucket/prefix"),
        ("\n\nruns: s3:///prefix\n", 3, "no bucket"),
        ("runs: ''\n", 1, "empty"),
        ("- runs\n", 1, "expected a mapping"),
    ],
)
def test_a_bad_labkit_yml_is_one_error_naming_the_line(tmp_path, monkeypatch, text, line, said):
    (tmp_path / "labkit.yml").write_text(text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as exc:
        load_project()
    assert said in str(exc.value) and exc.value.file.endswith("labkit.yml")
    assert exc.value.line == line


def test_runs_that_is_neither_a_folder_nor_s3_is_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LabkitError, match="expected a folder or s3://bucket/prefix"):
        cli.run_store("gs://bucket/x")
    with pytest.raises(LabkitError, match="--runs is empty"):
        cli.run_store(" ")
