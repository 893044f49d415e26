"""Host facts, pyinfra-style: each fact is a shell command and a pure parser of its output.

``gather`` sends every fact's command in one round trip (sections split by markers) and
parses each section; a fact whose tool is missing is ``None`` rather than an error, so
the same code reads a Thor, an Orin and the simulated Jetson. Paths under ``/sys``,
``/etc`` and ``/dev`` are read below ``sysroot`` ("" on a real board, the simulated root
on the simulator).
"""

from __future__ import annotations

import contextlib
import re
import shlex
from typing import Any

from labkit.core.facts import Fact, parse_which
from labkit.remote.target import Target
from labkit.remote.waits import checking

MARK = "@@labkit-fact"


# -- parsers (pure) --------------------------------------------------------------------

_RELEASE = re.compile(r"#\s*R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)(.*)")


def parse_l4t_release(out: str, code: int) -> dict | None:
    """``# R38 (release), REVISION: 4.0, GCID: ..., BOARD: ..., DATE: ...`` -> fields."""
    for line in out.splitlines():
        m = _RELEASE.match(line.strip())
        if m:
            fields = dict(re.findall(r"(\w+):\s*([^,]+?)\s*(?:,|$)", m.group(3)))
            return {
                "l4t": f"{m.group(1)}.{m.group(2)}",
                "major": int(m.group(1)),
                "revision": m.group(2),
                "gcid": fields.get("GCID"),
                "board": fields.get("BOARD"),
                "date": fields.get("DATE"),
            }
    return None


def parse_nvpmodel(out: str, code: int) -> dict | None:
    """``nvpmodel -q``: the ``NV Power Mode:`` line (warnings may precede it), then the id."""
    lines = [line.strip() for line in out.splitlines()]
    for i, line in enumerate(lines):
        m = re.match(r"NV Power Mode:\s*(\S+)", line)
        if m:
            ident = next((int(x) for x in lines[i + 1 :] if x.isdigit()), None)
            return {"name": m.group(1), "id": ident}
    return None


def parse_cpus(out: str, code: int) -> dict | None:
    """Our sysfs dump: ``online <list>`` then ``cpuN online governor min max cur hwmax``."""
    online, cpus, available = None, {}, None
    for line in out.splitlines():
        parts = line.split()
        if parts[:1] == ["online"] and len(parts) == 2:
            online = parts[1]
        elif parts[:1] == ["available"]:
            available = parts[1:]
        elif parts and re.fullmatch(r"cpu\d+", parts[0]) and len(parts) == 7:
            vals = [None if v == "-" else v for v in parts[1:]]
            cpus[int(parts[0][3:])] = {
                "online": vals[0] != "0",
                "governor": vals[1],
                "min_khz": _int(vals[2]),
                "max_khz": _int(vals[3]),
                "cur_khz": _int(vals[4]),
                "hw_max_khz": _int(vals[5]),
            }
    if not cpus:
        return None
    on = [c for c in cpus.values() if c["online"] and c["governor"]]
    govs = sorted({c["governor"] for c in on})
    # jetson_clocks pins each CPU's min to its current max, which a capped power mode
    # holds below the hardware max (Orin Nano 25W: 1344000 of 1728000 kHz): pinned is
    # min == max on every online CPU, not == the hardware max
    pinned = bool(on) and all(c["min_khz"] is not None and c["min_khz"] == c["max_khz"] for c in on)
    out = {
        "online": online,
        "count": len(cpus),
        "governors": govs,
        "clocks_pinned": pinned,
        "cpus": {str(k): v for k, v in sorted(cpus.items())},
    }
    if available:  # cpu0's scaling_available_governors, so a plan needs no extra round trip
        out["available_governors"] = available
    return out


def parse_v4l2_devices(out: str, code: int) -> dict | None:
    """``v4l2-ctl --list-devices``: a card line ending in ``:`` then indented ``/dev`` paths."""
    if code != 0 and not out.strip():
        return None
    cards: dict[str, list[str]] = {}
    current = None
    for line in out.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace() and line.rstrip().endswith(":"):
            current = line.rstrip()[:-1].strip()
            cards[current] = []
        elif current is not None and line.strip().startswith("/dev/"):
            cards[current].append(line.strip())
    return cards if cards or code == 0 else None


