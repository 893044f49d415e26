"""The ``gstreamer`` workload: its playbook contract, argv, preflight, runner and parser.

The runner tests start the real gst-launch-1.0 (GStreamer good + bad plug-ins); the parser
reads the log of a real 3-stream 1080p run (tests/data/workloads/gstreamer)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from labkit import cli
from labkit.config.params import parse_set
from labkit.config.plan import resolve
from labkit.config.playbook import load_playbook
from labkit.errors import ConfigError
from labkit.registry import get_workload, workload_of
from labkit.workloads.gstreamer import Gstreamer
from labkit.workloads.gstreamer import pipeline as gp
from labkit.workloads.gstreamer.facts import parse_gstreamer
from labkit.workloads.gstreamer.log import read_samples
from labkit.workloads.gstreamer.metrics import run_metrics
from labkit.workloads.gstreamer.workload import HERE as PKG
from tests.conftest import DATA, REPO
from tests.runrecord import run_record, workload_info

PLAYBOOK = REPO / "playbooks" / "camera-ingest.yml"
LOG = DATA / "workloads" / "gstreamer" / "jpeg-3-1080p.log"
INVENTORY = str(REPO / "inventory/hosts.yml")
RUNNER = PKG / "run_gst.py"
needs_gst = pytest.mark.skipif(
    shutil.which("gst-launch-1.0") is None, reason="GStreamer is not installed (.ci/run does)"
)


def plan_of(name: str, *sets: str, playbook=PLAYBOOK):
    pb = load_playbook(playbook)
    inv = cli.load_inventory(INVENTORY)
    return resolve(pb, inv, name, "sim", parse_set(list(sets), pb.known_params()))


def test_the_shipped_playbook_declares_per_sink_and_overall_metrics():
    pb = load_playbook(PLAYBOOK)
    assert get_workload("gstreamer") is Gstreamer and isinstance(pb.workload, Gstreamer)
    assert pb.workload.sinks == ["cam0", "cam1", "cam2"]  # from the experiments' params
    for name in ("fps_average_min", "frames_dropped_share", "late_sample_count",
                 "late_sample_per_min", "fps_average_cam2", "fps_current_min_cam0",
                 "frames_rendered_cam1", "frames_dropped_cam2"):  # fmt: skip
        assert name in pb.metrics, name
    declared = pb.workload.declared
    assert declared["fps_average_min"].unit == "fps"
    assert declared["fps_average_min"].kind == "frequency"
    assert declared["late_sample_per_min"].count_of == "late_sample_count"
    assert declared["frames_dropped_share"].bounds == (0.0, 1.0)
    assert pb.metrics["fps_average_min"] == declared["fps_average_min"]  # as declared


def test_argv_splits_the_pipeline_without_a_shell():
    plan = plan_of("jpeg-3", "seconds=3")
    argv = plan.workload_command()
    assert argv[:7] == ["python3", "run_gst.py", "--seconds", "3", "--target-fps", "30", "--"]
    assert argv[7:10] == ["gst-launch-1.0", "-v", "-e"]
    assert argv.count("fpsdisplaysink") == 3 and argv.count("jpegdec") == 3
    assert "name=cam2" in argv and "!" in argv
    assert plan.workload.files(plan) == {"run_gst.py": RUNNER.read_text()}
    # a quoted value stays one argument (gst-launch-1.0 escapes each one again)
    text = 'videotestsrc ! fpsdisplaysink video-sink="fakesink sync=false" name=a'
    assert gp.argv(text)[-3:] == ["fpsdisplaysink", "video-sink=fakesink sync=false", "name=a"]


def test_elements_and_sinks_of_a_pipeline():
    text = (
        "videotestsrc is-live=true ! video/x-raw,width=64 ! jpegenc!jpegdec ! tee name=t "
        "t. ! queue ! fpsdisplaysink name=cam0 video-sink=fakesink "
        "t. ! queue ! fpsdisplaysink video-sink=fakesink"
    )
    assert gp.elements(text) == [
        "videotestsrc", "jpegenc", "jpegdec", "tee", "queue", "fpsdisplaysink"
    ]  # fmt: skip
    assert gp.fps_sinks(text) == ["cam0", "fpsdisplaysink0"]


def test_host_vars_choose_the_cameras_and_the_decoder():
    plan = plan_of("jpeg-3")
    plan.host_vars = {
        "gst_cameras": ["/dev/video0", "/dev/video2", "/dev/video4"],
        "gst_jpeg_decoder": "nvv4l2decoder mjpeg=1",
    }
    text = plan.workload.rendered(plan)
    assert "videotestsrc" not in text
    assert text.count("v4l2src device=/dev/video") == 3 and "device=/dev/video4" in text
    assert "image/jpeg,width=640,height=480,framerate=30/1 ! nvv4l2decoder mjpeg=1" in text
    assert gp.elements(text) == ["v4l2src", "nvv4l2decoder", "fpsdisplaysink"]


def test_preflight_names_the_missing_element_and_its_package():
    plan = plan_of("jpeg-3")
    facts = {"gstreamer": {"version": "1.22.0", "elements": ["videotestsrc", "jpegenc"]}}
    problems = plan.workload.preflight(plan, facts)
    assert problems == [
        "GStreamer element 'jpegdec' is not on the host: install gstreamer1.0-plugins-good",
        "GStreamer element 'fpsdisplaysink' is not on the host: install gstreamer1.0-plugins-bad",
    ]
    [missing] = plan.workload.preflight(plan, {"gstreamer": None})
    assert missing.startswith("gst-launch-1.0 not found on the host: install gstreamer1.0-tools")
    assert gp.package_of("nvv4l2decoder") == "install nvidia-l4t-gstreamer (JetPack)"


@needs_gst
def test_the_gstreamer_fact_has_the_version_and_the_elements_of_this_machine():
    [declared] = get_workload("gstreamer").facts(None)  # the plug-in declares its fact
    assert declared.name == "gstreamer"
    command = declared.command("", "/tmp")
    res = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=False)
    fact = declared.process(res.stdout, res.returncode)
    assert fact["version"].startswith("1.")
    assert {"videotestsrc", "jpegenc", "jpegdec", "fpsdisplaysink"} <= set(fact["elements"])
    assert parse_gstreamer("", 1) is None


def test_a_pipeline_without_fpsdisplaysink_or_with_a_bad_quote_is_a_config_error(tmp_path):
    text = PLAYBOOK.read_text()
    bad = tmp_path / "nosink.yml"
    bad.write_text(text.replace("! fpsdisplaysink name=cam{{ i }}", "! fakesink name=cam{{ i }}"))
    with pytest.raises(ConfigError, match="no fpsdisplaysink") as err:
        plan_of("raw-1", playbook=bad).workload_command()
    assert err.value.field == "workload.pipeline"
    quote = tmp_path / "quote.yml"
    quote.write_text(text.replace("pattern=snow", 'pattern="snow'))
    with pytest.raises(ConfigError, match="No closing quotation"):
        plan_of("raw-1", playbook=quote).workload_command()


def test_bad_workload_fields_name_file_line_and_field(tmp_path):
    text = PLAYBOOK.read_text()
    cases = {
        "pipeline: >-": ("pipelin: >-", "workload.pipelin"),
        "seconds: {type: int, default: 8,": ("seconds: {type: int, default: x8,", None),
        "{% if params.jpeg %}! jpegenc": ("{% if params.jpeg %! jpegenc", "workload.pipeline"),
    }
    for old, (new, field) in cases.items():
        bad = tmp_path / "bad.yml"
        bad.write_text(text.replace(old, new, 1))
        with pytest.raises(ConfigError) as err:
            load_playbook(bad)
        assert err.value.file.endswith("bad.yml") and err.value.line is not None, str(err.value)
        if field:
            assert err.value.field == field, str(err.value)
    zero = tmp_path / "zero.yml"
    zero.write_text(text.replace('target_fps: "{{ params.fps }}"', 'target_fps: "0"'))
    with pytest.raises(ConfigError, match="target_fps is '0'; expected a number > 0"):
        plan_of("raw-1", playbook=zero).workload_command()


def test_the_log_of_a_real_run_gives_every_sink_its_samples_and_late_ones():
    samples = read_samples(LOG)
    assert samples.attrs["target_fps"] == 30 and samples.attrs["seconds"] == 8
    assert set(samples["sink"]) == {"cam0", "cam1", "cam2"}
    assert samples["time"].is_monotonic_increasing
    # 16 notifications of cam0 in the log, 4 of them printed twice: 12 samples
    assert (samples["sink"] == "cam0").sum() == 12
    assert not samples.duplicated(["sink", "rendered", "average"]).any()
    assert (samples["start"] < samples["time"]).all()
    late = samples[samples["event"] == "late_sample"]
    assert len(late) and (late["current"] < 28.5).all()
    assert (samples.loc[samples["event"] == "sample", "current"] >= 28.5).all()
    m = run_metrics(samples, 8.4)
    last = samples.groupby("sink").tail(1).set_index("sink")
    for sink in ("cam0", "cam1", "cam2"):
        assert m[f"fps_average_{sink}"] == last.loc[sink, "average"]
        assert m[f"frames_rendered_{sink}"] == last.loc[sink, "rendered"]
        assert m[f"fps_current_min_{sink}"] == samples.loc[samples.sink == sink, "current"].min()
    assert m["fps_average_min"] == last["average"].min() < 28.5  # 1080p JPEG falls behind
    assert m["late_sample_count"] == len(late)
    assert m["late_sample_per_min"] == pytest.approx(len(late) / 8.4 * 60)
    assert m["frames_dropped_share"] == 0.0 and m["duration_s"] == 8.4
    # rebuilt from a run record, the workload parses the same way
    w = workload_of(run_record(workload=load_playbook(PLAYBOOK).workload.record()))
    assert isinstance(w, Gstreamer) and w.sinks == ["cam0", "cam1", "cam2"]
    assert w.run_metrics(samples, 8.4)["fps_average_cam1"] == m["fps_average_cam1"]
    assert list(w.late_times(samples)) == list(late["time"])
    events = w.late_events(samples)
    assert list(events.columns) == ["time", "start", "end", "hz"] and len(events) == len(late)
    assert (events["end"] == events["time"]).all()  # a sample covers start .. time
    assert (events["hz"] < 28.5).all() and (events["start"] < events["time"]).all()
    assert w.late_events(None) is None
    # what the run record keeps and the line a run ends with
    summary = w.summary(m, samples)
    assert summary["late_sample_count"] == len(late) and summary["events"] == ["late_sample"]
    assert summary["fps_average_min"] == m["fps_average_min"]
    line = w.summary_line(m)
    assert line[0] == f"{len(late)} late_sample" and line[1].startswith("slowest sink ")


def test_an_empty_or_missing_log_has_no_numbers(tmp_path):
    empty = tmp_path / "gst.log"
    empty.write_text("#labkit-gst 1.0 0 3 30\n1.5 ERROR: from element x: y\n")
    m = run_metrics(read_samples(empty), 3.0)
    assert m["fps_average_min"] is None and m["late_sample_count"] is None
    assert m["duration_s"] == 3.0
    assert Gstreamer.from_record(workload_info("gstreamer")).parse(tmp_path / "nowhere") is None


def run_gst(tmp_path, seconds: float, *pipeline: str) -> tuple[int, str]:
    out = tmp_path / "gst.log"
    with open(out, "w") as fh:
        res = subprocess.run(
            [sys.executable, str(RUNNER), "--seconds", str(seconds), "--target-fps", "30",
             "--", *gp.argv(" ".join(pipeline))],
            stdout=fh, stderr=subprocess.STDOUT, timeout=60, check=False,
        )  # fmt: skip
    return res.returncode, out.read_text()


@needs_gst
def test_the_runner_stops_a_real_pipeline_with_eos_at_its_time(tmp_path):
    code, text = run_gst(
        tmp_path, 2,
        "videotestsrc is-live=true ! video/x-raw,width=160,height=120,framerate=30/1",
        "! fpsdisplaysink name=cam0 video-sink=fakesink text-overlay=false sync=true",
    )  # fmt: skip
    assert code == 0, text
    assert text.startswith("#labkit-gst ") and text.splitlines()[0].split()[3:] == ["2", "30"]
    assert "Got EOS from element" in text  # SIGINT with -e: EOS, a clean end


@needs_gst
def test_the_runner_stamps_each_line_and_the_parser_reads_the_sinks(tmp_path):
    """30 live frames at 30 fps (the pipeline ends by itself after about a second, however
    busy the machine), a sample every 100 ms: every line stamped, samples in order."""
    code, text = run_gst(
        tmp_path, 120,
        "videotestsrc is-live=true num-buffers=30",
        "! video/x-raw,width=160,height=120,framerate=30/1",
        "! fpsdisplaysink name=cam0 fps-update-interval=100 video-sink=fakesink",
        "text-overlay=false sync=true",
    )  # fmt: skip
    assert code == 0, text
    lines = text.splitlines()
    assert all(float(line.split(" ", 1)[0]) > 1e9 for line in lines[1:]), lines
    samples = read_samples(tmp_path / "gst.log")
    assert list(samples["sink"].unique()) == ["cam0"]
    assert samples["rendered"].is_monotonic_increasing and samples["rendered"].iloc[-1] > 0
    assert samples["time"].is_monotonic_increasing


@needs_gst
def test_a_pipeline_error_ends_the_run_with_gstreamers_message(tmp_path):
    code, text = run_gst(tmp_path, 5, "filesrc location=/nonexistent/labkit ! fakesink")
    assert code != 0
    last = text.splitlines()[-1]
    assert last.startswith("labkit: gst-launch-1.0 failed: ERROR: from element")
    assert "filesrc0" in last
    assert read_samples(tmp_path / "gst.log").attrs["error"].startswith("ERROR: from element")
    code, text = run_gst(tmp_path, 5, "videotestsrc ! nosuchelement ! fakesink")
    assert code != 0 and 'no element \\"nosuchelement\\"' not in text
    assert text.splitlines()[-1].endswith('erroneous pipeline: no element "nosuchelement"')
