"""The simulated Jetson: a recording rig that runs on any Linux machine — an AGX Thor by
default, or an AGX Orin or Orin Nano (``labkit_sim: {board: ...}``, ``root.BOARDS``).

labkit drives it exactly as it drives a real board: it deploys this package into the
host's work dir, puts wrappers named ``tegrastats``, ``lerobot-record``, ``nvpmodel`` and
``jetson_clocks`` first on PATH, and points them at a simulated root holding the sysfs and
/etc files they read and write. This package imports only the standard library, so it
runs on a bare target.

The model (nothing is random except the opt-in, seeded jitter injector):

* ``tegrastats`` samples the real machine (``/proc/stat`` per core, ``/proc/meminfo``,
  ``/sys/class/thermal``) and prints Thor-dialect lines; the 14 simulated cores map onto
  the real ones (core i reads real core i mod N). CPU frequencies come from the simulated
  cpufreq files; power rails are a linear model of the measured load.
* ``lerobot-record`` runs a real control loop at ``dataset.fps``. One reader thread per
  camera produces frames at the camera's fps and does real decode work per frame (zlib
  inflate of a compressed 640x480 frame for MJPG; inflate plus a byte-level colour
  conversion, which holds the GIL, for raw YUYV). Each loop iteration copies the latest
  frame of every camera and, with streaming encoding on, puts it on a bounded per-camera
  queue (``put(timeout=0.1)`` like LeRobot: a full queue blocks the loop, then drops);
  encoder threads compress every frame (zlib level 6 for software codecs; a light hash
  for ``h264_nvenc``, the "hardware" path). With streaming off, frames go to image-writer
  threads instead. So more cameras, higher fps and streaming encoding cost more CPU and
  GIL time and miss more deadlines on a loaded machine — for the same reasons as on a
  Thor. A ``performance`` governor halves the injected stall rate; pinning and priority
  act through the real scheduler (the simulated ``taskset`` maps the board's 14 CPUs
  onto the machine's, CPU i -> real CPU i mod n).
* ``nvpmodel`` and ``jetson_clocks`` read and write the simulated root with the real
  tools' output formats and behaviour (``tests/data/jetson-real/``): power modes that
  need a reboot ask for it, ``jetson_clocks --store`` asks before overwriting and
  ``--restore`` exits 0 even when a write fails; answering ``YES`` to nvpmodel reboots
  the simulated board (``reboot``: its processes end, its SSH sessions drop, it is down
  for ``reboot_s`` seconds, comes back with a new boot id and the new mode).
"""

# the tools the simulator puts first on PATH (``deploy``); named here, where every call's
# entry (``__main__``) finds them without importing the deployer (tarfile, gzip, hashlib:
# ~10 ms of each simulated tool's start)
TOOLS = ("tegrastats", "lerobot-record", "nvpmodel", "jetson_clocks", "taskset", "udevadm")
