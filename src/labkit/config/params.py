"""The parameters an experiment can set, with their types and allowed ranges.

Record parameters use LeRobot's own dotted names (``dataset.fps``), so ``--set`` reads
like a ``lerobot-record`` flag; camera parameters (``cameras``, ``camera.fps`` ...) and host
settings (``settings.cpu_governor`` ...) are labkit's. One registry serves playbook
validation, ``--set`` parsing and the command builder, so a typo such as ``dataset_fsp``
is caught everywhere with the same "did you mean" hint.
"""

from __future__ import annotations

import difflib
import math
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class Param:
    key: str
    kind: str  # int, number, bool, str, str_list, mapping, backend
    help: str
    check: Callable[[Any], bool] | None = None
    expect: str = ""  # what the check wants, for the error message
    nullable: bool = False


def _p(key: str, kind: str, help: str, check=None, expect: str = "", nullable: bool = False):
    return Param(key, kind, help, check, expect, nullable)


def _positive(v) -> bool:
    return v > 0


def _non_negative(v) -> bool:
    return v >= 0


# No USB camera or record loop runs faster; a larger value is a typo (100000 for 100).
MAX_FPS = 1000
# Upper bounds that keep a typo (or .inf) from becoming a run whose watchdog never fires.
MAX_EPISODE_S = 86400  # one day per episode (or reset)
MAX_EPISODES = 10000
MAX_INTERVAL_MS = 60000  # tegrastats' sample period, as the playbook's monitor.interval_ms
# Linux's CONFIG_NR_CPUS tops out at 4096 (arm64 and x86 defaults are far lower): a CPU id
# beyond it is a typo, and expanding "0-99999999999" would fill the memory.
MAX_CPU_ID = 4095


def _rate(v) -> bool:
    return 0 < v <= MAX_FPS


def _seconds(lo_open: bool):
    """A finite duration up to ``MAX_EPISODE_S``: > 0 (``lo_open``) or >= 0."""

    def ok(v) -> bool:
        return math.isfinite(v) and (v > 0 if lo_open else v >= 0) and v <= MAX_EPISODE_S

    return ok


def cpu_list(text: str) -> list[int]:
    """``"0,2-5"`` -> [0, 2, 3, 4, 5] (taskset -c / cpuset syntax); ValueError if malformed."""
    out: list[int] = []
    for part in str(text).split(","):
        lo, dash, hi = part.strip().partition("-")
        first, last = int(lo), int(hi) if dash else int(lo)
        if first < 0 or last < first:
            raise ValueError(f"bad CPU range {part.strip()!r}")
        if last > MAX_CPU_ID:  # checked before the range is expanded
            raise ValueError(f"CPU {last} is beyond {MAX_CPU_ID}")
        out += range(first, last + 1)
    return out


def _cpu_list_ok(text: str) -> bool:
    try:
        return bool(cpu_list(text))
    except ValueError:
        return False


def cpu_list_problem(text: str | None, cpu_count: int | None) -> str | None:
    """Why ``settings.record_cpus`` does not fit a host with ``cpu_count`` CPUs (or None)."""
    if not text or not cpu_count:
        return None
    beyond = [c for c in cpu_list(text) if c >= cpu_count]
    if not beyond:
        return None
    return (
        f"settings.record_cpus {text!r} names CPU {beyond[-1]} but the host has "
        f"{cpu_count} CPUs (0-{cpu_count - 1}); pick CPUs within 0-{cpu_count - 1}"
    )


CV2_BACKENDS = {
    "ANY": 0,
    "V4L2": 200,
    "DSHOW": 700,
    "PVAPI": 800,
    "ANDROID": 1000,
    "AVFOUNDATION": 1200,
    "MSMF": 1400,
}

