"""The target-side supervisor runs the workload and a list of probes (real processes)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from labkit.probes.base import ProbeLaunch

SUPERVISOR = Path(__file__).resolve().parents[2] / "src" / "labkit" / "remote" / "supervise.py"
PY = sys.executable

# a sampler that prints until stopped; on SIGINT/SIGTERM it says which and exits 0
SAMPLER = (
    "import signal,sys,time\n"
    "def bye(s,f):\n"
    "    print('stopped by', signal.Signals(s).name, flush=True); sys.exit(0)\n"
    "signal.signal(signal.SIGINT, bye); signal.signal(signal.SIGTERM, bye)\n"
    "print('target', sys.argv[1:], flush=True)\n"
    "while True: time.sleep(0.05)\n"
)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is not alive
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def supervise(tmp_path: Path, workload: list[str], probes: list[ProbeLaunch], **extra) -> dict:
    spec = {
        "run_dir": str(tmp_path),
        "workload_argv": workload,
        "workload_log": "output.log",
        "timeout_s": extra.pop("timeout_s", 30),
        "grace_s": 5,
        "probes": [p.spec() for p in probes],
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    subprocess.run([PY, str(SUPERVISOR), "spec.json"], cwd=tmp_path, check=True, timeout=60)
    return json.loads((tmp_path / "status.json").read_text())


def test_probes_start_before_and_attach_after_then_stop_exactly(tmp_path):
    before = ProbeLaunch("before", [PY, "sampler.py", "{run_dir}"], files={"sampler.py": SAMPLER})
    attached = ProbeLaunch(
        "attached",
        [PY, "sampler.py", "{pid}"],
        attach=True,
        log="attached.log",
        stop_signal="INT",
    )
    workload = [
        PY,
        "-c",
        "import os,time; print('workload', os.getpid(), flush=True); time.sleep(1)",
    ]
    st = supervise(tmp_path, workload, [before, attached])
    assert st["state"] == "done"
    assert st["workload_exit"] == 0
    assert 0.9 <= st["workload_s"] < 20
    assert "tegrastats_pid" not in st and "tegrastats_exit" not in st
    probes = st["probes"]
    assert set(probes) == {"before", "attached"}
    # the attached probe got the workload's pid; the other the run dir
    assert f"target ['{st['workload_pid']}']" in (tmp_path / "attached.log").read_text()
    assert f"target ['{tmp_path}']" in (tmp_path / "before.out").read_text()
    # each stopped by its own signal, exited 0, and is gone
    assert "stopped by SIGTERM" in (tmp_path / "before.out").read_text()
    assert "stopped by SIGINT" in (tmp_path / "attached.log").read_text()
    for name in ("before", "attached"):
        assert probes[name]["exit"] == 0
        assert probes[name]["error"] is None
        assert probes[name]["started_at"]
        assert not alive(probes[name]["pid"])
    assert (tmp_path / "sampler.py").read_text() == SAMPLER


def test_a_probe_that_cannot_start_or_exits_early_never_stops_the_workload(tmp_path):
    missing = ProbeLaunch("missing", ["/nonexistent/sampler", "--x"])
    early = ProbeLaunch("early", [PY, "-c", "import sys; print('bye'); sys.exit(3)"])
    # the workload ends once the supervisor has seen the early probe end by itself (a
    # condition, not a sleep: its status says so; the probe's last line comes before its
    # exit, which a supervisor that sees the workload end at once may not have seen yet)
    wait_early = (
        "import json,pathlib,time; f=pathlib.Path({!r}); d=time.monotonic()+30\n"
        "def ended():\n"
        "    try: return json.loads(f.read_text())['probes']['early'].get('ended')\n"
        "    except (OSError, ValueError, KeyError): return None\n"
        "while ended() != 'by itself' and time.monotonic()<d: time.sleep(0.02)\n"
        "print('done')".format(str(tmp_path / "status.json"))
    )
    workload = [PY, "-c", wait_early]
    st = supervise(tmp_path, workload, [missing, early])
    assert st["workload_exit"] == 0
    assert (tmp_path / "output.log").read_text().strip() == "done"
    assert st["probes"]["missing"]["pid"] is None
    assert "cannot start /nonexistent/sampler" in st["probes"]["missing"]["error"]
    assert st["probes"]["early"]["exit"] == 3
    assert st["probes"]["early"]["ended"] == "by itself"


@pytest.mark.slow  # over 9 s on 2 cores: the full suite only
def test_a_probe_that_ignores_its_stop_signal_is_killed(tmp_path, monkeypatch):
    stubborn = ProbeLaunch(
        "stubborn",
        [
            PY,
            "-c",
            "import signal,time,pathlib; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            f"pathlib.Path({str(tmp_path / 'ready')!r}).touch(); time.sleep(60)",
        ],
    )
    # the workload ends as soon as the probe ignores SIGTERM (a condition, not a sleep);
    # the supervisor then waits 10 s before SIGKILL
    wait_ready = (
        "import pathlib,time; d=time.monotonic()+30\n"
        f"while not pathlib.Path({str(tmp_path / 'ready')!r}).exists() and time.monotonic()<d:"
        " time.sleep(0.02)"
    )
    started = time.monotonic()
    st = supervise(tmp_path, [PY, "-c", wait_ready], [stubborn])
    assert st["probes"]["stubborn"]["killed"] is True
    assert st["probes"]["stubborn"]["exit"] == -9
    assert not alive(st["probes"]["stubborn"]["pid"])
    assert time.monotonic() - started < 45


def test_the_watchdog_stops_the_workload_and_the_probes(tmp_path):
    sampler = ProbeLaunch("s", [PY, "sampler.py", "x"], files={"sampler.py": SAMPLER})
    st = supervise(tmp_path, [PY, "-c", "import time; time.sleep(60)"], [sampler], timeout_s=1)
    assert st["stopped_by"] == "watchdog"
    assert st["stop_signal"] == "SIGINT"
    assert st["probes"]["s"]["exit"] == 0
    assert not alive(st["probes"]["s"]["pid"])


def test_probe_launch_checks_its_fields():
    with pytest.raises(ValueError, match="stop_signal must be INT or TERM"):
        ProbeLaunch("x", ["a"], stop_signal="HUP")
    with pytest.raises(ValueError, match="empty argv"):
        ProbeLaunch("x", [])
    assert ProbeLaunch("x", ["a"]).spec()["log"] == "x.out"
    assert ProbeLaunch("x", ["a", "{pid}", "{run_dir}/f"]).shown("/r") == [
        "a",
        "<workload pid>",
        "/r/f",
    ]


def test_the_end_watch_returns_as_the_workload_ends_and_not_before():
    spec = importlib.util.spec_from_file_location("supervise", SUPERVISOR)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    proc = subprocess.Popen([PY, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        watch = mod.EndWatch(proc)
        begun = time.monotonic()
        watch.wait(0.3)  # its time is up: back with the process still running, not before
        assert time.monotonic() - begun >= 0.3
        assert proc.poll() is None
        proc.stdin.close()  # the process ends: the wait returns then, not after 600 s
        watch.wait(600)
        assert proc.wait(timeout=5) == 0
        watch.close()
    finally:
        proc.kill()
        proc.wait()
