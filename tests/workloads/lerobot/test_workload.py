"""The lerobot-record command line for every experiment and LeRobot version family."""

import shlex

import pytest

from labkit.config.inventory import Inventory
from labkit.config.params import parse_set
from labkit.config.plan import resolve
from labkit.config.playbook import load_playbook
from labkit.errors import ConfigError, PlaybookError
from labkit.workloads.lerobot import LerobotRecord
from labkit.workloads.lerobot.flags import CommandError, Version, record_argv
from tests.conftest import REPO
from tests.labhost import write_inventory

FAMILIES = {"0.3.3": "0.3", "0.4.4": "0.4-0.5", "0.5.1": "0.4-0.5", "0.6.1": "0.6+"}


def _flags(argv):
    return dict(a[2:].split("=", 1) for a in argv[1:])


@pytest.fixture(scope="module")
def pb():
    return load_playbook(REPO / "playbooks/lerobot-loop-lag.yml")


@pytest.fixture(scope="module")
def inv():
    return Inventory(REPO / "inventory/hosts.yml")


@pytest.mark.parametrize("version", ["0.4.4", "0.5.1", "0.6.1"])
@pytest.mark.parametrize("exp", ["exp1", "exp2b", "exp3", "exp4", "exp5", "exp6", "exp7"])
def test_every_experiment_every_family(pb, inv, exp, version):
    plan = resolve(pb, inv, exp, "sim")
    plan.version = Version.parse(version)
    argv = plan.workload.argv(plan)
    flags = _flags(argv)
    params = pb.params_for(exp)
    assert argv[0] == "lerobot-record"
    assert flags["dataset.fps"] == str(params["dataset.fps"])
    assert flags["dataset.push_to_hub"] == "false" and flags["display_data"] == "false"
    assert flags["dataset.streaming_encoding"] == str(params["dataset.streaming_encoding"]).lower()
    assert flags["dataset.root"].endswith(f"/runs/{exp}/<run-id>/dataset")
    assert flags["robot.type"] == "bi_dk1_follower"
    assert flags["robot.right_arm_port"] == "/dev/ttyACM0"
    assert flags["teleop.left_arm_port"] == "/dev/ttyACM3"
    cams = flags["robot.cameras"]
    assert cams.count("type: opencv") == len(params["cameras"])
    if version.startswith("0.6"):
        assert flags["dataset.rgb_encoder.vcodec"] == "auto" and "dataset.vcodec" not in flags
        assert flags["dataset.no_stamp"] == "true"
    else:
        assert flags["dataset.vcodec"] == "auto" and "dataset.rgb_encoder.vcodec" not in flags
        assert "dataset.no_stamp" not in flags
    if exp == "exp5":
        assert cams.count("fourcc: MJPG, backend: 200") == 3
    # the shell string splits back into exactly the argv
    assert shlex.split(shlex.join(plan.workload_command()))[-len(argv) :] == argv


def test_exp5_cameras_dict_exactly(pb, inv):
    plan = resolve(pb, inv, "exp5", "sim")
    argv = plan.workload.argv(plan)
    assert _flags(argv)["robot.cameras"] == (
        "{context: {type: opencv, index_or_path: /dev/video0, width: 640, height: 480, fps: 30,"
        " fourcc: MJPG, backend: 200}, right_wrist: {type: opencv, index_or_path: /dev/video2,"
        " width: 640, height: 480, fps: 30, fourcc: MJPG, backend: 200}, left_wrist: {type:"
        " opencv, index_or_path: /dev/video4, width: 640, height: 480, fps: 30, fourcc: MJPG,"
        " backend: 200}}"
    )


def test_exp7_scheduling_prefix(pb, inv):
    cmd = resolve(pb, inv, "exp7", "sim").workload_command()
    assert cmd[:6] == ["taskset", "-c", "2-13", "nice", "-n", "-10"]


def test_old_family_rejects_streaming(pb, inv):
    plan = resolve(pb, inv, "exp1", "sim")
    plan.version = Version.parse("0.3.3")
    with pytest.raises(CommandError, match="needs lerobot >= 0.4"):
        plan.workload.argv(plan)
    # what 0.3 does anyway (no streaming, its own codec) is no error, and is left off
    for key in ("camera.width", "camera.height", "camera.fps", "dataset.encoder_threads"):
        del plan.params[key]
    plan.params["dataset.streaming_encoding"] = False
    plan.params["dataset.vcodec"] = "libsvtav1"
    flags = _flags(plan.workload.argv(plan))
    assert "dataset.streaming_encoding" not in flags and "dataset.vcodec" not in flags
    assert "width" not in flags["robot.cameras"]