RECORD_PARAMS: dict[str, Param] = {
    p.key: p
    for p in [
        _p("dataset.repo_id", "str", "dataset name, <user>/<name>"),
        _p("dataset.single_task", "str", "task text stored with every frame"),
        _p(
            "dataset.fps",
            "int",
            "record-loop target and dataset frame rate",
            _rate,
            f"between 1 and {MAX_FPS}",
        ),
        _p(
            "dataset.episode_time_s",
            "number",
            "recording time per episode",
            _seconds(lo_open=True),
            f"> 0 and at most {MAX_EPISODE_S} (one day)",
        ),
        _p(
            "dataset.reset_time_s",
            "number",
            "reset time between episodes",
            _seconds(lo_open=False),
            f"between 0 and {MAX_EPISODE_S} (one day)",
        ),
        _p(
            "dataset.num_episodes",
            "int",
            "episodes per run",
            lambda v: 1 <= v <= MAX_EPISODES,
            f"between 1 and {MAX_EPISODES}",
        ),
        _p("dataset.video", "bool", "store frames as video"),
        _p("dataset.push_to_hub", "bool", "upload when done (keep false for experiments)"),
        _p("dataset.private", "bool", "hub repository visibility"),
        _p("dataset.streaming_encoding", "bool", "encode video while recording"),
        _p(
            "dataset.encoder_threads",
            "int",
            "threads per encoder instance",
            _positive,
            "> 0",
            nullable=True,
        ),
        _p(
            "dataset.encoder_queue_maxsize",
            "int",
            "frames buffered per camera encoder",
            _positive,
            "> 0",
        ),
        _p(
            "dataset.vcodec",
            "str",
            "video codec (auto, libsvtav1, h264, hevc, h264_nvenc, ...); "
            "passed as --dataset.vcodec up to 0.5.x, --dataset.rgb_encoder.vcodec from 0.6.0",
        ),
        _p(
            "dataset.num_image_writer_processes",
            "int",
            "PNG writer processes",
            _non_negative,
            ">= 0",
        ),
        _p(
            "dataset.num_image_writer_threads_per_camera",
            "int",
            "PNG writer threads per camera",
            _non_negative,
            ">= 0",
        ),
        _p(
            "dataset.video_encoding_batch_size",
            "int",
            "episodes per batch encode",
            _positive,
            "> 0",
        ),
        _p("display_data", "bool", "Rerun viewer (keep false for experiments)"),
        _p("play_sounds", "bool", "speak episode markers"),
        _p("robot.type", "str", "robot type (usually from the host's labkit_robot)"),
        _p("robot.id", "str", "robot calibration id"),
        _p("teleop.type", "str", "teleoperator type (usually from the host's labkit_teleop)"),
        _p("teleop.id", "str", "teleoperator calibration id"),
        _p(
            "cameras",
            "str_list",
            "names of the host's cameras to record (labkit_cameras keys)",
            lambda v: len(v) > 0 and len(set(v)) == len(v),
            "at least one camera, each named once",
        ),
        _p("camera.width", "int", "capture width", _positive, "> 0"),
        _p("camera.height", "int", "capture height", _positive, "> 0"),
        _p("camera.fps", "int", "capture frame rate", _rate, f"between 1 and {MAX_FPS}"),
        _p(
            "camera.fourcc",
            "str",
            "pixel format such as MJPG or YUYV",
            lambda v: len(v) == 4,
            "a 4-character code",
            nullable=True,
        ),
        _p("camera.backend", "backend", "OpenCV backend: ANY, V4L2 (200), ...", nullable=True),
        _p("camera.warmup_s", "int", "camera warm-up seconds", _non_negative, ">= 0"),
        _p("camera.color_mode", "str", "rgb or bgr", lambda v: v in ("rgb", "bgr"), "rgb or bgr"),
    ]
}

SETTINGS_PARAMS: dict[str, Param] = {
    p.key: p
    for p in [
        _p("settings.cpu_governor", "str", "cpufreq governor for every online CPU", nullable=True),
        _p(
            "settings.nvpmodel",
            "int",
            "nvpmodel power mode id",
            _non_negative,
            ">= 0",
            nullable=True,
        ),
        _p("settings.jetson_clocks", "bool", "pin clocks to the mode's maximum", nullable=True),
        _p(
            "settings.record_nice",
            "int",
            "nice value of the record process",
            lambda v: -20 <= v <= 19,
            "between -20 and 19",
            nullable=True,
        ),
        _p(
            "settings.record_rt_priority",
            "int",
            "SCHED_FIFO priority of the record process",
            lambda v: 1 <= v <= 99,
            "between 1 and 99",
            nullable=True,
        ),
        _p(
            "settings.record_cpus",
            "str",
            "CPU list the record process is pinned to (e.g. 2-7)",
            lambda v: _cpu_list_ok(v),
            f"a CPU list such as 2-7 or 0,2-5 (as taskset -c takes), CPU ids up to {MAX_CPU_ID}",
            nullable=True,
        ),
        _p("settings.sysctl", "mapping", "sysctl values to set for the run"),
    ]
}

