"""The README and every page under docs/ say what the code does: the quick start's two
commands, every path they name, every `invoke` command line's task and options, the short
flags, the host variables and the exit codes are checked against the code, and the
read-only commands the pages show are run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from invoke import Collection

import tasks
from labkit.config.hostvars import HostConfig
from labkit.registry import plugin_host_vars
from tests.conftest import REPO

README = REPO / "README.md"
PAGES = {
    "inventory.md", "playbooks.md", "probes.md", "running.md", "report.md", "simulator.md",
    "real-boards.md", "extending.md", "benchmarks.md", "seed-investigation.md",
}  # fmt: skip
DOCS = [README, *sorted((REPO / "docs").glob("*.md"))]
WRITTEN = [p for p in DOCS if p.name != "seed-investigation.md"]  # the seed is a record
INVOKE = str(Path(sys.executable).parent / "invoke")
TASKS = {t.replace("_", "-"): v for t, v in Collection.from_module(tasks).tasks.items()}
# options of Invoke itself, before or instead of a task
CORE = {"list", "help", "print-completion-script", "complete", "version"}


def _options(task) -> set[str]:
    names = [n for a in task.get_arguments() for n in (a.name, *a.nicknames) if len(n) > 1]
    return {n.strip("_-").replace("_", "-") for n in names}


def _commands(text: str) -> list[str]:
    """Every `invoke ...` command line: in code spans, and lines of sh code blocks."""
    spans = re.findall(r"`([^`\n]*invoke [^`\n]*)`", text)
    blocks = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    lines = [ln for b in blocks for ln in b.splitlines() if "invoke " in ln]
    out = []
    for cmd in spans + lines:
        cmd = cmd.split("#")[0]
        out += [c.strip() for c in re.findall(r"invoke (.*?)(?:&&|\||\)|$)", cmd)]
    return out


def test_readme_is_a_quick_start():
    text = README.read_text()
    assert len(text.splitlines()) <= 150
    first = re.search(r"```sh\n(.*?)```", text, flags=re.S).group(1)
    setup = "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]'"
    assert f"{setup} && .venv/bin/invoke experiment --name exp2b\n" in first
    assert f"{setup} && .venv/bin/pytest -q -n 3\n" in first
    assert text.index("```sh") < text.index("## ")  # the two commands come first
    assert '-m "not slow"' in text  # the fast tier is documented


def test_readme_links_every_page_and_every_page_exists():
    text = README.read_text()
    linked = set(re.findall(r"`docs/([\w.-]+\.md)`", text))
    on_disk = {p.name for p in (REPO / "docs").glob("*.md")}
    assert on_disk >= PAGES
    assert on_disk - {"seed-investigation.md"} <= linked, on_disk - linked
    assert linked <= on_disk, linked - on_disk


@pytest.mark.parametrize("page", WRITTEN, ids=[p.name for p in WRITTEN])
def test_paths_named_exist(page):
    """Every repository path a page names in a code span exists (placeholders and globs
    aside); paths under a package folder name are read under src/labkit/."""
    text = page.read_text()
    tops = ("src/", "tests/", "docs/", "examples/", "playbooks/", "inventory/", "bench/")
    pkg = tuple(f"{p.name}/" for p in (REPO / "src" / "labkit").iterdir() if p.is_dir())
    for path in re.findall(r"`([\w./-]+)`", text):
        generated = any(part.startswith(".") for part in path.split("/"))  # bench/.work/
        if not re.search(r"\.(py|md|yml|yaml|j2)$|/$", path) or path.startswith("/") or generated:
            continue
        if path.startswith(tops) or path in ("tasks.py", "README.md"):
            assert (REPO / path.rstrip("/")).exists(), f"{page.name}: {path}"
        elif path.startswith(pkg) and not path.endswith("/"):  # sim/bin/ is the sim's work dir
            assert (REPO / "src" / "labkit" / path.rstrip("/")).exists(), f"{page.name}: {path}"
    assert "shared/" not in text


@pytest.mark.parametrize("page", DOCS, ids=[p.name for p in DOCS])
def test_invoke_commands_name_real_tasks_and_options(page):
    for cmd in _commands(page.read_text()):
        words = cmd.split()
        if not words or words[0].startswith("-"):
            assert all(w.lstrip("-") in CORE for w in words if w.startswith("--")), cmd
            continue
        name = words[0]
        if name in ("<task>", "..."):
            continue
        assert name in TASKS, f"{page.name}: invoke {cmd}"
        opts = _options(TASKS[name]) | {"help"}
        for flag in re.findall(r"(?<![\w-])--([a-z][\w-]*)", cmd):
            assert flag in opts, f"{page.name}: invoke {cmd}: --{flag}"


def test_short_flags_are_every_tasks_short_flags():
    """docs/running.md's list of short flags is what every task that has the option takes."""
    text = (REPO / "docs" / "running.md").read_text()
    said = dict(re.findall(r"`-(\w)/--([\w-]+)`", text))
    assert said == {v: k.rstrip("_").replace("_", "-") for k, v in tasks.SHORT.items()}
    for t in TASKS.values():
        for arg in t.get_arguments():
            long = arg.name.strip("_-").replace("_", "-")
            short = {v: k for k, v in said.items()}.get(long)
            alias = tasks.ALIASES.get(arg.name)
            want = ([short] if short else []) + ([alias] if alias else [])
            assert list(arg.nicknames) == want, (t.name, long)
    for alias in tasks.ALIASES.values():  # Ansible's spellings are documented
        assert f"`--{alias.replace('_', '-')}`" in text, alias


def test_host_variables_table_is_the_model():
    text = (REPO / "docs" / "inventory.md").read_text()
    rows = set(re.findall(r"^\| `(labkit_\w+)`", text, flags=re.M))
    rows |= {v for line in text.splitlines() if line.startswith("| `labkit_")
             for v in re.findall(r"`(labkit_\w+)`", line.split("|")[1])}  # fmt: skip
    fields = {f for f in HostConfig.model_fields if f.startswith("labkit_")}
    assert rows == fields | set(plugin_host_vars())  # the host's own and its plug-ins


def test_exit_code_table():
    text = (REPO / "docs" / "running.md").read_text()
    table = text[text.index("## Exit codes") :].split("\n## ")[0]
    assert re.findall(r"^\| (\d+) \|", table, flags=re.M) == ["0", "1", "2", "3", "130"]


READ_ONLY = ("hosts", "experiments", "plan")


def _read_only_commands() -> list[str]:
    found = {c for p in DOCS for c in _commands(p.read_text())}
    keep = [c for c in found if c.split()[:1] and c.split()[0] in READ_ONLY]
    keep = [c for c in keep if c != "plan"]  # `invoke plan` alone: prose for "the plan task"
    return sorted(c for c in keep if not re.search(r"[<\[]|\.\.\.|\bF\b|HOST|EXP", c))


@pytest.mark.parametrize("cmd", _read_only_commands())
def test_read_only_commands_run(cmd, fake_home):
    """The pages' read-only commands (hosts, experiments, plan) run from the checkout."""
    env = {"HOME": str(fake_home), "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"}
    env["PYTHONPATH"] = str(REPO / "src")  # this checkout's labkit
    res = subprocess.run(
        [INVOKE, *cmd.split()], cwd=REPO, env=env, capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0 and not res.stderr, cmd + "\n" + res.stdout + res.stderr
