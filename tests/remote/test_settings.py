"""Restoring a journal: every undo in one round trip, a failing one named, the journal kept
until everything came back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest
import yaml

from labkit.errors import RemoteError
from labkit.remote.settings import journal_path, restore_journal
from labkit.remote.target import LocalTarget
from tests.conftest import REPO
from tests.labhost import (
    env,
    invoke,
    invoke_argv,
    sim_tool,
    ssh_host,
    trust,
    wait_for,
    write_inventory,
)


def journal(tmp_path, entries):
    body = {"run_id": "r1", "changes": entries}
    path = tmp_path / "state" / "restore.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body))
    return body


def entry(key, *undo):
    return {"key": key, "before": "old", "undo": list(undo), "sudo": False}


def test_all_undos_run_last_first_and_the_journal_goes(tmp_path):
    t = LocalTarget("local")
    out = tmp_path / "order"
    journal(tmp_path, [entry("a", f"echo a >> {out}"), entry("b", f"echo b >> {out}")])
    said = []
    done = restore_journal(t, str(tmp_path), log=said.append)
    assert [e["key"] for e in done] == ["b", "a"]
    assert out.read_text() == "b\na\n"
    assert said == ["  restored b -> old", "  restored a -> old"]
    assert not (tmp_path / "state" / "restore.json").exists()


def test_a_failing_undo_is_named_the_others_still_run_and_the_journal_stays(tmp_path):
    t = LocalTarget("local")
    out = tmp_path / "ran"
    body = journal(
        tmp_path,
        [
            entry("governor", f"echo governor >> {out}"),
            entry("sysctl", "echo cannot write >&2; false"),
        ],
    )
    with pytest.raises(RemoteError) as err:
        restore_journal(t, str(tmp_path), log=lambda m: None)
    msg = str(err.value)
    assert "could not restore every setting" in msg and journal_path(str(tmp_path)) in msg
    assert "sysctl: exited 1: cannot write" in msg and "governor" not in msg.split("\n", 1)[1]
    assert out.read_text() == "governor\n"  # the later entry was still undone
    assert (tmp_path / "state" / "restore.json").exists()
    # the journal as the run wrote it (no read back) gives the same result
    with pytest.raises(RemoteError, match="sysctl: exited 1"):
        restore_journal(t, str(tmp_path), log=lambda m: None, journal=body)


# -- over a real sshd, on the simulated boards ------------------------------------------

PLAYBOOK = {
    "name": "boards",
    "description": "issue 14: real boards' nvpmodel and jetson_clocks",
    "lerobot_version": "0.4.4",
    "record": {
        "dataset": {
            "repo_id": "labkit/boards",
            "single_task": "t",
            "fps": 30,
            "episode_time_s": 2,
            "reset_time_s": 0,
            "num_episodes": 1,
            "push_to_hub": False,
            "streaming_encoding": True,
        },
        "display_data": False,
        "cameras": ["context"],
    },
    "settings": {},
    "experiments": [
        {"name": "clocks", "settings": {"jetson_clocks": True}},
        {"name": "unpinned", "settings": {"jetson_clocks": False}},
        {"name": "mode2", "settings": {"nvpmodel": 2, "cpu_governor": "performance"}},
        {"name": "gov", "settings": {"cpu_governor": "performance"}},
        {"name": "mode0", "settings": {"nvpmodel": 0}},
        {"name": "maxn_clocks", "settings": {"nvpmodel": 2, "jetson_clocks": True}},
    ],
}


@pytest.fixture
def board(sshd, tmp_path, fake_home):
    """``board(name, **host vars)``: an inventory with host ``b`` (a simulated board of
    that kind behind the test sshd), a playbook, a run store; ``.run(task, ...)``."""

    trust(fake_home, sshd)
    pb = tmp_path / "boards.yml"
    pb.write_text(yaml.safe_dump(PLAYBOOK, sort_keys=False))

    def make(kind: str, sim: dict | None = None, **extra):
        workdir = tmp_path / f"wd-{kind}"
        host = ssh_host(sshd, workdir, **extra)
        host["labkit_sim"] = {**host["labkit_sim"], "board": kind, **(sim or {})}
        inv = write_inventory(tmp_path / f"hosts-{kind}.yml", {"b": host})

        class Board:
            wd = workdir
            root = workdir / "sim" / "root"
            runs = tmp_path / "runs"

            def run(self, task: str, *args: str, timeout: float = 240):
                store = ("--runs", str(self.runs)) if task == "experiment" else ()
                base = ("--target", "b", "--inventory", str(inv), "--playbook", str(pb))
                return invoke(task, *base, *store, *args, home=fake_home, timeout=timeout)

            def argv(self, task: str, *args: str) -> list[str]:
                return invoke_argv(
                    task, "--target", "b", "--inventory", str(inv), "--playbook", str(pb),
                    "--runs", str(self.runs), *args,
                )  # fmt: skip

            def read(self, rel: str) -> str:
                return (self.root / rel).read_text().strip()

            def cpu(self, i: int, leaf: str) -> str:
                return self.read(f"sys/devices/system/cpu/cpu{i}/cpufreq/{leaf}")

        b = Board()
        res = b.run("facts", "--json")  # installs the simulator
        assert res.returncode == 0, res.stdout + res.stderr
        return b

    return make


def _untouched_state(b) -> tuple:
    return (
        b.read("etc/nvpmodel_mode"),
        b.read("proc/sys/kernel/random/boot_id"),
        [b.cpu(i, "scaling_governor") for i in range(14)],
        [b.cpu(i, "scaling_min_freq") for i in range(14)],
    )


@pytest.mark.slow  # over 9 s on 2 cores: the full suite only
def test_two_jetson_clocks_runs_in_a_row(board):
    """The store file is fresh each run: the second run is not stopped by jetson_clocks'
    "already exists. Can I overwrite it? Y/N:" prompt."""

    b = board("thor")
    for n in (1, 2):
        res = b.run("experiment", "--name", "clocks")
        assert res.returncode == 0, f"run {n}:\n{res.stdout}{res.stderr}"
        assert "jetson_clocks: off -> on" in res.stdout
    mfs = [json.loads(p.read_text()) for p in sorted(b.runs.glob("clocks/*/manifest.json"))]
    assert [m["status"] for m in mfs] == ["complete", "complete"]
    for m in mfs:
        [c] = m["settings_changes"]
        assert c["key"] == "jetson_clocks" and c["applied"] and c["restored"]
    assert [b.cpu(i, "scaling_min_freq") for i in range(14)] == ["972000"] * 14
    assert not list((b.wd / "state").glob("l4t_dfs.conf*"))
    assert not (b.wd / "state" / "restore.json").exists()


def test_capped_mode_pinning_reads_as_pinned_on_orin_nano(board):
    b = board("orin-nano")  # starts in 25W: CPU cap 1344000 below the hw max 1728000
    sim_tool(b.wd, "jetson_clocks")
    facts = json.loads(b.run("facts", "--json").stdout)
    assert facts["nvpmodel"] == {"name": "25W", "id": 1}
    cpu0 = facts["cpu"]["cpus"]["0"]
    assert (cpu0["min_khz"], cpu0["max_khz"], cpu0["hw_max_khz"]) == (1344000, 1344000, 1728000)
    assert facts["cpu"]["clocks_pinned"] is True
    # the "before" state is read right: a plan wanting clocks on changes nothing, and one
    # wanting them off is refused (labkit only undoes clocks it pinned itself)
    check = b.run("experiment", "--name", "clocks", "--check")
    assert check.returncode == 0, check.stderr
    assert "jetson_clocks: on (unchanged)" in check.stdout
    off = b.run("experiment", "--name", "unpinned")
    assert off.returncode == 2 and "jetson_clocks is on and the playbook wants it off" in (
        off.stdout + off.stderr
    )


def test_a_restore_that_silently_fails_is_caught_by_reading_sysfs_back(board):
    b = board("thor", sim={"restore_fails": [2]})  # the restore cannot write cpu2
    res = b.run("experiment", "--name", "clocks")
    assert res.returncode == 1, res.stdout + res.stderr
    [mf] = b.runs.glob("clocks/*/manifest.json")
    m = json.loads(mf.read_text())
    assert m["status"] == "failed"
    assert "jetson_clocks --restore exited 0 but the CPU clocks read back differ" in m["error"]
    assert "cpu2/cpufreq/scaling_min_freq:2601000" in m["error"]
    assert m["settings_changes"][0]["restored"] is False
    assert (b.wd / "state" / "restore.json").exists()  # kept for `invoke restore`


def test_a_reboot_only_mode_is_refused_with_nothing_changed(board):
    b = board("thor")
    before = _untouched_state(b)
    res = b.run("experiment", "--name", "mode2")
    assert res.returncode == 2, res.stdout + res.stderr
    out = res.stdout + res.stderr
    assert "settings.nvpmodel 2 (90W) needs a reboot" in out
    assert "mode 1 (120W)" in out and "labkit_allow_reboot: true" in out
    assert _untouched_state(b) == before
    assert not (b.wd / "lock").exists()
    assert not (b.wd / "state" / "restore.json").exists()
    assert not list(b.runs.glob("mode2/*/manifest.json"))


@pytest.mark.slow  # over 9 s on 2 cores: the full suite only
def test_a_reboot_only_mode_allowed_end_to_end(board):
    """labkit answers the prompt, the board reboots (connection drops, back with a new
    boot id), the run records in mode 2 with the journal on the board's disk, and the
    mode is put back by rebooting again."""

    b = board("thor", sim={"reboot_s": 1.5}, labkit_allow_reboot=True, labkit_reboot_timeout_s=60)
    boot0 = b.read("proc/sys/kernel/random/boot_id")
    journal = b.wd / "state" / "restore.json"
    proc = subprocess.Popen(
        b.argv("experiment", "--name", "mode2"),
        cwd=REPO,
        env=env(Path(os.environ["HOME"])),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        # while it records: rebooted into mode 2, the journal still there after the reboot
        seen = wait_for(
            lambda: (
                list(b.wd.glob("runs/mode2/*/record.log"))
                and b.read("etc/nvpmodel_mode") == "2"
                and journal.exists()
                and json.loads(journal.read_text())
            ),
            timeout=120,
            what="the run recording in mode 2",
            step=0.1,
        )
        boot1 = b.read("proc/sys/kernel/random/boot_id")
        out, _ = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert boot1 != boot0
    entry = next(e for e in seen["changes"] if e["key"] == "nvpmodel")
    assert entry["reboot"] is True and entry["mode"] == 1
    assert proc.returncode == 0, out
    assert out.count("back after") == 2  # rebooted into mode 2 and back into mode 1
    [mf] = b.runs.glob("mode2/*/manifest.json")
    m = json.loads(mf.read_text())
    assert m["status"] == "complete", m.get("error")
    changes = {c["key"]: c for c in m["settings_changes"]}
    assert changes["nvpmodel"]["reboot"] and changes["nvpmodel"]["restored"]
    assert changes["cpu_governor"]["applied"] and changes["cpu_governor"]["restored"]
    assert b.read("etc/nvpmodel_mode") == "1"
    assert b.read("proc/sys/kernel/random/boot_id") not in (boot0, boot1)
    assert not journal.exists() and not (b.wd / "lock").exists()


def _popen(b, *args):
    return subprocess.Popen(
        b.argv(*args),
        cwd=REPO,
        env=env(Path(os.environ["HOME"])),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _while_recording(b, experiment: str, probe) -> tuple[int, str, object]:
    """Run ``experiment``; ``probe()`` once its recording has started; (exit code, output,
    what the probe saw)."""

    proc = _popen(b, "experiment", "--name", experiment)
    try:
        during = wait_for(
            lambda: list(b.wd.glob(f"runs/{experiment}/*/record.log")) and probe(),
            timeout=120,
            what="the run recording",
            step=0.1,
        )
        out, _ = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, out, during


@pytest.mark.slow  # over 9 s on 2 cores: the full suite only
def test_settings_right_before_a_reboot_are_applied_again_after_it_and_at_restore(board):
    """setup-host keeps governor=performance; a run into a reboot-only mode wanting the
    same governor finds it unchanged before the reboot, yet the boot resets it: the run
    records under performance (planned again on the post-reboot facts, which are the
    run's facts), and rebooting back puts performance back as the board had it."""

    b = board("thor", sim={"reboot_s": 1.0}, labkit_allow_reboot=True, labkit_reboot_timeout_s=60)
    res = b.run("setup-host", "--name", "gov")
    assert res.returncode == 0, res.stdout + res.stderr
    govs = lambda: [b.cpu(i, "scaling_governor") for i in range(14)]  # noqa: E731
    assert govs() == ["performance"] * 14
    boot0 = b.read("proc/sys/kernel/random/boot_id")
    rc, out, during = _while_recording(b, "mode2", lambda: (govs(), b.read("etc/nvpmodel_mode")))
    assert rc == 0, out
    assert during == (["performance"] * 14, "2")
    [mf] = b.runs.glob("mode2/*/manifest.json")
    m = json.loads(mf.read_text())
    assert m["facts"]["nvpmodel"]["id"] == 2 and m["facts"]["boot_id"] != boot0
    assert m["facts_before_reboot"]["nvpmodel"]["id"] == 1
    assert m["facts_before_reboot"]["boot_id"] == boot0
    gov = {c["key"]: c for c in m["settings_changes"]}["cpu_governor"]
    assert gov["before"] == {str(i): "schedutil" for i in range(14)} and gov["applied"]
    # the board ends as it started: mode 1, the governor setup-host kept
    assert b.read("etc/nvpmodel_mode") == "1"
    assert govs() == ["performance"] * 14
    assert not (b.wd / "state" / "restore.json").exists() and not (b.wd / "lock").exists()


def test_a_live_power_mode_switch_does_not_undo_pinning(board):
    """Orin Nano pinned in 25W; a run wants MAXN_SUPER (a live switch) with jetson_clocks
    on. `nvpmodel -m` resets the CPUs' mins, so the plan's "pinned" is stale: the run
    records pinned in the new mode, and the board ends pinned in 25W as it started."""

    b = board("orin-nano")
    sim_tool(b.wd, "jetson_clocks")

    def clocks():
        return [(b.cpu(i, "scaling_min_freq"), b.cpu(i, "scaling_max_freq")) for i in range(6)]

    assert clocks() == [("1344000", "1344000")] * 6
    probe = lambda: (b.read("etc/nvpmodel_mode"), clocks())  # noqa: E731
    rc, out, during = _while_recording(b, "maxn_clocks", probe)
    assert rc == 0, out
    assert during == ("2", [("1728000", "1728000")] * 6)
    [mf] = b.runs.glob("maxn_clocks/*/manifest.json")
    m = json.loads(mf.read_text())
    assert m["facts"]["cpu"]["clocks_pinned"] is True  # the host before the run's changes
    assert m["facts"]["nvpmodel"]["id"] == 1 and "facts_before_reboot" not in m
    jc = {c["key"]: c for c in m["settings_changes"]}["jetson_clocks"]
    assert (jc["before"], jc["after"], jc["applied"], jc["restored"]) == ("off", "on", True, True)
    assert b.read("etc/nvpmodel_mode") == "1"
    assert clocks() == [("1344000", "1344000")] * 6
    assert not (b.wd / "state" / "restore.json").exists() and not (b.wd / "lock").exists()


@pytest.mark.slow  # over 9 s on 2 cores: the full suite only
@pytest.mark.parametrize("link", ["ssh", "local"])
@pytest.mark.parametrize("when", ["at once", "while down"])
def test_ctrl_c_during_the_reboot_wait_leaves_the_board_in_its_mode(board, when, link):
    """SIGINT while labkit waits for the board to reboot into a reboot-only mode (as it
    goes down, or once it is down): the restore waits for that reboot, then reboots back,
    so the board ends in its original mode with its governor, no journal and no lock."""

    b = board(
        "agx-orin",
        sim={"reboot_s": 3.0},
        labkit_allow_reboot=True,
        labkit_reboot_timeout_s=60,
        **({"ansible_connection": "local"} if link == "local" else {}),
    )
    govs = [b.cpu(i, "scaling_governor") for i in range(8)]
    proc = _popen(b, "experiment", "--name", "mode0")
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if "rebooting (labkit_allow_reboot)" in line:
                break
        assert lines and "rebooting (labkit_allow_reboot)" in lines[-1], "".join(lines)
        if when == "while down":
            wait_for(
                (b.root / "run/rebooting").exists, timeout=30, what="the board down", step=0.02
            )
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    out = "".join(lines) + out
    assert proc.returncode == 130, out
    assert b.read("etc/nvpmodel_mode") == "2", out
    assert [b.cpu(i, "scaling_governor") for i in range(8)] == govs
    assert not (b.wd / "state" / "restore.json").exists(), out
    assert not (b.wd / "lock").exists(), out


@pytest.mark.slow  # over 9 s on 2 cores: the full suite only
def test_a_reboot_revealed_by_nvpmodels_warning_is_allowed(board):
    """Without /etc/nvpmodel.conf the need for a reboot shows only when nvpmodel warns;
    with labkit_allow_reboot: true labkit then reboots into the mode and back."""

    b = board("thor", sim={"reboot_s": 1.0}, labkit_allow_reboot=True, labkit_reboot_timeout_s=60)
    (b.root / "etc/nvpmodel.conf").unlink()
    res = b.run("experiment", "--name", "mode2")
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("back after") == 2, res.stdout
    [mf] = b.runs.glob("mode2/*/manifest.json")
    m = json.loads(mf.read_text())
    nv = {c["key"]: c for c in m["settings_changes"]}["nvpmodel"]
    assert (nv["reboot"], nv["applied"], nv["restored"]) == (True, True, True)
    assert b.read("etc/nvpmodel_mode") == "1"
    assert not (b.wd / "state" / "restore.json").exists()


def test_setup_host_reboots_into_a_mode_when_allowed_and_restore_setup_back(board):
    b = board("thor", sim={"reboot_s": 1.0}, labkit_allow_reboot=True, labkit_reboot_timeout_s=60)
    res = b.run("setup-host", "--name", "mode2")
    assert res.returncode == 0, res.stdout + res.stderr
    assert b.read("etc/nvpmodel_mode") == "2"
    assert [b.cpu(i, "scaling_governor") for i in range(14)] == ["performance"] * 14
    res = b.run("restore", "--setup")
    assert res.returncode == 0, res.stdout + res.stderr
    assert b.read("etc/nvpmodel_mode") == "1"
    assert [b.cpu(i, "scaling_governor") for i in range(14)] == ["schedutil"] * 14