_USB = re.compile(
    r"^(?P<indent>\s*)(?:\|__\s*|/:\s*)(?:Bus (?P<bus>\d+)\.)?Port (?P<port>[\d-]+): "
    r"Dev (?P<dev>\d+)(?:, If (?P<iface>\d+))?, Class=(?P<cls>[^,]*), "
    r"Driver=(?P<driver>[^,]*), (?P<speed>\S+)"
)
_NO_DRIVER = {"", "[none]"}


def _port(text: str) -> str:
    """``001`` (usbutils >= 017) and ``1`` (older) are the same port; ``1-2`` kept."""
    return "-".join(str(int(p)) for p in text.split("-") if p)


def parse_lsusb_tree(out: str, code: int) -> list[dict] | None:
    """``lsusb -t``: one entry per interface, with bus, depth, driver and link speed.

    Both formats: older usbutils ``Bus 02.Port 1: Dev 1`` and Ubuntu 24.04's
    ``Bus 002.Port 001: Dev 001`` give the same numbers; ``Driver=[none]`` is no driver.
    """
    if code != 0:
        return None
    entries, bus = [], None
    for line in out.splitlines():
        m = _USB.match(line)
        if not m:
            continue
        if m.group("bus"):
            bus = int(m.group("bus"))
        entries.append(
            {
                "bus": bus,
                "depth": len(m.group("indent")) // 4,
                "port": _port(m.group("port")),
                "dev": int(m.group("dev")),
                "interface": int(m.group("iface")) if m.group("iface") else None,
                "class": m.group("cls").strip(),
                "driver": None
                if m.group("driver").strip() in _NO_DRIVER
                else m.group("driver").strip(),
                "speed": m.group("speed"),
            }
        )
    return entries


