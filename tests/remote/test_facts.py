"""Fact parsers against recorded outputs (tests/data/facts/cases.yaml), then live on the sim."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from labkit.registry import plugin_facts
from labkit.remote import facts as facts_module
from labkit.remote.facts import (
    TOP_MIN_SPAN_S,
    TOP_SPAN_S,
    Fact,
    detached,
    facts_for,
    gather,
    gather_script,
    parse_top_processes,
    read_detached,
    split_sections,
    top_detached,
    top_mark,
    top_read,
    top_since,
)
from labkit.remote.target import LocalTarget
from labkit.sim.deploy import bundle, install_script, paths
from tests.conftest import DATA
from tests.labhost import wait_for

CASES = yaml.safe_load((DATA / "facts/cases.yaml").read_text())
FACTS = {f.name: f for f in facts_for() + plugin_facts(None)}


@pytest.mark.parametrize(
    ("fact", "case"),
    [(name, c) for name, cases in CASES.items() for c in cases],
    ids=[f"{name}-{c['name']}" for name, cases in CASES.items() for c in cases],
)
def test_parser(fact, case):
    if "output_file" in case:  # a real capture: its first line says where it is from
        text = (DATA / case["output_file"]).read_text()
        assert text.startswith("# source:")
        output = text.split("\n", 1)[1]
    else:
        output = case["output"]
    assert FACTS[fact].process(output, case["exit"]) == case["expected"]


def test_every_fact_has_a_case():
    assert set(CASES) >= set(FACTS) - {"arch", "hostname", "video_devices"}


def test_sections_keep_exit_codes_and_survive_missing_markers():
    out = "@@labkit-fact a\nx\ny\n@@labkit-fact-rc 0\n@@labkit-fact b\n@@labkit-fact-rc 127\n"
    assert split_sections(out) == {"a": ("x\ny", 0), "b": ("", 127)}
    assert split_sections("@@labkit-fact a\ncut off") == {}


def test_gather_on_the_simulated_root(tmp_path):
    """The real commands, run by bash, against a simulated root with one camera present."""

    wd = str(tmp_path / "wd")
    script = install_script(
        wd, python=sys.executable, config={"lerobot_version": "0.5.1", "devices": ["/dev/video0"]}
    )
    t = LocalTarget("sim")
    t.run(script, timeout=120, stdin=bundle())
    p = paths(wd)
    t.env_prefix = f"export PATH={p['bin']}:$PATH; "
    facts = gather(t, p["root"], wd, facts_for() + plugin_facts(None))
    assert facts["l4t"]["l4t"] == "38.4.0"
    assert facts["nvpmodel"] == {"name": "120W", "id": 1}
    assert facts["cpu"]["count"] == 14 and facts["cpu"]["governors"] == ["schedutil"]
    assert facts["lerobot"]["version"] == "0.5.1"
    assert facts["lerobot"]["path"] == f"{p['bin']}/lerobot-record"
    assert facts["tegrastats"] == f"{p['bin']}/tegrastats"
    assert facts["video_devices"] == ["/dev/video0"]
    assert facts["disk"]["free_mb"] > 0
    assert facts["memory"]["total_mb"] > 0
    assert facts["nvpmodel_modes"]["default"] == 1
    assert facts["nvpmodel_modes"]["modes"]["3"]["cpu_max_khz"] == 1998000
    assert (
        facts["boot_id"] == (Path(p["root"]) / "proc/sys/kernel/random/boot_id").read_text().strip()
    )
    assert facts["uptime_s"] > 0
    # python3 as the run supervisor will start it: the interpreter itself, not a shim
    python = subprocess.run(["python3", "-c", "import sys; print(sys.executable)"],
                            capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    assert facts["python_path"] == python and os.access(python, os.X_OK)
    # and its version, from the same start: what `python3 --version` says
    version = subprocess.run(["python3", "--version"], capture_output=True, text=True).stdout
    assert f"Python {facts['python']}" == version.strip()
    assert set(facts) == set(FACTS)


def test_facts_sharing_a_command_run_it_once(tmp_path):
    """Two facts with one command (python and python_path) start it once and each parse
    the output; a fact with a command of its own still runs it."""
    calls = tmp_path / "calls"
    same = f"echo run >> {calls}; echo /usr/bin/python3; echo Python 3.12.3"
    facts = [
        Fact("python", lambda r, w: same, FACTS["python"].process),
        Fact("python_path", lambda r, w: same, FACTS["python_path"].process),
        Fact("other", lambda r, w: f"echo other >> {calls}; exit 3", lambda out, code: code),
    ]
    got = gather(LocalTarget("local"), "", str(tmp_path), facts)
    assert got == {"python": "3.12.3", "python_path": "/usr/bin/python3", "other": 3}
    assert sorted(calls.read_text().split()) == ["other", "run"]
    assert FACTS["python"].command("", "") == FACTS["python_path"].command("", "")


def test_every_output_reaches_its_fact_whole(tmp_path):
    """Output without a last newline, with a NUL byte, or none at all: each fact gets its
    own text and exit code (the marker after an output never joins its last line)."""
    raw = lambda out, code: (out, code)  # noqa: E731
    facts = [
        Fact("bare", lambda r, w: "printf 'a\\nb'", raw),
        Fact("nul", lambda r, w: "printf 'x\\0y\\n'; exit 4", raw),
        Fact("none", lambda r, w: "true", raw),
        Fact("after", lambda r, w: "echo last", raw),
    ]
    got = gather(LocalTarget("local"), "", str(tmp_path), facts)
    assert got == {"bare": ("a\nb", 0), "nul": ("x\0y", 4), "none": ("", 0), "after": ("last", 0)}


def test_a_fact_that_leaves_a_process_holding_its_output_is_not_waited_for(tmp_path):
    """A probe's output goes to a file, so a process it leaves behind (here one that
    keeps the output open until the gathering is over) holds nothing up: were the output
    read through a pipe, the gathering would wait for it, and it for the gathering."""
    over = tmp_path / "over"
    lingering = f"echo started; sh -c 'while [ ! -e {over} ]; do sleep 0.05; done' &"
    facts = [Fact("lingers", lambda r, w: lingering, lambda out, code: out)]
    try:
        got = gather(LocalTarget("local"), "", str(tmp_path), facts)
    finally:
        over.touch()
    assert got == {"lingers": "started"}


@contextlib.contextmanager
def burning() -> Iterator[int]:
    """A process that spins one core, beside the probe; yields its pid."""
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield burner.pid
    finally:
        burner.kill()
        burner.wait()


def sampled_until_found(pid: int, sample: Callable[[], list | None]) -> tuple[dict, list]:
    """Sample until ``pid`` is among the rows (a busy machine may hide it once): the row
    and the rows it was found in."""
    found, rows = None, []
    deadline = time.monotonic() + 20
    while found is None and time.monotonic() < deadline:
        rows = sample() or []
        found = next((r for r in rows if r["pid"] == pid), None)
    assert found is not None, rows
    return found, rows


def test_top_processes_names_a_busy_process_and_not_labkit_itself(tmp_path):
    """A CPU burner started beside the probe is listed; the probe's own chain (this test
    process is its controller on a local target) is not."""
    t = LocalTarget("local")
    with burning() as pid:
        found, rows = sampled_until_found(
            pid, lambda: gather(t, "", str(tmp_path), [FACTS["top_processes"]])["top_processes"]
        )
    assert found["cpu_pct"] > 10
    assert set(found) == {"pid", "user", "cpu_pct", "command"}
    assert found["command"].endswith("while True: pass")
    assert os.getpid() not in {r["pid"] for r in rows}
    assert len(rows) <= 5


def test_top_processes_sampled_in_the_background_is_read_by_a_later_round_trip(tmp_path):
    """The run's facts start the sampler and return at once; a later round trip reads
    what it measured meanwhile: the burner, not the chain that launched it (the session
    that stays for the run; here this test process)."""
    t = LocalTarget("local")
    path = str(tmp_path / ".top-before")
    sampler = Fact("top_processes", lambda r, w: top_detached(path), parse_top_processes)
    reader = Fact("top_processes", lambda r, w: top_read(path, False), parse_top_processes)

    def sample() -> list | None:
        started = gather(t, "", str(tmp_path), [sampler])["top_processes"]
        assert started is None  # nothing measured in the launching round trip
        return gather(t, "", str(tmp_path), [reader])["top_processes"]

    with burning() as pid:
        found, rows = sampled_until_found(pid, sample)
    assert found["cpu_pct"] > 10
    assert os.getpid() not in {r["pid"] for r in rows}


def test_a_split_sample_spans_the_time_between_its_two_readings(tmp_path):
    """The first reading rides in one round trip (the poll that sees the workload end)
    and returns at once; the second, in a later one, measures over the time between them,
    not over a wait of its own: a burner found, and the span what passed."""
    t = LocalTarget("local")
    path = str(tmp_path / ".top-after")
    since = Fact("top_processes", lambda r, w: top_since(path), parse_top_processes)

    def sample(pid: int) -> list | None:
        begun = time.monotonic()
        assert t.run(top_mark(path)).stdout == ""  # prints nothing
        # the run's own work between the readings: here until the burner has used half a
        # second of CPU since the first (so at least that much time has passed)
        until_cpu_used(pid, cpu_ticks(pid) + os.sysconf("SC_CLK_TCK") // 2)
        out = t.run(gather_script([since], "", str(tmp_path))).stdout
        # the first readings are the mark's: a whole sample would read afresh
        assert first_readings(out) == first_readings(Path(path).read_text())
        passed = time.monotonic() - begun  # from before the first to after the second
        span = span_of(out)
        # /proc/uptime counts in hundredths: the span is what passed, to two of them
        assert 0.5 - 0.02 <= span <= passed + 0.02
        return split_and_parse(out, since)

    with burning() as pid:
        found, rows = sampled_until_found(pid, lambda: sample(pid))
    assert found["cpu_pct"] > 10
    assert os.getpid() not in {r["pid"] for r in rows}


def cpu_ticks(pid: int) -> int:
    """The CPU ``pid`` has used, in clock ticks (user + system, /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])


