"""The simulated Jetson, deployed and driven through a real sshd on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys

import pytest

from labkit.parse import read_tegrastats
from labkit.sim import deploy
from labkit.sim.deploy import bundle, install_script, paths
from labkit.sim.root import BOARDS, apply_mode, init_root
from labkit.workloads.lerobot.log import read_record_log, summarize_record_log

DEVICES = ["/dev/video0", "/dev/video2", "/dev/video4", "/dev/ttyACM0", "/dev/ttyACM1"]


def cams(names_fps: list[tuple[str, str]], fps: int = 30) -> str:
    body = ", ".join(
        f"{n}: {{type: opencv, index_or_path: {d}, width: 640, height: 480, fps: {fps}}}"
        for n, d in names_fps
    )
    return "{" + body + "}"


THREE = [("context", "/dev/video0"), ("right_wrist", "/dev/video2"), ("left_wrist", "/dev/video4")]


@pytest.fixture(scope="module")
def remote(sshd, tmp_path_factory):
    """The simulator deployed over SSH into a fresh work dir; returns (server, paths)."""
    workdir = str(tmp_path_factory.mktemp("simhost"))

    def deploy(config: dict) -> None:
        script = install_script(
            workdir, python=sys.executable, config={"devices": DEVICES, **config}
        )
        sshd.run(f"sh -c {shlex.quote(script)}", input=bundle())

    deploy({})
    return sshd, paths(workdir), deploy, workdir


def sh(remote, command: str, timeout: float = 120, check: bool = False):
    server, p, _, _ = remote
    env = f"export PATH={shlex.quote(p['bin'])}:$PATH;"
    return server.run(f"{env} {command}", timeout=timeout, check=check)


def record(remote, name: str, cameras: str, fps: int, streaming: bool, seconds: float = 4):
    _, _, _, workdir = remote
    argv = [
        "lerobot-record",
        "--robot.type=bi_dk1_follower",
        "--robot.right_arm_port=/dev/ttyACM0",
        "--robot.left_arm_port=/dev/ttyACM1",
        f"--robot.cameras={cameras}",
        "--teleop.type=bi_dk1_leader",
        "--dataset.repo_id=t/sim",
        "--dataset.single_task=test",
        f"--dataset.fps={fps}",
        f"--dataset.episode_time_s={seconds}",
        "--dataset.reset_time_s=0",
        "--dataset.num_episodes=1",
        "--dataset.push_to_hub=false",
        f"--dataset.streaming_encoding={'true' if streaming else 'false'}",
        "--dataset.encoder_threads=2",
        "--dataset.vcodec=auto",
        f"--dataset.root={workdir}/runs/{name}/dataset",
        "--display_data=false",
        "--play_sounds=false",
    ]
    res = sh(remote, shlex.join(argv) + f" 2> {workdir}/{name}.log")
    log = sh(remote, f"cat {workdir}/{name}.log", check=True).stdout.decode()
    return res, log


def test_tegrastats_over_ssh_parses_without_skips(remote):
    _, p, _, workdir = remote
    log = f"{workdir}/teg.log"
    sh(remote, f"timeout -s TERM 2.3 tegrastats --interval 200 --logfile {log}; true", check=True)
    text = sh(remote, f"cat {log}", check=True).stdout.decode()
    df = read_tegrastats(text.splitlines(keepends=True))
    assert len(df) >= 8 and df.attrs["skipped"] == 0
    assert df.attrs["board_hint"] == "thor"
    assert [c for c in df.columns if c.endswith("_load_pct") and c.startswith("cpu")] == [
        f"cpu{i}_load_pct" for i in range(14)
    ]
    assert df["ram_total_mb"].iloc[0] > 0 and df["time"].notna().all()
    assert df["cpu0_load_pct"].between(0, 100).all()


def test_tegrastats_start_stop_daemon(remote):
    _, p, _, workdir = remote
    log = f"{workdir}/daemon.log"
    sh(remote, f"tegrastats --interval 100 --logfile {log} --start", check=True)
    sh(remote, "sleep 0.6", check=True)
    sh(remote, "tegrastats --stop", check=True)
    n1 = len(sh(remote, f"cat {log}", check=True).stdout.splitlines())
    sh(remote, "sleep 0.4", check=True)
    n2 = len(sh(remote, f"cat {log}", check=True).stdout.splitlines())
    assert n1 >= 3 and n1 == n2  # stopped: no more lines


def test_nvpmodel_and_jetson_clocks(remote):
    assert sh(remote, "nvpmodel -q", check=True).stdout.decode() == "NV Power Mode: 120W\n1\n"
    sh(remote, "nvpmodel -m 0", check=True)
    assert sh(remote, "nvpmodel -q", check=True).stdout.decode().startswith("NV Power Mode: MAXN")
    sh(remote, "nvpmodel -m 1", check=True)
    assert sh(remote, "nvpmodel -m 9").returncode != 0
    show = sh(remote, "jetson_clocks --show", check=True).stdout.decode()
    assert show.startswith("SOC family:tegra264  Machine:NVIDIA Jetson AGX Thor")
    # as the real Thor prints it (jetson-real/jetson_clocks_show__thor_r38.2_maxn_pinned.txt)
    assert "Online CPUs: 0-13" in show and "\ncpu13: Governor=schedutil" in show
    _, p, _, workdir = remote
    store = f"{workdir}/clocks.conf"
    sh(remote, f"jetson_clocks --store {store} && jetson_clocks", check=True)
    assert "MinFreq=2601000 MaxFreq=2601000" in sh(remote, "jetson_clocks --show").stdout.decode()
    sh(remote, f"jetson_clocks --restore {store}", check=True)
    assert (
        "cpu0:  Governor=schedutil MinFreq=972000 MaxFreq=2601000"
        in sh(remote, "jetson_clocks --show").stdout.decode()
    )


@pytest.mark.slow  # over 9 s on 2 cores: the full suite only
def test_loaded_rig_misses_far_more_deadlines_than_light_one(remote):
    _, _, deploy, _ = remote
    deploy({"jitter": {"rate": 0.1, "stall_ms": 80, "seed": 1}})
    res, loaded_log = record(remote, "loaded", cams(THREE), 30, streaming=True)
    assert res.returncode == 0, loaded_log
    deploy({})
    res, light_log = record(remote, "light", cams(THREE[:1]), 20, streaming=False)
    assert res.returncode == 0, light_log
    loaded = summarize_record_log(read_record_log(loaded_log.splitlines()))
    light = summarize_record_log(read_record_log(light_log.splitlines()))
    assert loaded["slow_loop_count"] >= 5
    assert loaded["slow_loop_count"] >= 3 * max(1, light["slow_loop_count"])
    assert loaded["codec"] == "h264_nvenc" and loaded["episodes"] == 1


def test_record_log_has_every_event_kind_in_lerobot_format(remote):
    _, _, deploy, workdir = remote
    deploy({"jitter": {"rate": 0.1, "stall_ms": 150, "seed": 2}})
    res, log = record(remote, "kinds", cams(THREE), 30, streaming=True, seconds=3)
    assert res.returncode == 0
    df = read_record_log(log.splitlines())
    kinds = set(df["kind"])
    assert {"config", "codec", "episode_start", "slow_loop", "stop", "exit"} <= kinds
    assert "other" not in kinds and "error" not in kinds
    warn = df[df["kind"] == "slow_loop"].iloc[0]
    assert warn["location"] == "t_record.py:423" and warn["target_hz"] == 30
    info = json.loads(
        sh(remote, f"cat {workdir}/runs/kinds/dataset/meta/info.json", check=True).stdout
    )
    assert info["total_episodes"] == 1 and info["total_frames"] > 30


def test_bad_flag_and_existing_root_fail_like_lerobot(remote):
    res = sh(remote, "lerobot-record --robot.type=x --dataset.fsp=30")
    assert res.returncode == 2 and b"unrecognized arguments: --dataset.fsp" in res.stderr
    _, _, _, workdir = remote
    sh(remote, f"mkdir -p {workdir}/exists", check=True)
    res = sh(
        remote,
        f"lerobot-record --robot.type=x --dataset.root={workdir}/exists --dataset.episode_time_s=1",
    )
    assert res.returncode == 1 and b"FileExistsError" in res.stderr


def test_local_deploy_without_ssh(tmp_path):
    script = install_script(str(tmp_path), python=sys.executable)
    subprocess.run(["sh", "-c", script], input=bundle(), check=True)
    out = subprocess.run(
        [str(tmp_path / "sim/bin/nvpmodel"), "-q"], capture_output=True, text=True, check=True
    )
    assert out.stdout.splitlines()[0] == "NV Power Mode: 120W"


def test_taskset_maps_the_boards_cpus_onto_real_ones(remote):
    real = sorted(os.sched_getaffinity(0))
    probe = "python3 -c 'import os; print(sorted(os.sched_getaffinity(0)))'"
    res = sh(remote, f"taskset -c 2-13 {probe}")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == sorted({real[i % len(real)] for i in range(2, 14)})
    res = sh(remote, f"taskset -c 1 {probe}")
    assert json.loads(res.stdout) == [real[1 % len(real)]]
    res = sh(remote, "taskset -c 14 true")  # the board has CPUs 0-13 only
    assert res.returncode == 1 and b"Invalid argument" in res.stderr
    res = sh(remote, "taskset -c 3-1 true")
    assert res.returncode == 1 and b"failed to parse CPU list" in res.stderr


def nvpmodel_q(root) -> subprocess.CompletedProcess:
    """``nvpmodel -q`` through the simulator's entry, on the simulated root ``root``."""
    return subprocess.run(
        [sys.executable, "-m", "labkit.sim", "nvpmodel", "-q"],
        env={**os.environ, "LABKIT_SIM_ROOT": str(root)},
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize("key", sorted(BOARDS))
def test_nvpmodel_query_names_every_mode_of_every_board_as_its_profile(tmp_path, key):
    """``nvpmodel -q`` reads the conf and the mode in effect, as the real tool does: the
    answer is the board profile's, for its default mode and for each mode applied."""
    root = tmp_path / "root"
    init_root(root, {"board": key})
    b = BOARDS[key]

    def q() -> str:
        res = nvpmodel_q(root)
        assert res.returncode == 0, res.stderr
        return res.stdout

    assert q() == f"NV Power Mode: {b.modes[b.default_mode].name}\n{b.default_mode}\n"
    for ident, mode in b.modes.items():
        apply_mode(root, b, ident)
        assert q() == f"NV Power Mode: {mode.name}\n{ident}\n"


def test_nvpmodel_query_starts_without_the_board_profiles(tmp_path):
    # what every run's facts call twice: neither the profiles' module nor what it needs
    # (dataclasses, json) is imported for it
    root = tmp_path / "root"
    init_root(root, {})
    code = (
        "import sys; sys.argv = ['labkit.sim', 'nvpmodel', '-q']; "
        "from labkit.sim.__main__ import main; main(); "
        "print(sorted(m for m in ('labkit.sim.root', 'labkit.sim.reboot', 'json', "
        "'dataclasses') if m in sys.modules))"
    )
    env = {**os.environ, "LABKIT_SIM_ROOT": str(root)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, check=True).stdout  # fmt: skip
    assert out.splitlines() == ["NV Power Mode: 120W", "1", "[]"]


def test_nvpmodel_query_without_the_conf_is_answered_by_the_profile(tmp_path):
    # a board without /etc/nvpmodel.conf (labkit learns of a reboot from nvpmodel's
    # warning only): the profile names the mode; one it does not know is an error
    root = tmp_path / "root"
    init_root(root, {})
    (root / "etc/nvpmodel.conf").unlink()
    apply_mode(root, BOARDS["thor"], 0)
    res = nvpmodel_q(root)
    assert (res.returncode, res.stdout) == (
        0,
        f"NV Power Mode: {BOARDS['thor'].modes[0].name}\n0\n",
    )
    (root / "etc/nvpmodel_mode").write_text("7\n")
    res = nvpmodel_q(root)
    assert res.returncode == 1
    assert res.stderr == "NVPM ERROR: power mode 7 is not one of this board's\n"


def test_bundle_id_follows_the_simulators_code_and_configuration(tmp_path, monkeypatch):
    # the installed simulator is replaced when its id changes: by any file's content or
    # the configuration, not by anything else
    pkg = tmp_path / "sim"
    pkg.mkdir()
    for f in sorted(deploy.PKG.glob("*.py")):
        (pkg / f.name).write_bytes(f.read_bytes())
    monkeypatch.setattr(deploy, "PKG", pkg)
    first = deploy.bundle_id({"board": "thor"})
    assert deploy.bundle_id({"board": "thor"}) == first
    assert deploy.bundle_id({"board": "orin"}) != first
    (pkg / "nvpmodel.py").write_text((pkg / "nvpmodel.py").read_text() + "\n")
    assert deploy.bundle_id({"board": "thor"}) != first