def parse_df(out: str, code: int) -> dict | None:
    """``df -Pk PATH``: free space of the filesystem holding the work dir."""
    lines = out.strip().splitlines()
    if code != 0 or len(lines) < 2:
        return None
    parts = lines[-1].split()
    if len(parts) < 6 or not parts[3].isdigit():
        return None
    return {"mount": parts[5], "size_mb": int(parts[1]) // 1024, "free_mb": int(parts[3]) // 1024}


def parse_meminfo(out: str, code: int) -> dict | None:
    vals = {}
    for line in out.splitlines():
        key, _, rest = line.partition(":")
        if rest.split()[:1] and rest.split()[0].isdigit():
            vals[key] = int(rest.split()[0]) // 1024
    if "MemTotal" not in vals:
        return None
    return {"total_mb": vals["MemTotal"], "available_mb": vals.get("MemAvailable")}


def parse_text(out: str, code: int) -> str | None:
    text = out.strip()
    return text.splitlines()[0].strip() if code == 0 and text else None


def parse_python(out: str, code: int) -> str | None:
    m = re.search(r"Python (\d+\.\d+\.\d+\S*)", out)
    return m.group(1) if m else None


def parse_devices(out: str, code: int) -> list[str]:
    return sorted(line.strip() for line in out.splitlines() if line.strip().startswith("/dev/"))


_PM = re.compile(r"<\s*POWER_MODEL\s+ID=(\d+)\s+NAME=(\S+?)\s*>")
_PM_DEFAULT = re.compile(r"<\s*PM_CONFIG\s+DEFAULT=(\d+)\s*>")
_CPU_FREQ = re.compile(r"^CPU_\w+?_(\d+)\s+(MIN|MAX)_FREQ\s+(-?\d+)")


def parse_nvpmodel_conf(out: str, code: int) -> dict | None:
    """``/etc/nvpmodel.conf``: each POWER_MODEL block's name, cores online, CPU clock cap
    (kHz; ``None`` = the hardware max) and power-gating masks (``TPC_PG_MASK`` ...), and
    the default mode. A mode whose masks differ from the current one's needs a reboot."""
    if code != 0:
        return None
    modes: dict[str, dict] = {}
    default, cur = None, None
    for raw in out.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if m := _PM.match(line):
            cur = {"name": m.group(2), "cores": 0, "cpu_max_khz": None, "pg_masks": {}}
            modes[m.group(1)] = cur
            continue
        if m := _PM_DEFAULT.match(line):
            default, cur = int(m.group(1)), None
            continue
        if line.startswith("<"):  # a PARAM definition block
            cur = None
            continue
        if cur is None:
            continue
        parts = line.split()
        if parts[0] == "CPU_ONLINE" and len(parts) == 3 and parts[2] == "1":
            cur["cores"] += 1
        elif parts[0].endswith("_POWER_GATING") and len(parts) == 3:
            cur["pg_masks"][parts[1]] = parts[2]
        elif (m := _CPU_FREQ.match(line)) and m.group(2) == "MAX" and int(m.group(3)) > 0:
            cap = int(m.group(3))
            cur["cpu_max_khz"] = min(cap, cur["cpu_max_khz"] or cap)
    if not modes:
        return None
    return {"default": default, "modes": modes}


def parse_uptime(out: str, code: int) -> float | None:
    """``/proc/uptime``: seconds since boot (first field)."""
    parts = out.split()
    try:
        return float(parts[0]) if code == 0 and parts else None
    except ValueError:
        return None


def parse_boot_id(out: str, code: int) -> str | None:
    text = out.strip()
    return text if code == 0 and re.fullmatch(r"[0-9a-f-]{36}", text) else None


_OWN = re.compile(r"(^|[\s/])supervise\.py spec\.json|@@labkit")


TOP_SPAN_S = 0.5  # how long the CPU of every process is measured for


def _stat_ticks(rest: str) -> tuple[int, int] | None:
    """``pid (comm) state ppid ... utime stime`` -> (pid, utime + stime) in clock ticks;
    the command name may hold spaces and parentheses, so fields count from the last ')'."""
    pid, _, tail = rest.partition(" ")
    fields = tail[tail.rfind(")") + 2 :].split()
    if not pid.isdigit() or len(fields) < 13:
        return None
    try:
        return int(pid), int(fields[11]) + int(fields[12])
    except ValueError:
        return None


def parse_top_processes(out: str, code: int) -> list[dict] | None:
    """Up to 5 busiest processes other than labkit's own, by the CPU each used between two
    readings of ``/proc/<pid>/stat`` (``ps``'s %CPU is an average over the process's whole
    life, which hides a daemon that just started spinning), the ``span`` line apart:
    ``TOP_SPAN_S``, or a split sample's own.
    labkit's own: the probe's shell (``self <pid>``), every process above it (the SSH
    session, the shell running it, the controller on a local target), below it (the
    probes, ``ps`` itself) and labkit's run supervisor."""
    lines = out.splitlines()
    if code != 0 or not lines or not lines[0].startswith("self "):
        return None
    me = int(lines[0].split()[1])
    hz, span = 100.0, TOP_SPAN_S
    ticks: dict[str, dict[int, int]] = {"A": {}, "B": {}}
    rows, parent, launcher = [], {}, set()
    for line in lines[1:]:
        tag, _, rest = line.partition(" ")
        if tag == "own":  # a detached sampler: the chain that launched it (SSH session)
            launcher.update(int(x) for x in rest.split() if x.isdigit())
        elif tag in ticks:
            got = _stat_ticks(rest)
            if got:
                ticks[tag][got[0]] = got[1]
        elif tag == "hz" and rest.strip().isdigit():
            hz = float(rest)
        elif tag == "span":
            with contextlib.suppress(ValueError):  # unreadable: the sampler's own span
                span = max(float(rest), 0.01)  # never 0: a clock tick is 0.01 s
        elif tag == "P":
            parts = rest.split(None, 3)
            if len(parts) < 4 or not parts[0].isdigit() or not parts[1].isdigit():
                continue
            pid, ppid = int(parts[0]), int(parts[1])
            parent[pid] = ppid
            used = ticks["B"].get(pid, 0) - ticks["A"].get(pid, 0)
            cpu = round(max(used, 0) / hz / span * 100, 1) if pid in ticks["A"] else 0.0
            rows.append({"pid": pid, "user": parts[2], "cpu_pct": cpu, "command": parts[3].strip()})
    own, p = set(launcher), me
    while p in parent and p not in own:  # the probe and everything above it
        own.add(p)
        p = parent[p]
    own.add(p)

    def ours(pid: int) -> bool:
        seen = set()
        while pid in parent and pid not in seen:
            if pid == me:
                return True
            seen.add(pid)
            pid = parent[pid]
        return False

    keep = [
        r for r in rows
        if r["pid"] not in own and not ours(r["pid"]) and not _OWN.search(r["command"])
    ]  # fmt: skip
    keep.sort(key=lambda r: (-r["cpu_pct"], r["pid"]))
    return keep[:5]


def _int(v: str | None) -> int | None:
    return int(v) if v is not None and v.isdigit() else None


# -- commands --------------------------------------------------------------------------

_CPU_DUMP = r"""cd {cpu} 2>/dev/null || exit 0
printf 'online %s\n' "$(cat online 2>/dev/null || echo -)"
printf 'available %s\n' "$(cat cpu0/cpufreq/scaling_available_governors 2>/dev/null)"
# every per-CPU file in one grep (not a cat per file: 14 CPUs x 6 files is ~90 forks),
# folded by awk into one line per CPU: name online governor min max cur hwmax ('-': none)
grep -H . cpu[0-9]*/online cpu[0-9]*/cpufreq/scaling_governor \
  cpu[0-9]*/cpufreq/scaling_min_freq cpu[0-9]*/cpufreq/scaling_max_freq \
  cpu[0-9]*/cpufreq/scaling_cur_freq cpu[0-9]*/cpufreq/cpuinfo_max_freq 2>/dev/null |
awk -F: '{{ n = split($1, p, "/"); v[p[1] "," p[n]] = $2; c[p[1]] = 1 }}
function g(k) {{ return (k in v) ? v[k] : "-" }}
END {{ for (x in c) print x, g(x ",online"), g(x ",scaling_governor"), g(x ",scaling_min_freq"),
  g(x ",scaling_max_freq"), g(x ",scaling_cur_freq"), g(x ",cpuinfo_max_freq") }}'
for d in cpu[0-9]*; do [ -e "$d/online" ] || [ -d "$d/cpufreq" ] || echo "$d - - - - - -"; done"""


# $$ is the gather script's shell: the parser leaves it, its ancestors and its children out
# (every process: the chain up from the probe must be whole to be left out)
# two readings of every /proc/<pid>/stat TOP_SPAN_S apart (read builtins: no fork per
# process), then ps for the parent, user and command line
_TOP = (
    "echo self $$; echo hz $(getconf CLK_TCK 2>/dev/null || echo 100); "
    f"echo span {TOP_SPAN_S}; "
    'for f in /proc/[0-9]*/stat; do IFS= read -r l 2>/dev/null < $f && echo "A $l"; done; '
    f"sleep {TOP_SPAN_S}; "
    'for f in /proc/[0-9]*/stat; do IFS= read -r l 2>/dev/null < $f && echo "B $l"; done; '
    "ps -eo pid=,ppid=,user=,args= | sed 's/^ */P /'"
)

# the sampler detached from the round trip that starts it, so its half-second overlaps the
# work that follows (preflight, settings, the supervisor's start; or stop, restore, pull)
# instead of adding to it. It names the chain of processes that launched it (the SSH
# session stays for the whole run) so the parser leaves them out as labkit's own.
_LAUNCHER = (
    'p=$$; while [ "${p:-0}" -gt 1 ] 2>/dev/null; do echo "own $p"; '
    's=$(cat /proc/$p/stat 2>/dev/null) || break; s=${s##*") "}; set -- $s; p=$2; done'
)


def detached(script: str, path: str) -> str:
    """Start ``script`` (bash) in the background, its output into ``path`` (written whole:
    ``.part`` then renamed), and name the chain of processes that launched it in
    ``path.own``; prints nothing now. ``read_detached`` takes its output later."""
    part = _q(path + ".part")
    body = f"( {script}\n) > {part} 2>/dev/null; mv {part} {_q(path)}"
    # the .part is there before this returns: a reader never takes "not launched" for it
    launch = f"{{ {_LAUNCHER}; }} > {_q(path + '.own')}; rm -f {_q(path)}; : > {part}; "
    return launch + f"setsid nohup bash -c {_q(body)} > /dev/null 2>&1 < /dev/null &"


def read_detached(path: str, now: str, wait_s: float, own: bool = False) -> str:
    """The output of ``detached`` from ``path``, waiting (up to ``wait_s``) while it is
    still being written; none there: ``now`` runs instead. ``own``: the launcher chain
    follows the output."""
    chain = '; cat "$f.own" 2>/dev/null' if own else ""
    check = '{ [ ! -e "$f" ] && [ -e "$f.part" ]; } || break;'
    return (
        f"f={_q(path)}; {checking(check, wait_s)}; "
        f'if [ -e "$f" ]; then cat "$f"{chain}; else {now}\nfi'
    )


def top_detached(path: str) -> str:
    """Start the ``top_processes`` sampler in the background, into ``path``; ``top_read``
    takes its result later."""
    return detached(_TOP, path)


def top_read(path: str, fallback: bool, launched: str = "") -> str:
    """The sampler's result from ``path``, waiting (up to 2 s) while it is still being
    written; none there: sample now (``fallback``) or say nothing (unknown). ``launched``:
    the ``.own`` file of a detached script this runs in, whose launchers are labkit's."""
    now = "true"
    if fallback:
        now = f"{_TOP}; cat {_q(launched)} 2>/dev/null" if launched else _TOP
    return read_detached(path, now, 2.0, own=True)


# a split sample: the first reading in the progress polls near the workload's end (at the
# start of each from two poll intervals before its expected end, or in the poll that sees
# it end sooner), the second where the run's finish is done (the facts after the
# restore), so the span is the workload's last moments, the stop, restore and packing the
# run does anyway, not a wait of its own.
# /proc/uptime in centiseconds (its dot dropped): bash arithmetic, no fork for the clock
TOP_MIN_SPAN_S = 0.2  # a split sample's shortest span: 20 clock ticks at 100 Hz
_UPTIME_CS = 'IFS=" " read -r u _ < /proc/uptime; u=${u/./}; u=$((10#$u))'
# the machine's boot: a first reading from before a reboot (a power mode put back by
# rebooting, between the two) counts for nothing, its pids and clock being another boot's
_BOOT = "IFS= read -r b < /proc/sys/kernel/random/boot_id"


def top_mark(path: str) -> str:
    """The first reading of a split sample (``top_since`` takes the second): the time, the
    boot and every process's CPU ticks, into ``path``; no waiting: it adds ~10 ms to the
    round trip it rides in, not a span."""
    part = _q(path + ".part")
    # the one before is kept (``.prev``): ``top_since`` takes it when this one turns out
    # too recent. `:` ends the group: its status is not that of the last `read` (a
    # process that ended)
    return (
        f"{{ [ -e {_q(path)} ] && mv -f {_q(path)} {_q(path + '.prev')}; :; }} 2>/dev/null; "
        f'{{ {_UPTIME_CS}; {_BOOT}; echo "t0 $u $b"; '
        'for f in /proc/[0-9]*/stat; do IFS= read -r l 2>/dev/null < $f && echo "A $l"; done; '
        f":; }} > {part} 2>/dev/null && mv {part} {_q(path)}"
    )


def top_since(path: str, launched: str = "") -> str:
    """The second reading of the split sample ``top_mark`` started: waits out what is left
    of ``TOP_MIN_SPAN_S`` since the first (nothing when the run's own work took longer;
    nothing either when the first reading before it, of this boot, spans it),
    reads again and names the span between the two. No first reading there of this boot
    (the workload was stopped before the polls near its end; the host rebooted since):
    sampled whole, now. ``launched``: as for ``top_read``."""
    own = f"; cat {_q(launched)} 2>/dev/null" if launched else ""
    min_cs = round(TOP_MIN_SPAN_S * 100)
    return (
        f'f={_q(path)}; t0=; b0=; [ -e "$f" ] && IFS=" " read -r _ t0 b0 < "$f"; '
        f"{_UPTIME_CS}; {_BOOT}; "
        'case $t0 in ""|*[!0-9]*) t0=;; esac; '
        # too recent to span TOP_MIN_SPAN_S: the reading before it, if of this boot
        f'p={_q(path + ".prev")}; if [ -n "$t0" ] && [ $((u - t0)) -lt {min_cs} ] '
        '&& [ -e "$p" ]; then t1=; b1=; IFS=" " read -r _ t1 b1 < "$p"; '
        'case $t1 in ""|*[!0-9]*) ;; *) [ "$b1" = "$b" ] && [ "$t1" -le "$t0" ] '
        "&& { f=$p; t0=$t1; b0=$b1; };; esac; fi; "
        '[ -n "$t0" ] && { [ "$b0" != "$b" ] || [ "$u" -lt "$t0" ]; } && t0=; '
        f'if [ -z "$t0" ]; then {_TOP}{own}; else '
        f"w=$(({min_cs} - (u - t0))); "
        '[ $w -gt 0 ] && sleep "$((w / 100)).$(printf %02d $((w % 100)))"; '
        "echo self $$; echo hz $(getconf CLK_TCK 2>/dev/null || echo 100); "
        "grep '^A ' \"$f\"; "
        'for g in /proc/[0-9]*/stat; do IFS= read -r l 2>/dev/null < $g && echo "B $l"; done; '
        f'{_UPTIME_CS}; s=$((u - t0)); echo "span $((s / 100)).$(printf %02d $((s % 100)))"; '
        f"ps -eo pid=,ppid=,user=,args= | sed 's/^ */P /'{own}; fi"
    )


# the interpreter behind python3 and its version, from one start (``gather_script`` runs
# a command two facts share once): a pyenv shim costs 0.1-0.4 s a start. -S: without the
# site module (its .pth files), which neither the path nor the version depends on:
# 0.07-0.09 s instead of 0.12-0.15 s through a pyenv shim here
_PYTHON = (
    "python3 -S -c 'import sys; print(sys.executable); print(\"Python\", sys.version.split()[0])'"
)

_FIND_EXISTING = (
    'd={wd}; while [ ! -e "$d" ] && [ "$d" != / ]; do d=$(dirname "$d"); done; df -Pk "$d"'
)


def _q(s: str) -> str:
    return shlex.quote(s)


def facts_for() -> list[Fact]:
    """The host's own facts; the plug-ins' (``labkit.registry.plugin_facts``) join them
    in the same round trip."""
    return [
        Fact("kernel", lambda r, w: "uname -r", parse_text),
        Fact("arch", lambda r, w: "uname -m", parse_text),
        Fact("hostname", lambda r, w: "hostname", parse_text),
        Fact("l4t", lambda r, w: f"cat {_q(r + '/etc/nv_tegra_release')}", parse_l4t_release),
        Fact("nvpmodel", lambda r, w: "nvpmodel -q", parse_nvpmodel),
        Fact(
            "nvpmodel_modes",
            lambda r, w: f"cat {_q(r + '/etc/nvpmodel.conf')}",
            parse_nvpmodel_conf,
        ),
        Fact(
            "boot_id",
            lambda r, w: f"cat {_q(r + '/proc/sys/kernel/random/boot_id')}",
            parse_boot_id,
        ),
        Fact("uptime_s", lambda r, w: "cat /proc/uptime", parse_uptime),
        Fact("top_processes", lambda r, w: _TOP, parse_top_processes),
        Fact(
            "cpu", lambda r, w: _CPU_DUMP.format(cpu=_q(r + "/sys/devices/system/cpu")), parse_cpus
        ),
        Fact("v4l2_devices", lambda r, w: "v4l2-ctl --list-devices", parse_v4l2_devices),
        Fact(
            "video_devices",
            lambda r, w: (
                f"for f in {_q(r + '/dev')}/video*; do "
                '[ -e "$f" ] && echo "/dev/${f##*/}"; done; true'
            ),
            parse_devices,
        ),
        Fact("usb", lambda r, w: "lsusb -t", parse_lsusb_tree),
        Fact("disk", lambda r, w: _FIND_EXISTING.format(wd=_q(w)), parse_df),
        Fact("memory", lambda r, w: "cat /proc/meminfo", parse_meminfo),
        Fact("python", lambda r, w: _PYTHON, parse_python),
        # the interpreter behind python3 (a pyenv/conda shim resolved): labkit's run
        # supervisor starts with it, without the shim's own start-up on every run
        Fact("python_path", lambda r, w: _PYTHON, parse_which),
    ]


def gather_script(facts: list[Fact], sysroot: str, workdir: str) -> str:
    """One script that probes every fact at once (each in the background, into its own
    file) and prints them between markers; ~ the slowest probe, not the sum.
    Facts with the same command (``python`` and ``python_path``: one interpreter start
    through a pyenv shim, not two) run it once and each parse its output.

    Every marker is a file written by a builtin (a fact's header before the probes
    start, its exit code by its probe), and one ``cat`` prints them all around the raw
    outputs: a ``cat`` per fact, one after another, cost ~40 forks (~40 ms on a busy
    two-core board) after the slowest probe. Outputs stay in files (not ``$( )``), so a
    probe that leaves a process holding its output is not waited for, and every byte is
    kept; one without a final newline gets one before its exit code."""
    parts = ["d=$(mktemp -d 2>/dev/null || mktemp -d -t labkit) || exit 1"]
    slots: dict[str, int] = {}  # command -> the slot its output goes to
    printed: list[str] = []  # the files the one cat prints, in order
    for j, f in enumerate(facts):
        parts.append(f"printf '{MARK} %s\\n' {_q(f.name)} > \"$d/h{j}\"")
        command = f.command(sysroot, workdir)
        if command not in slots:
            i = slots[command] = len(slots)
            # the exit code, after a newline when the output lacks its last one
            parts.append(
                f'{{ ( {command}\n) > "$d/{i}" 2>&1 < /dev/null; r=$?; {{ [ -s "$d/{i}" ] && '
                f'[ -n "$(tail -c 1 "$d/{i}")" ] && echo; printf \'{MARK}-rc %s\\n\' "$r"; }} '
                f'> "$d/{i}.rc"; }} &'
            )
        i = slots[command]
        printed += [f'"$d/h{j}"', f'"$d/{i}"', f'"$d/{i}.rc"']
    parts.append("wait")
    parts.append("cat " + " ".join(printed))
    parts.append('rm -rf "$d"')
    return "\n".join(parts)


def split_sections(out: str) -> dict[str, tuple[str, int]]:
    """Output of ``gather_script`` -> {fact: (its output, its exit code)}."""
    sections: dict[str, tuple[str, int]] = {}
    name, buf = None, []
    for line in out.splitlines():
        if line.startswith(MARK + "-rc "):
            if name is not None:
                sections[name] = ("\n".join(buf), int(line.split()[1]))
            name, buf = None, []
        elif line.startswith(MARK + " "):
            name, buf = line.split(" ", 1)[1], []
        elif name is not None:
            buf.append(line)
    return sections


def gather(target: Target, sysroot: str, workdir: str, facts: list[Fact]) -> dict[str, Any]:
    """Every fact of ``target`` in one round trip; keys are stable, missing tools -> None."""
    res = target.run(gather_script(facts, sysroot, workdir), timeout=60, check=False)
    sections = split_sections(res.stdout)
    out: dict[str, Any] = {}
    for f in facts:
        text, code = sections.get(f.name, ("", 127))
        out[f.name] = f.process(text, code)
    return out
