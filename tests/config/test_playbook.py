import pytest
import yaml

from labkit.config.playbook import load_playbook
from labkit.errors import ConfigError
from tests.conftest import DATA, REPO

BAD = DATA / "playbooks/bad"
CASES = yaml.safe_load((BAD / "cases.yaml").read_text())


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_playbook_names_file_line_field(name):
    case = CASES[name]
    with pytest.raises(ConfigError) as err:
        load_playbook(BAD / name)
    exc = err.value
    assert exc.file.endswith(name)
    assert exc.line == case["line"]
    assert exc.field == case["field"]
    for word in case["words"]:
        assert word in str(exc)


def test_shipped_playbook_reproduces_the_seed():
    pb = load_playbook(REPO / "playbooks/lerobot-loop-lag.yml")
    assert list(pb.experiments) == [
        f"exp{i}" for i in ("1", "2b", "3", "4", "5", "6", "7", "8", "9")
    ]
    assert [h.id for h in pb.model.hypotheses] == ["H1", "H2", "H3", "H4", "H5", "H6", "H7", "H8"]
    assert pb.probes["exp8"] == ["tegrastats", "threads", "pyspy"]
    assert pb.probes["exp9"] == ["tegrastats", "runq"]
    assert pb.probes["exp1"] == ["tegrastats"]
    assert pb.monitor_interval_ms == 1000
    base = pb.params_for("exp1")
    assert base["dataset.fps"] == 30 and base["camera.fps"] == 30
    assert base["cameras"] == ["context", "right_wrist", "left_wrist"]
    assert base["display_data"] is False and base["dataset.push_to_hub"] is False
    assert base["dataset.streaming_encoding"] is True and base["dataset.vcodec"] == "auto"
    assert pb.params_for("exp2b")["dataset.fps"] == 20
    assert pb.params_for("exp2b")["camera.fps"] == 30
    assert pb.params_for("exp3")["cameras"] == ["context"]
    assert pb.params_for("exp4")["dataset.streaming_encoding"] is False
    exp5 = pb.params_for("exp5")
    assert exp5["camera.backend"] == "V4L2" and exp5["camera.fourcc"] == "MJPG"
    assert pb.params_for("exp6")["dataset.fps"] == 25
    s7 = pb.settings_for("exp7")
    assert s7["settings.record_cpus"] and s7["settings.record_nice"] < 0


def test_no_traceback_for_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_playbook(tmp_path / "nope.yml")
