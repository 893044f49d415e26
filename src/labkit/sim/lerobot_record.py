"""``lerobot-record`` for the simulated Jetson: a real control loop, LeRobot's log format.

See the package docstring for the load model. Flags are parsed like draccus does
(``--a.b=value``); unknown flags and an existing ``--dataset.root`` fail the way LeRobot
fails. Logging goes to stderr in ``LEVEL YYYY-MM-DD HH:MM:SS <location> message`` form
with the location fields of the configured LeRobot version.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import random
import re
import signal
import sys
import threading
import time
import zlib
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from pprint import pformat

from labkit.sim.root import governor, load_config, sim_root

WIDTH, HEIGHT = 640, 480
# location fields of the log lines, per version (shared/notes/lerobot.md a.)
LOCATIONS = {
    "0.4": {
        "warn": "t_record.py:423",
        "say": "ls/utils.py:227",
        "cfg": "t_record.py:435",
        "codec": "o_utils.py:180",
        "queue": "o_utils.py:1012",
        "drop": "o_utils.py:1034",
    },
    "0.5.0": {
        "warn": "t_record.py:425",
        "say": "ls/utils.py:227",
        "cfg": "t_record.py:437",
        "codec": "o_utils.py:180",
        "queue": "o_utils.py:1012",
        "drop": "o_utils.py:1034",
    },
    "0.5.1": {
        "warn": "t_record.py:476",
        "say": "ls/utils.py:142",
        "cfg": "t_record.py:488",
        "codec": "o_utils.py:180",
        "queue": "o_utils.py:1012",
        "drop": "o_utils.py:1034",
    },
    "0.6": {
        "warn": "t_record.py:352",
        "say": "ls/utils.py:147",
        "cfg": "t_record.py:369",
        "codec": "gs/video.py:186",
        "queue": "o_utils.py:1012",
        "drop": "o_utils.py:1034",
    },
}
WARN_TEXT = (
    "Record loop is running slower ({hz:.1f} Hz) than the target FPS ({fps} Hz). "
    "Dataset frames might be dropped and robot control might be unstable. Common "
    "causes are: 1) Camera FPS not keeping up 2) Policy inference taking too long "
    "3) CPU starvation"
)
BOOL = {"true": True, "false": False}
KNOWN = {
    "robot.type",
    "robot.id",
    "robot.cameras",
    "robot.port",
    "robot.left_arm_port",
    "robot.right_arm_port",
    "robot.left_arm_config.port",
    "robot.right_arm_config.port",
    "robot.left_arm_config.cameras",
    "robot.right_arm_config.cameras",
    "robot.joint_velocity_scaling",
    "robot.disable_torque_on_disconnect",
    "robot.max_gripper_torque",
    "teleop.type",
    "teleop.id",
    "teleop.port",
    "teleop.left_arm_port",
    "teleop.right_arm_port",
    "teleop.left_arm_config.port",
    "teleop.right_arm_config.port",
    "dataset.repo_id",
    "dataset.single_task",
    "dataset.root",
    "dataset.fps",
    "dataset.episode_time_s",
    "dataset.reset_time_s",
    "dataset.num_episodes",
    "dataset.video",
    "dataset.push_to_hub",
    "dataset.private",
    "dataset.streaming_encoding",
    "dataset.encoder_threads",
    "dataset.encoder_queue_maxsize",
    "dataset.num_image_writer_processes",
    "dataset.num_image_writer_threads_per_camera",
    "dataset.video_encoding_batch_size",
    "display_data",
    "play_sounds",
    "resume",
}


class Log:
    def __init__(self, locations: dict[str, str]) -> None:
        self.loc = locations
        self.lock = threading.Lock()

    def __call__(self, level: str, where: str, message: str) -> None:
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
        with self.lock:
            sys.stderr.write(f"{level} {stamp} {self.loc[where]:>15} {message}\n")
            sys.stderr.flush()


def parse_cameras(text: str) -> dict[str, dict[str, str]]:
    """``{top: {type: opencv, index_or_path: /dev/video0, fps: 30}, ...}`` -> dicts."""
    cams: dict[str, dict[str, str]] = {}
    for name, body in re.findall(r"([\w.-]+)\s*:\s*\{([^{}]*)\}", text):
        fields = {}
        for part in body.split(","):
            k, _, v = part.partition(":")
            fields[k.strip()] = v.strip().strip('"')
        cams[name] = fields
    return cams


def parse_args(argv: list[str], version: str, unsupported: Iterable[str] = ()) -> dict[str, str]:
    vflag = "dataset.rgb_encoder.vcodec" if version >= "0.6" else "dataset.vcodec"
    known = KNOWN | {vflag} | ({"dataset.no_stamp"} if version >= "0.6" else set())
    known -= set(unsupported)
    args: dict[str, str] = {}
    for a in argv:
        if not a.startswith("--") or "=" not in a:
            raise SystemExit(_usage(f"unrecognized arguments: {a}"))
        key, value = a[2:].split("=", 1)
        if key not in known:
            raise SystemExit(_usage(f"unrecognized arguments: --{key}"))
        args["vcodec" if key == vflag else key] = value
    return args


def _usage(msg: str) -> int:
    sys.stderr.write(
        "usage: lerobot-record [-h] [--config_path str] [--robot str] "
        "[--teleop str] [--dataset str] ...\n"
    )
    sys.stderr.write(f"lerobot-record: error: {msg}\n")
    return 2


class Stalls:
    """The scheduling-stall injector: with probability ``rate`` per call of the targeted
    stage (and camera), a busy ``stall_ms`` -- on the CPU, so a sampling profiler sees the
    stall in the function that suffers it. Stages: ``loop`` (the record loop itself, per
    iteration), ``camera_read`` (a camera's capture call in its read thread, per frame; the
    loop then waits for the late frame), ``robot_io`` (the motor bus), ``dataset``
    (``add_frame``)."""

    def __init__(self, jitter: dict, rnd: random.Random, halve: bool) -> None:
        self.rate = float(jitter.get("rate", 0.0)) / (2 if halve else 1)
        self.stall_s = float(jitter.get("stall_ms", 0.0)) / 1000
        self.stage = jitter.get("stage") or "loop"
        self.camera = jitter.get("camera")
        self.rnd = rnd
        self.lock = threading.Lock()

    def maybe(self, stage: str, camera: str | None = None) -> None:
        if not self.rate or stage != self.stage:
            return
        if stage == "camera_read" and self.camera and camera != self.camera:
            return
        with self.lock:
            hit = self.rnd.random() < self.rate
        if hit:
            spin = time.perf_counter() + self.stall_s
            while time.perf_counter() < spin:
                pass


class OpenCVCamera:
    """LeRobot's OpenCV camera: a read thread (``OpenCVCamera(<path>)_read_loop``) decodes
    frames at ``fps`` for real; ``async_read`` waits for a frame newer than the last one."""

    def __init__(
        self, name: str, index_or_path: str, fps: int, fourcc: str, stalls: Stalls
    ) -> None:
        self.name, self.index_or_path, self.fps = name, index_or_path, fps
        self.fourcc, self.stalls = fourcc.upper(), stalls
        seed = hashlib.sha256(name.encode()).digest()
        raw = (seed * (WIDTH * HEIGHT * 2 // len(seed) + 1))[: WIDTH * HEIGHT * 2]
        self.packet = zlib.compress(raw, 1)
        self.latest: bytes | None = None
        self.frame_lock = threading.Lock()
        self.new_frame_event = threading.Event()
        self.stop_event = threading.Event()
        self.frames = 0
        self.next_frame_t = 0.0
        self.thread = threading.Thread(target=self._read_loop, name=f"{self}_read_loop")
        self.thread.daemon = True

    def __str__(self) -> str:
        return f"OpenCVCamera({self.index_or_path})"

    def connect(self) -> None:
        self.thread.start()

    def disconnect(self) -> None:
        self.stop_event.set()

    def decode(self) -> bytes:
        yuyv = zlib.decompress(self.packet)  # MJPG path: entropy decode (releases the GIL)
        if self.fourcc != "MJPG":
            # raw YUYV over USB costs a colour conversion that holds the GIL
            yuyv = bytes(b ^ 0x80 for b in yuyv[: len(yuyv) // 8]) + yuyv[len(yuyv) // 8 :]
        return yuyv

    def read(self) -> bytes:
        """The capture call (``videocapture.read()``): blocks until the sensor's next frame,
        then decodes it. A ``camera_read`` stall lands here, in this camera's read thread,
        so the record loop waits for the late frame in ``async_read``."""
        time.sleep(max(0.0, self.next_frame_t - time.monotonic()))
        self.next_frame_t += 1.0 / self.fps
        self.stalls.maybe("camera_read", self.name)
        return self.decode()

    def _read_loop(self) -> None:
        self.next_frame_t = time.monotonic()
        while not self.stop_event.is_set():
            frame = self.read()
            with self.frame_lock:
                self.latest = frame
            self.frames += 1
            self.new_frame_event.set()

    def async_read(self, timeout_ms: float = 200) -> bytes:
        if not self.new_frame_event.wait(timeout=timeout_ms / 1000.0):
            raise TimeoutError(
                f"Timed out waiting for frame from camera {self} after {timeout_ms} ms. "
                f"Read thread alive: {self.thread.is_alive()}."
            )
        with self.frame_lock:
            frame = self.latest
            self.new_frame_event.clear()
        return bytes(frame or b"")


class MotorsBus:
    """A Feetech/Dynamixel bus: a sync read or write is a short blocking serial transfer."""

    def __init__(self, stalls: Stalls) -> None:
        self.stalls = stalls

    def sync_read(self) -> dict[str, float]:
        self.stalls.maybe("robot_io")
        time.sleep(0.0008)
        return {f"joint_{i}.pos": 0.0 for i in range(14)}

    def sync_write(self, values: dict[str, float]) -> None:
        self.stalls.maybe("robot_io")
        time.sleep(0.0004)


class Robot:
    """The follower arms with their cameras (``robot.get_observation`` reads the motors,
    then each camera's ``async_read`` in turn, as LeRobot's robots do)."""

    def __init__(
        self, cameras: dict[str, OpenCVCamera], stalls: Stalls, timeout_ms: float = 200
    ) -> None:
        self.cameras, self.bus, self.timeout_ms = cameras, MotorsBus(stalls), timeout_ms

    def get_observation(self) -> dict:
        obs: dict = dict(self.bus.sync_read())
        for name, cam in self.cameras.items():
            obs[name] = cam.async_read(self.timeout_ms)
        return obs

    def send_action(self, action: dict) -> dict:
        self.bus.sync_write(action)
        return action


class Teleoperator:
    """The leader arms: ``teleop.get_action`` reads their positions."""

    def __init__(self, stalls: Stalls) -> None:
        self.bus = MotorsBus(stalls)

    def get_action(self) -> dict:
        return self.bus.sync_read()


class Encoder:
    """Bounded queue plus worker threads for one camera (LeRobot's streaming encoder)."""

    def __init__(self, key: str, codec: str, threads: int, maxsize: int, root: Path) -> None:
        self.key, self.codec = key, codec
        self.q: queue.Queue = queue.Queue(maxsize=maxsize)
        self.dropped = 0
        self.bytes_out = 0
        self.workers = [
            threading.Thread(target=self._work, daemon=True, name=f"encoder-{key}-{i}")
            for i in range(max(1, threads))
        ]
        for w in self.workers:
            w.start()

    def _work(self) -> None:
        while True:
            frame = self.q.get()
            if frame is None:
                return
            if self.codec.endswith(("nvenc", "videotoolbox", "vaapi", "qsv")):
                self.bytes_out += len(hashlib.md5(frame).digest())  # DMA to the HW encoder
            else:
                self.bytes_out += len(zlib.compress(frame, 6))  # software encode

    def feed(self, frame: bytes) -> bool:
        try:
            self.q.put(frame, timeout=0.1)  # blocks the loop like LeRobot's feed_frame
            return True
        except queue.Full:
            self.dropped += 1
            return False

    def close(self) -> None:
        for _ in self.workers:
            self.q.put(None)
        for w in self.workers:
            w.join(timeout=5)


class LeRobotDataset:
    """Where frames go: ``add_frame`` feeds each camera's streaming encoder (or the image
    writer threads when streaming is off)."""

    def __init__(
        self, encoders: dict[str, Encoder], writers: queue.Queue, stalls: Stalls, log: Log
    ) -> None:
        self.encoders, self.writers, self.stalls, self.log = encoders, writers, stalls, log
        self.drops_before: dict[str, int] = {}
        self.timestamps: list[float] = []

    def start_episode(self) -> None:
        self.drops_before = {n: e.dropped for n, e in self.encoders.items()}
        self.timestamps = []

    def add_frame(self, frame: dict, cameras: Iterable[str]) -> None:
        self.stalls.maybe("dataset")
        for n in cameras:
            image = frame[n]
            if self.encoders:
                e = self.encoders[n]
                if not e.feed(image):
                    d = e.dropped - self.drops_before[n]
                    if d == 1 or d % 10 == 0:
                        self.log(
                            "WARNING",
                            "queue",
                            f"Encoder queue full for {e.key}, dropped {d} frame(s). "
                            "Consider using vcodec='auto' for hardware encoding or "
                            "increasing encoder_queue_maxsize.",
                        )
            else:
                self.writers.put(image)
        self.timestamps.append(round(time.time(), 4))


def precise_sleep(seconds: float) -> None:
    """LeRobot's sleep: coarse sleep, then a short spin to the deadline."""
    end = time.perf_counter() + seconds
    if seconds > 0.002:
        time.sleep(seconds - 0.002)
    while time.perf_counter() < end:
        pass


def record_loop(
    robot: Robot,
    teleop: Teleoperator,
    dataset: LeRobotDataset,
    fps: int,
    control_time_s: float,
    stalls: Stalls,
    interrupted: threading.Event,
    log: Log,
) -> None:
    """One episode of LeRobot's record loop: observation, action, send, add_frame, and the
    slow-loop warning when the iteration took longer than 1/fps."""
    t_end = time.perf_counter() + control_time_s
    while time.perf_counter() < t_end and not interrupted.is_set():
        start_loop_t = time.perf_counter()
        obs = robot.get_observation()
        stalls.maybe("loop")
        action = teleop.get_action()
        sent = robot.send_action(action)
        dataset.add_frame({**obs, **sent}, robot.cameras)
        dt_s = time.perf_counter() - start_loop_t
        sleep_time_s = 1 / fps - dt_s
        if sleep_time_s < 0:
            log("WARNING", "warn", WARN_TEXT.format(hz=1 / dt_s, fps=fps))
        precise_sleep(max(sleep_time_s, 0.0))


def main(argv: list[str] | None = None) -> int:
    root = sim_root()
    cfg = load_config(root)
    version = str(cfg.get("lerobot_version", "0.4.4"))
    family = (
        "0.6"
        if version >= "0.6"
        else ("0.5.1" if version >= "0.5.1" else ("0.5.0" if version >= "0.5" else "0.4"))
    )
    log = Log(LOCATIONS[family])
    try:
        args = parse_args(
            list(sys.argv[1:] if argv is None else argv),
            version,
            cfg.get("unsupported_flags") or (),
        )
    except SystemExit as exc:
        return int(exc.code or 2)
    fps = int(args.get("dataset.fps", 30))
    episodes = int(args.get("dataset.num_episodes", 50))
    ep_time = float(args.get("dataset.episode_time_s", 60))
    reset_time = float(args.get("dataset.reset_time_s", 60))
    streaming = BOOL.get(args.get("dataset.streaming_encoding", "false"), False)
    threads = int(args.get("dataset.encoder_threads") or 2)
    maxsize = int(args.get("dataset.encoder_queue_maxsize", 30))
    cams_text = args.get("robot.cameras") or args.get("robot.left_arm_config.cameras") or "{}"
    cams = parse_cameras(cams_text)
    ds_root = args.get("dataset.root")
    if not ds_root or "robot.type" not in args:
        _usage("--robot.type and --dataset.root are required by the simulator")
        return 2
    for _name, cam in cams.items():
        dev = cam.get("index_or_path", "")
        if dev.startswith("/") and not (root / dev.lstrip("/")).exists():
            sys.stderr.write("Traceback (most recent call last):\n")
            sys.stderr.write(f"ConnectionError: Failed to open OpenCVCamera({dev}).\n")
            return 1
    log(
        "INFO",
        "cfg",
        pformat(
            {
                "dataset": {k[8:]: v for k, v in args.items() if k.startswith("dataset.")},
                "robot": {"type": args["robot.type"], "cameras": sorted(cams)},
                "display_data": args.get("display_data", "false"),
            }
        ),
    )
    try:
        Path(ds_root).mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        sys.stderr.write(
            "Traceback (most recent call last):\n"
            f"FileExistsError: [Errno 17] File exists: '{ds_root}'\n"
        )
        return 1
    vcodec = args.get("vcodec", "libsvtav1")
    if vcodec == "auto":
        hw = cfg.get("hw_encoders", [])
        if hw:
            vcodec = hw[0]
            log("INFO", "codec", f"Auto-selected video codec: {vcodec}")
        else:
            vcodec = "libsvtav1"
            log(
                "WARNING",
                "codec",
                "No hardware encoder available, falling back to software encoder 'libsvtav1'",
            )
    else:
        log("INFO", "codec", f"Using video codec: {vcodec}")
    if not streaming:
        log(
            "INFO",
            "say",
            "Streaming encoding is disabled. If you have capable hardware, "
            "consider enabling it for way faster episode saving. "
            "--dataset.streaming_encoding=true --dataset.encoder_threads=2",
        )

    interrupted = threading.Event()

    def _sigint(*_):
        interrupted.set()

    signal.signal(signal.SIGINT, _sigint)
    signal.signal(signal.SIGTERM, _sigint)
    jitter = cfg.get("jitter") or {}
    seed = jitter.get("seed")
    drawn = seed is None  # like a board, the default sim differs from run to run
    if drawn:
        seed = random.SystemRandom().randrange(2**32)
    rnd = random.Random(int(seed))
    record = {"seed": int(seed), "seed_drawn": drawn, "jitter": {**jitter, "seed": int(seed)}}
    (Path(ds_root).parent / "sim.json").write_text(json.dumps(record) + "\n")
    stalls = Stalls(jitter, rnd, halve=governor(root) == "performance")
    cameras = {
        n: OpenCVCamera(n, c.get("index_or_path", n), int(c.get("fps", 30)),
                        c.get("fourcc", "YUYV"), stalls)
        for n, c in cams.items()
    }  # fmt: skip
    for c in cameras.values():
        c.connect()
    nvenc = root / "run/nvenc_sessions"
    encoders: dict[str, Encoder] = {}
    writers: queue.Queue = queue.Queue()
    if streaming:
        encoders = {
            n: Encoder(f"observation.images.{n}", vcodec, threads, maxsize, root) for n in cameras
        }
        if vcodec.endswith("nvenc"):
            nvenc.write_text(str(len(encoders)))
    else:

        def _writer():
            while (item := writers.get()) is not None:
                zlib.compress(item, 1)  # PNG-style image writing

        wthreads = [
            threading.Thread(target=_writer, daemon=True, name=f"image_writer_{i}")
            for i in range(4)
        ]
        for w in wthreads:
            w.start()
    robot = Robot(cameras, stalls, float(cfg.get("camera_timeout_ms", 200)))
    teleop = Teleoperator(stalls)
    dataset = LeRobotDataset(encoders, writers, stalls, log)
    time.sleep(0.2)  # camera warm-up
    frames_total = 0
    meta_eps = []
    try:
        ep = 0
        while ep < episodes and not interrupted.is_set():
            log("INFO", "say", f"Recording episode {ep}")
            dataset.start_episode()
            record_loop(robot, teleop, dataset, fps, ep_time, stalls, interrupted, log)
            for n, e in encoders.items():
                d = e.dropped - dataset.drops_before[n]
                if d:
                    log(
                        "WARNING",
                        "drop",
                        f"Episode finished with {d} dropped frame(s) for {e.key}.",
                    )
            frames_total += len(dataset.timestamps)
            _save_episode(Path(ds_root), ep, dataset.timestamps)
            meta_eps.append({"episode_index": ep, "length": len(dataset.timestamps)})
            ep += 1
            if ep < episodes and not interrupted.is_set() and reset_time > 0:
                log("INFO", "say", "Reset the environment")
                t_reset = time.perf_counter() + reset_time
                while time.perf_counter() < t_reset and not interrupted.is_set():
                    time.sleep(0.05)
    finally:
        log("INFO", "say", "Stop recording")
        for c in cameras.values():
            c.disconnect()
        for e in encoders.values():
            e.close()
        if not streaming:
            for _ in range(4):
                writers.put(None)
        nvenc.unlink(missing_ok=True)
        info = {
            "fps": fps,
            "total_episodes": len(meta_eps),
            "total_frames": frames_total,
            "codec": vcodec,
            "cameras": sorted(cameras),
            "episodes": meta_eps,
            "simulated": True,
        }
        meta = Path(ds_root) / "meta"
        meta.mkdir(parents=True, exist_ok=True)
        (meta / "info.json").write_text(json.dumps(info, indent=2))
        task = {"task_index": 0, "task": args.get("dataset.single_task", "")}
        (meta / "tasks.jsonl").write_text(json.dumps(task) + "\n")
        log("INFO", "say", "Exiting")
    return 130 if interrupted.is_set() and os.environ.get("LABKIT_SIM_EXIT_130") else 0


def _save_episode(root: Path, ep: int, stamps: list[float]) -> None:
    data = root / "data" / "chunk-000"
    data.mkdir(parents=True, exist_ok=True)
    with open(data / f"episode_{ep:06d}.jsonl", "w") as fh:
        for i, t in enumerate(stamps):
            fh.write(json.dumps({"frame_index": i, "timestamp": t}) + "\n")