def until_cpu_used(pid: int, ticks: int) -> None:
    wait_for(lambda: cpu_ticks(pid) >= ticks, 60, f"pid {pid} to use {ticks} ticks", 0.01)


def span_of(out: str) -> float:
    """The one ``span`` line of a split sample's output."""
    [span] = [float(x.split()[1]) for x in out.splitlines() if x.startswith("span ")]
    return span


def first_readings(text: str) -> set[str]:
    return {line for line in text.splitlines() if line.startswith("A ")}


def test_a_split_sample_read_at_once_waits_out_its_shortest_span(tmp_path):
    """Its first readings are the mark's (a whole sample would read afresh, its own shell
    among them), and the span is at least the shortest one."""
    t = LocalTarget("local")
    path = tmp_path / ".top-after"
    assert t.run(top_mark(str(path))).ok
    out = t.run(top_since(str(path))).stdout
    assert first_readings(out) == first_readings(path.read_text())
    span = span_of(out)
    assert span >= TOP_MIN_SPAN_S - 0.01


def test_a_first_reading_too_recent_gives_way_to_the_one_before_it(tmp_path, monkeypatch):
    """Each poll near the workload's end lays a first reading, keeping the one before: a
    poll that saw the end just after it began leaves one too recent to span the shortest
    span, and the one before it is taken instead of a wait. One of another boot is not.
    (The shortest span is 30 s here, the one before 60 s old: no busy machine's gap
    between two commands makes the latest long enough.)"""
    t = LocalTarget("local")
    path = tmp_path / ".top-after"
    assert t.run(top_mark(str(path))).ok
    head, _, rest = path.read_text().partition("\n")
    _, t0, boot = head.split()
    path.write_text(f"t0 {int(t0) - 6000} {boot}\n{rest}")  # laid 60 s ago
    earlier = path.read_text()
    assert t.run(top_mark(str(path))).ok  # the next poll's
    assert (tmp_path / ".top-after.prev").read_text() == earlier
    monkeypatch.setattr(facts_module, "TOP_MIN_SPAN_S", 30.0)
    out = t.run(top_since(str(path))).stdout
    span = span_of(out)
    assert span >= 60.0
    assert first_readings(out) == first_readings(earlier)
    # the one before from another boot: the latest, its shortest span (0.2 s) waited out
    monkeypatch.undo()
    other = "00000000-0000-0000-0000-000000000000"
    (tmp_path / ".top-after.prev").write_text(earlier.replace(boot, other, 1))
    out = t.run(top_since(str(path))).stdout
    span = span_of(out)
    assert span >= TOP_MIN_SPAN_S - 0.01
    assert first_readings(out) == first_readings(path.read_text())