MONITOR_PARAMS: dict[str, Param] = {
    p.key: p
    for p in [
        _p(
            "monitor.interval_ms",
            "int",
            "tegrastats sample period",
            lambda v: 10 <= v <= MAX_INTERVAL_MS,
            f"between 10 and {MAX_INTERVAL_MS}",
        ),
    ]
}

ALL_PARAMS = {**RECORD_PARAMS, **SETTINGS_PARAMS, **MONITOR_PARAMS}

RECORD_DEFAULTS: dict[str, Any] = {
    "dataset.fps": 30,
    "dataset.episode_time_s": 60,
    "dataset.reset_time_s": 0,
    "dataset.num_episodes": 1,
    "dataset.push_to_hub": False,
    "dataset.streaming_encoding": False,
    "dataset.vcodec": "libsvtav1",
    "display_data": False,
    "play_sounds": False,
    "camera.width": 640,
    "camera.height": 480,
    "camera.fps": 30,
}
SETTINGS_DEFAULTS: dict[str, Any] = {k: None for k in SETTINGS_PARAMS}
SETTINGS_DEFAULTS["settings.sysctl"] = {}
MONITOR_DEFAULTS = {"monitor.interval_ms": 1000}


class ParamError(ValueError):
    """A parameter key or value is wrong; ``key`` is the dotted name at fault."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(message)


# how alike a name must be to be suggested: `exp2` -> `exp2b` (0.89), `sm` -> `sim` (0.8);
# `nosuchgroup` is not `ungrouped` (0.6)
CLOSE = 0.75


def suggest(key: str, known) -> str:
    """' (did you mean 'dataset.fps'?)' when a close name exists; a bare last part
    (``fps``) names every dotted key that ends with it (``dataset.fps``, ``camera.fps``)."""
    key = str(key)
    norm = key.replace("_", ".").replace("-", ".")
    candidates = [str(k) for k in known]
    tail = [c for c in candidates if "." not in key and c.rsplit(".", 1)[-1] == key]
    close = (
        tail
        or difflib.get_close_matches(key, candidates, n=1, cutoff=CLOSE)
        or difflib.get_close_matches(norm, candidates, n=1, cutoff=CLOSE)
    )
    return f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""


def flatten(
    mapping: dict[str, Any], prefix: str = "", known: dict[str, Param] = ALL_PARAMS
) -> dict[str, tuple[Any, tuple]]:
    """Nested or dotted keys -> {dotted key: (value, yaml path)}; mapping-valued params stay."""
    out: dict[str, tuple[Any, tuple]] = {}
    for k, v in mapping.items():
        key = f"{prefix}{k}"
        spec = known.get(key)
        if isinstance(v, dict) and (spec is None or spec.kind != "mapping"):
            for sub, (sv, spath) in flatten(v, key + ".", known).items():
                out[sub] = (sv, (k, *spath))
        else:
            out[key] = (v, (k,))
    return out


def coerce(key: str, value: Any, known: dict[str, Param] = ALL_PARAMS) -> Any:
    """Check ``value`` against the registry; returns the normalised value."""
    spec = known.get(key)
    if spec is None:
        if key.startswith("settings.sysctl.") and "settings.sysctl" in known:
            return _sysctl_value(key, value)
        hint = suggest(key, known) or (
            "; expected one of labkit's parameters (`invoke plan --name EXP` shows an "
            "experiment's, src/labkit/config/params.py lists every one)"
        )
        raise ParamError(key, f"unknown parameter {key!r}{hint}")
    if value is None:
        if spec.nullable:
            return None
        raise ParamError(key, f"{key} must not be empty; expected {_describe(spec)}")
    kind = spec.kind
    if kind in ("int", "number") and isinstance(value, str):
        value = _scientific(value)
    ok = True
    if kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "number":
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif kind == "bool":
        ok = isinstance(value, bool)
    elif kind == "str":
        ok = isinstance(value, (str, int, float)) and not isinstance(value, bool)
        value = str(value) if ok else value
    elif kind == "str_list":
        if isinstance(value, str):
            value = [s.strip() for s in value.split(",") if s.strip()]
        ok = isinstance(value, list) and all(isinstance(s, str) for s in value)
    elif kind == "mapping":
        ok = isinstance(value, dict)
        value = {str(k): _sysctl_value(f"{key}.{k}", v) for k, v in value.items()} if ok else value
    elif kind == "backend":
        if isinstance(value, str) and value.upper() in CV2_BACKENDS:
            value = value.upper()
        elif isinstance(value, int) and value in CV2_BACKENDS.values():
            value = next(n for n, v in CV2_BACKENDS.items() if v == value)
        else:
            ok = False
    if not ok:
        raise ParamError(
            key, f"{key} is {value!r} ({type(value).__name__}); expected {_describe(spec)}"
        )
    if spec.check is not None and not spec.check(value):
        raise ParamError(key, f"{key} is {value!r}; expected {spec.expect}")
    return value


# YAML 1.1 (PyYAML) reads 1e9 and 2.5e1 as text: a float needs a dot and a signed exponent
SCIENTIFIC = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def _scientific(text: str) -> Any:
    """``1e9`` -> 1000000000.0 and ``2.5e1`` -> 25 (a whole number as an int); any other
    text stays text (and is refused as a number with its type named)."""
    if not SCIENTIFIC.fullmatch(text.strip()):
        return text
    number = float(text)
    return int(number) if number.is_integer() and abs(number) < 2**63 else number


def _sysctl_value(key: str, value: Any) -> str:
    """A sysctl value as the text written to /proc/sys: a scalar, never empty (``None``
    would be written as the text "None")."""
    if value is None or isinstance(value, (dict, list)) or not str(value).strip():
        raise ParamError(
            key,
            f"{key} is {'empty' if value is None else repr(value)}; expected a value to "
            "write (e.g. settings.sysctl.vm.swappiness=10)",
        )
    return str(value).strip()


def _describe(spec: Param) -> str:
    base = {
        "int": "an integer",
        "number": "a number",
        "bool": "true or false",
        "str": "a string",
        "str_list": "a list of names",
        "mapping": "a mapping",
        "backend": "one of " + ", ".join(CV2_BACKENDS),
    }[spec.kind]
    if spec.expect:
        base += f" {spec.expect}"
    return base + (" or null" if spec.nullable else "")


def _example(key: str) -> str:
    """A plausible value for ``key`` in an error message."""
    named = {
        "settings.cpu_governor": "performance",
        "settings.record_cpus": "2-7",
        "camera.fourcc": "MJPG",
        "camera.backend": "V4L2",
        "camera.color_mode": "rgb",
    }
    kinds = {"int": "25", "number": "10", "bool": "true", "str_list": "context,left_wrist"}
    spec = ALL_PARAMS.get(key)
    if key.startswith("settings.sysctl."):
        return "10"
    return named.get(key) or (kinds.get(spec.kind, "VALUE") if spec else "VALUE")


def _pairs(items: list[str]) -> list[str]:
    """Ansible's ``--extra-vars "a=1 b=2"``: several key=value pairs in one value, split
    when every word is one (``dataset.single_task=Pick the cube`` stays whole)."""
    out = []
    for item in items:
        try:
            words = shlex.split(item)
        except ValueError:
            words = [item]
        several = len(words) > 1 and all(re.match(r"[\w.-]+=", w) for w in words)
        out += words if several else [item]
    return out


def parse_set(items: list[str] | None, known: dict[str, Param] | None = None) -> dict[str, Any]:
    """``["dataset.fps=25", "cameras=top,left"]`` -> checked values (YAML scalars);
    ``known``: the keys the playbook takes (its workload's params, settings, monitor)."""
    known = ALL_PARAMS if known is None else known
    out: dict[str, Any] = {}
    for item in _pairs(items or []):
        if "=" not in item:
            hint = f" (e.g. {item}=25)" if item in known else suggest(item, known)
            raise ParamError(item, f"{item!r} has no value: expected key=value{hint}")
        key, raw = item.split("=", 1)
        key = key.strip()
        if not key:
            raise ParamError(item, f"{item!r} has no key: expected key=value (e.g. dataset.fps=25)")
        if not raw.strip():
            raise ParamError(
                key,
                f"{item!r} has an empty value: expected key=value (e.g. {key}="
                f"{_example(key)}; or null where allowed: left unset)",
            )
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        spec = known.get(key)
        if spec is not None and spec.kind in ("str", "str_list") and not isinstance(value, list):
            value = raw  # keep strings literal: "--set dataset.single_task=1e3" stays text
        out[key] = coerce(key, value, known)
    return out