OLD_PB = """name: old
lerobot_version: "0.3.3"
record:
  dataset: {repo_id: x/y, single_task: t, fps: 30, episode_time_s: 5}
  cameras: [context]
experiments:
  - name: plain
  - name: mjpg
    params:
      camera.fourcc: MJPG
"""


@pytest.fixture
def old_pb(tmp_path):
    (tmp_path / "old.yml").write_text(OLD_PB)
    return load_playbook(tmp_path / "old.yml")


@pytest.fixture
def old_inv(tmp_path):
    """Host `sim` running lerobot 0.3.3 (its host vars win over the group's 0.4.4)."""
    host = {"ansible_connection": "local", "labkit_lerobot_version": "0.3.3"}
    return Inventory(write_inventory(tmp_path / "hosts.yml", {"sim": host}))


@pytest.mark.parametrize(
    ("exp", "sets", "key", "where"),
    [
        ("plain", ["dataset.encoder_threads=4"], "dataset.encoder_threads=4", "--set"),
        ("mjpg", [], "camera.fourcc='MJPG'", "experiment mjpg"),
        ("plain", ["camera.width=1280"], "camera.width=1280", "--set"),
    ],
)
def test_a_parameter_the_hosts_lerobot_lacks_is_an_error_naming_it(old_pb, old_inv, exp, sets, key,
                                                                   where):  # fmt: skip
    with pytest.raises(ConfigError) as err:
        resolve(old_pb, old_inv, exp, "sim", parse_set(sets, old_pb.known_params()))
    msg = str(err.value)
    assert f"{key} ({where}) needs lerobot >= 0.4" in msg and "this host runs 0.3.3" in msg


def test_labkits_own_defaults_the_version_lacks_are_left_out_of_command_and_record(old_pb, old_inv):
    plan = resolve(old_pb, old_inv, "plain", "sim")
    assert "camera.width" not in plan.params and "camera.fps" not in plan.params
    cams = _flags(plan.workload.argv(plan))["robot.cameras"]
    assert "width" not in cams and "fps" not in cams
    assert plan.params["dataset.fps"] == 30


def test_version_families():
    for text, family in FAMILIES.items():
        assert Version.parse(text).family == family


def test_bi_so_follower_cameras_per_arm_before_06():
    params = {"cameras": ["top"], "dataset.fps": 30}
    kw = dict(
        robot={"type": "bi_so_follower"},
        teleop={"type": "bi_so_leader"},
        camera_devices={"top": "/dev/video0"},
        dataset_root="/r",
    )
    old = _flags(record_argv(params, version=Version.parse("0.5.1"), **kw))
    new = _flags(record_argv(params, version=Version.parse("0.6.1"), **kw))
    assert "robot.left_arm_config.cameras" in old and "robot.cameras" in new


def test_shell_metacharacters_stay_literal(pb, inv):
    sets = parse_set(
        ["dataset.single_task=pick $(rm -rf /); echo 'x' `id` & done"], pb.known_params()
    )
    plan = resolve(pb, inv, "exp1", "sim", sets)
    line = shlex.join(plan.workload_command())
    assert shlex.split(line)[
        plan.workload_command().index(
            "--dataset.single_task=pick $(rm -rf /); echo 'x' `id` & done"
        )
    ]


def test_set_overrides_and_unknown_camera(pb, inv):
    plan = resolve(
        pb, inv, "exp2b", "sim", parse_set(["dataset.fps=25", "cameras=context"], pb.known_params())
    )
    assert plan.params["dataset.fps"] == 25 and plan.params["cameras"] == ["context"]
    with pytest.raises(ConfigError, match="camera 'top' is not among host sim's"):
        resolve(pb, inv, "exp1", "sim", parse_set(["cameras=top"], pb.known_params()))


def test_unknown_camera_in_playbook_names_line(tmp_path, inv):
    p = tmp_path / "pb.yml"
    p.write_text(
        "name: x\nrecord:\n  cameras: [context]\nexperiments:\n  - name: a\n"
        "    params:\n      cameras: [context, top]\n"
    )
    with pytest.raises(PlaybookError) as err:
        resolve(load_playbook(p), inv, "a", "sim")
    assert err.value.line == 7 and "'top'" in str(err.value)


def test_a_run_is_tallied_by_its_warnings_and_the_lowest_warned_rate():
    t = LerobotRecord.tally({"warnings": 1, "min_hz": 9.6, "median_hz": 12.0})
    assert (t.header, t.noun, t.count, t.floor_hz, t.has_floor) == (
        "warnings",
        "slow-loop warnings",
        1,
        9.6,
        True,
    )
    assert t.line == "1 warning, min 9.6 Hz"
    assert LerobotRecord.tally({"warnings": 0, "min_hz": None}).line == "0 warnings"
    assert LerobotRecord.tally({}).noun == ""  # a run without a summary counted nothing