@pytest.mark.parametrize("when", ["another-boot", "later-clock"])
def test_a_first_reading_from_another_boot_counts_for_nothing(tmp_path, when):
    """A power mode put back by rebooting comes between the two readings: the first one's
    pids and clock are another boot's (its uptime may be ahead of the new one), so the
    second samples whole, over a span of its own, and waits for nothing else."""
    t = LocalTarget("local")
    path = tmp_path / ".top-after"
    assert t.run(top_mark(str(path))).ok
    head, _, rest = path.read_text().partition("\n")
    _, t0, boot = head.split()
    if when == "another-boot":
        head = f"t0 {t0} 00000000-0000-0000-0000-000000000000"
    else:  # this boot's id, a clock an hour ahead of now
        head = f"t0 {int(t0) + 360000} {boot}"
    path.write_text(head + "\n" + rest)
    out = t.run(top_since(str(path))).stdout
    assert f"span {TOP_SPAN_S}" in out.splitlines()
    assert first_readings(out) != first_readings(rest)


def test_a_split_sample_without_its_first_reading_is_sampled_whole_now(tmp_path):
    """The workload was stopped rather than seen done: no first reading was taken, so
    the second samples over a span of its own (a half-written first reading counts as
    none)."""
    t = LocalTarget("local")
    path = tmp_path / ".top-after"
    since = Fact("top_processes", lambda r, w: top_since(str(path)), parse_top_processes)
    (tmp_path / ".top-after.part").write_text("t0 12")
    out = t.run(gather_script([since], "", str(tmp_path))).stdout
    assert f"span {TOP_SPAN_S}" in out
    assert isinstance(split_and_parse(out, since), list)
    path.write_text("t0 not-a-number\n")
    out = t.run(gather_script([since], "", str(tmp_path))).stdout
    assert f"span {TOP_SPAN_S}" in out


