"""A gst-launch-1.0 pipeline as labkit handles it: the argv it becomes, the elements it
uses, the fpsdisplaysinks it measures, and which package has an element a host lacks."""

from __future__ import annotations

import re
import shlex

LAUNCH = "gst-launch-1.0"
ELEMENT = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]*$")
SINK_NAME = re.compile(r"^name=(?P<name>\S+)$")

# element -> the package that has it (Debian/Ubuntu; JetPack's for NVIDIA's own elements)
PACKAGES: dict[str, str] = {
    **dict.fromkeys(
        ("fakesink", "fakesrc", "queue", "queue2", "tee", "capsfilter", "identity",
         "filesrc", "filesink", "fdsink", "fdsrc", "multiqueue", "valve", "funnel"),
        "libgstreamer1.0-0 (GStreamer core)",
    ),
    **dict.fromkeys(
        ("videotestsrc", "videoconvert", "videoscale", "videorate", "audiotestsrc",
         "appsrc", "appsink", "decodebin", "uridecodebin", "playbin", "textoverlay"),
        "gstreamer1.0-plugins-base",
    ),
    **dict.fromkeys(
        ("v4l2src", "jpegenc", "jpegdec", "rtpjpegpay", "rtpjpegdepay", "udpsink", "udpsrc",
         "matroskamux", "qtmux", "avimux", "autovideosink", "rtph264pay"),
        "gstreamer1.0-plugins-good",
    ),
    **dict.fromkeys(
        ("fpsdisplaysink", "h264parse", "h265parse", "jpegparse", "v4l2h264dec",
         "v4l2h264enc", "compositor", "kmssink", "x265enc"),
        "gstreamer1.0-plugins-bad",
    ),
    "x264enc": "gstreamer1.0-plugins-ugly",
    **dict.fromkeys(
        ("avdec_h264", "avdec_h265", "avdec_mjpeg", "avenc_mjpeg"), "gstreamer1.0-libav"
    ),
    **dict.fromkeys(
        ("nvv4l2decoder", "nvv4l2h264enc", "nvv4l2h265enc", "nvvidconv", "nvjpegdec",
         "nvjpegenc", "nvarguscamerasrc", "nvv4l2camerasrc", "nveglglessink", "nvvideoconvert"),
        "nvidia-l4t-gstreamer (JetPack)",
    ),
}  # fmt: skip


def tokens(pipeline: str) -> list[str]:
    """The pipeline as gst-launch-1.0's arguments: split as a shell would (quotes keep a
    value with spaces together) but never run through one; gst-launch-1.0 escapes each
    argument again when it joins them."""
    return shlex.split(pipeline)


def argv(pipeline: str) -> list[str]:
    """``gst-launch-1.0 -v -e <pipeline>``: -v prints the sinks' measurements, -e sends EOS
    on SIGINT so the pipeline ends cleanly."""
    return [LAUNCH, "-v", "-e", *tokens(pipeline)]


def _parts(pipeline: str) -> list[str]:
    """Tokens with links (``!``) as tokens of their own, even when written ``a!b``."""
    out = []
    for tok in tokens(pipeline):
        if "=" in tok or "/" in tok:  # a property or caps: its value may hold a '!'
            out.append(tok)
            continue
        out += [p for p in re.split(r"(!)", tok) if p]
    return out


def elements(pipeline: str) -> list[str]:
    """The element factory names the pipeline uses (each once, in order); properties
    (``a=b``), caps (``video/x-raw,...``), pad references (``t.``) and bins are not."""
    seen: dict[str, None] = {}
    for part in _parts(pipeline):
        if part in ("!", "(", ")") or part.endswith("."):
            continue
        if ELEMENT.match(part):
            seen.setdefault(part, None)
    return list(seen)


def fps_sinks(pipeline: str) -> list[str]:
    """The names of the pipeline's ``fpsdisplaysink`` elements (``fpsdisplaysinkN`` for
    one without ``name=``, as GStreamer numbers them)."""
    out: list[str] = []
    parts = _parts(pipeline)
    unnamed = 0
    for i, part in enumerate(parts):
        if part != "fpsdisplaysink":
            continue
        name = None
        for prop in parts[i + 1 :]:
            if prop == "!" or "=" not in prop:
                break
            m = SINK_NAME.match(prop)
            if m:
                name = m.group("name")
        if name is None:
            name = f"fpsdisplaysink{unnamed}"
            unnamed += 1
        out.append(name)
    return out


def package_of(element: str) -> str:
    """Where an element comes from, for the preflight's one line."""
    pkg = PACKAGES.get(element)
    if pkg:
        return f"install {pkg}"
    if element.startswith("nv"):
        return "NVIDIA's elements come with JetPack (nvidia-l4t-gstreamer)"
    return "find its plugin with `gst-inspect-1.0` on a host that has it"