def split_and_parse(out: str, fact: Fact):
    text, code = split_sections(out)[fact.name]
    return fact.process(text, code)


def test_top_read_without_a_sample_is_unknown_or_sampled_now(tmp_path):
    t = LocalTarget("local")
    path = str(tmp_path / ".top-after")
    unknown = Fact("top_processes", lambda r, w: top_read(path, False), parse_top_processes)
    now = Fact("top_processes", lambda r, w: top_read(path, True), parse_top_processes)
    assert gather(t, "", str(tmp_path), [unknown])["top_processes"] is None
    assert isinstance(gather(t, "", str(tmp_path), [now])["top_processes"], list)


def test_facts_gathered_in_the_background_are_read_whole_by_a_later_round_trip(tmp_path):
    """The facts after the restore start in the pull's round trip and are read in the
    unlock's: the launching command prints nothing and returns before they are done; the
    reader waits for the whole output and gets what gathering them in line gives."""
    t = LocalTarget("local")
    path = str(tmp_path / ".facts-after")
    slow = Fact("slow", lambda r, w: "sleep 0.3; echo done", lambda out, code: out.strip())
    facts = [f for f in facts_for() if f.name in ("kernel", "memory")] + [slow]
    script = gather_script(facts, "", str(tmp_path))
    launched = t.run(detached(script, path))
    assert launched.stdout == "" and not Path(path).exists()
    later = split_sections(t.run(read_detached(path, "echo not-launched", wait_s=30)).stdout)
    inline = split_sections(t.run(script).stdout)
    assert later.keys() == inline.keys() == {"kernel", "memory", "slow"}
    assert later["slow"] == ("done", 0) and later["kernel"] == inline["kernel"]


def test_facts_never_launched_or_cut_short_are_gathered_then_or_read_as_they_are(tmp_path):
    t = LocalTarget("local")
    path = str(tmp_path / ".facts-after")
    assert t.run(read_detached(path, "echo gathered-now", wait_s=30)).stdout == "gathered-now\n"
    # a script that exits early still leaves its output in place: no wait for a deadline
    t.run(detached("echo partial; exit 1", path))
    start = time.monotonic()
    out = t.run(read_detached(path, "echo gathered-now", wait_s=30)).stdout
    assert out == "partial\n" and time.monotonic() - start < 25
