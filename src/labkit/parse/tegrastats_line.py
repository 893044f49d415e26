"""The tegrastats grammar for one line, every dialect in ``shared/notes/jetson.md`` §1.

``parse_line`` is the reference parser: it returns the values of one sample and, for the
fast path, the *slots* — which numeric run of the line feeds which column — so that all
lines sharing a shape can be decoded in bulk (``labkit.parse.tegrastats``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field

NAN = math.nan
UNIT_TO_MB = {"": 1.0, "M": 1.0, "k": 1 / 1024, "K": 1 / 1024, "G": 1024.0}

_TOKEN = re.compile(
    r"(?P<ram>\bRAM (?P<ram_u>\d+)/(?P<ram_t>\d+)(?P<ram_unit>[kKMG]?)B\s*"
    r"\(lfb \d+x\d+[kKMG]?B\))"
    r"|(?P<swap>\bSWAP (?P<sw_u>\d+)/(?P<sw_t>\d+)(?P<sw_unit>[kKMG]?)B\s*"
    r"\(cached (?P<sw_c>\d+)(?P<sw_cunit>[kKMG]?)B\))"
    r"|(?P<iram>\bIRAM (?P<ir_u>\d+)/(?P<ir_t>\d+)[kK]B\s*\(lfb \d+[kK]B\))"
    r"|(?P<cpu>\b[Cc][Pp][Uu] \[(?P<cpu_body>[^\]\[]*)\](?:@(?P<cpu_f>\d+))?)"
    r"|(?P<mts>\bMTS fg (?P<mts_fg>\d+)% bg (?P<mts_bg>\d+)%)"
    r"|(?P<emc>\bEMC(?:_FREQ)? (?:(?P<emc_l>\d+)%(?:@(?P<emc_f>\d+))?|@(?P<emc_f2>\d+)))"
    r"|(?P<gr3d>\bGR3D(?:_FREQ)? (?:(?P<gr_l>\d+)%)?"
    r"(?:@\[(?P<gr_fs>[\d,]+)\]|@(?P<gr_f>\d+))?(?=\s|$))"
    r"|(?P<rail>\b(?P<rail_n>[A-Za-z][A-Za-z0-9_]*) (?P<rail_c>\d+)(?:mW)?/(?P<rail_a>\d+)"
    r"(?:mW)?(?:/(?P<rail_m>\d+)(?:mW)?)?(?=\s|$))"
    r"|(?P<temp>\b(?P<temp_n>[A-Za-z][A-Za-z0-9_]*)@(?P<temp_v>-?\d+(?:\.\d+)?)C"
    r"(?:/-?\d+(?:\.\d+)?C)?)"
    r"|(?P<engine>\b(?P<eng_n>[A-Z][A-Z0-9_]*?)(?:_FREQ)? (?:(?P<eng_off>off)\b"
    r"|(?:(?P<eng_l>\d+)%)?@(?:\[(?P<eng_fs>[\d,]+)\]|(?P<eng_f>\d+))"
    r"|(?P<eng_mhz>\d+)(?=\s|$)))"
)
_TIME = re.compile(r"^\s*(\d\d)-(\d\d)-(\d{4}) (\d\d):(\d\d):(\d\d)(?=\s)")
_CPU_ENTRY = re.compile(r"\s*(?:(off)|(\d+)%(?:@(\d+))?)\s*$")
_PRINTABLE = re.compile(r"^[\x20-\x7e\t\r\n]*$")
_NUM_RUN = re.compile(r"[0-9.]+")


@dataclass
class Slot:
    """Column ``col`` takes the numeric run starting at ``start`` (times ``scale``)."""

    col: str
    start: int
    scale: float = 1.0


@dataclass
class LineParse:
    values: dict[str, float] = field(default_factory=dict)
    slots: list[Slot] = field(default_factory=list)
    consts: dict[str, float] = field(default_factory=dict)  # columns with no number (off)
    time_starts: list[int] = field(default_factory=list)  # MM DD YYYY hh mm ss runs
    ncpu: int = 0
    hint_tokens: set[str] = field(default_factory=set)

    def num(self, col: str, text: str, start: int, scale: float = 1.0) -> None:
        value = float(text) * scale
        if text.startswith("-"):
            start += 1  # the numeric run starts after the sign
        self.values[col] = value
        self.slots.append(Slot(col, start, -scale if text.startswith("-") else scale))

    def const(self, col: str, value: float = NAN) -> None:
        self.values[col] = value
        self.consts[col] = value


def _name(text: str) -> str:
    return text.lower()


def _unique(parse: LineParse, base: str) -> str:
    """``power_nc_mw`` again becomes ``power_nc_2_mw``: repeated rails never overwrite."""
    if f"power_{base}_mw" not in parse.values:
        return base
    n = 2
    while f"power_{base}_{n}_mw" in parse.values:
        n += 1
    return f"{base}_{n}"


def parse_line(line: str) -> LineParse | None:
    """Parse one tegrastats line; ``None`` when it is not a complete sample."""
    if not line or line.lstrip().startswith("#") or not _PRINTABLE.match(line):
        return None
    p = LineParse()
    tm = _TIME.match(line)
    if tm:
        p.time_starts = [tm.start(i) for i in range(1, 7)]
    seen: set[str] = set()
    for m in _TOKEN.finditer(line):
        kind = m.lastgroup
        if kind == "ram":
            scale = UNIT_TO_MB[m["ram_unit"]]
            p.num("ram_used_mb", m["ram_u"], m.start("ram_u"), scale)
            p.num("ram_total_mb", m["ram_t"], m.start("ram_t"), scale)
        elif kind == "swap":
            scale = UNIT_TO_MB[m["sw_unit"]]
            p.num("swap_used_mb", m["sw_u"], m.start("sw_u"), scale)
            p.num("swap_total_mb", m["sw_t"], m.start("sw_t"), scale)
            p.num("swap_cached_mb", m["sw_c"], m.start("sw_c"), UNIT_TO_MB[m["sw_cunit"]])
        elif kind == "iram":
            p.hint_tokens.add("IRAM")
            p.num("iram_used_kb", m["ir_u"], m.start("ir_u"))
            p.num("iram_total_kb", m["ir_t"], m.start("ir_t"))
        elif kind == "cpu":
            if not _parse_cpu(p, m):
                return None
        elif kind == "mts":
            p.num("mts_fg_pct", m["mts_fg"], m.start("mts_fg"))
            p.num("mts_bg_pct", m["mts_bg"], m.start("mts_bg"))
        elif kind == "emc":
            _maybe(p, "emc_load_pct", m, "emc_l")
            _maybe(p, "emc_freq_mhz", m, "emc_f" if m["emc_f"] else "emc_f2")
        elif kind == "gr3d":
            _maybe(p, "gpu_load_pct", m, "gr_l")
            if m["gr_fs"]:
                start = m.start("gr_fs")
                parts = m["gr_fs"].split(",")
                for i, part in enumerate(parts):
                    col = "gpu_freq_mhz" if i == 0 else f"gpu{i}_freq_mhz"
                    if part:
                        p.num(col, part, start)
                    else:  # `@[314,,314]`: a GPC with no clock printed
                        p.const(col)
                    start += len(part) + 1
                p.hint_tokens.add(f"gpcs{len(parts)}")
            else:
                _maybe(p, "gpu_freq_mhz", m, "gr_f")
        elif kind == "rail":
            rail = _unique(p, _name(m["rail_n"]))
            p.hint_tokens.add(m["rail_n"])
            p.num(f"power_{rail}_mw", m["rail_c"], m.start("rail_c"))
            p.num(f"power_{rail}_avg_mw", m["rail_a"], m.start("rail_a"))
            if m["rail_m"]:
                p.num(f"power_{rail}_max_mw", m["rail_m"], m.start("rail_m"))
        elif kind == "temp":
            col = f"temp_{_name(m['temp_n'])}_c"
            p.hint_tokens.add(m["temp_n"])
            if col not in seen:
                seen.add(col)
                p.num(col, m["temp_v"], m.start("temp_v"))
        elif kind == "engine":
            _parse_engine(p, m)
    if "ram_used_mb" not in p.values or p.ncpu == 0:
        return None
    return p


def _maybe(p: LineParse, col: str, m: re.Match, group: str) -> None:
    if m[group]:
        p.num(col, m[group], m.start(group))
    else:
        p.const(col)


def _parse_cpu(p: LineParse, m: re.Match) -> bool:
    body, shared = m["cpu_body"], m["cpu_f"]
    start = m.start("cpu_body")
    entries = body.split(",")
    for i, entry in enumerate(entries):
        em = _CPU_ENTRY.match(entry)
        if em is None:
            return False
        if em.group(1):
            p.const(f"cpu{i}_load_pct")
            p.const(f"cpu{i}_freq_mhz")
        else:
            p.num(f"cpu{i}_load_pct", em.group(2), start + em.start(2))
            if em.group(3):
                p.num(f"cpu{i}_freq_mhz", em.group(3), start + em.start(3))
            elif shared:
                p.num(f"cpu{i}_freq_mhz", shared, m.start("cpu_f"))
            else:
                p.const(f"cpu{i}_freq_mhz")
        start += len(entry) + 1
    p.ncpu = len(entries)
    return True


def _parse_engine(p: LineParse, m: re.Match) -> None:
    name = _name(m["eng_n"])
    if name in ("ram", "swap", "iram", "cpu", "emc", "gr3d", "mts"):
        return
    p.hint_tokens.add(m["eng_n"])
    load, freq = f"{name}_load_pct", f"{name}_freq_mhz"
    if m["eng_off"]:
        p.const(load)
        p.const(freq)
        return
    _maybe(p, load, m, "eng_l")
    if m["eng_fs"]:
        first = m["eng_fs"].split(",")[0]
        if first:
            p.num(freq, first, m.start("eng_fs"))
        else:  # `@[,314]`: no first clock printed
            p.const(freq)
    else:
        _maybe(p, freq, m, "eng_f" if m["eng_f"] else "eng_mhz")


def numeric_runs(line: str) -> list[int]:
    """Start offsets of the maximal runs of digits and dots, as the fast path sees them."""
    return [m.start() for m in _NUM_RUN.finditer(line)]


BOARD_RULES: list[tuple[str, Callable[[LineParse], bool]]] = [
    ("thor", lambda p: "VDD_CPU_SOC_MSS" in p.hint_tokens or p.ncpu == 14),
    ("agx-orin", lambda p: "VDD_GPU_SOC" in p.hint_tokens and p.ncpu == 12),
    ("orin-nx", lambda p: "VDD_CPU_GPU_CV" in p.hint_tokens and p.ncpu == 8),
    (
        "xavier-nx",
        lambda p: (
            "VDD_CPU_GPU_CV" in p.hint_tokens
            and p.ncpu == 6
            and bool({"AO", "AUX"} & p.hint_tokens)
        ),
    ),
    ("orin-nano", lambda p: "VDD_CPU_GPU_CV" in p.hint_tokens and p.ncpu == 6),
    ("agx-xavier", lambda p: {"CV", "VDDRQ", "SYS5V"} <= p.hint_tokens),
    ("tx2", lambda p: "BCPU" in p.hint_tokens and "MCPU" in p.hint_tokens),
    ("nano", lambda p: "POM_5V_IN" in p.hint_tokens),
    ("tx1", lambda p: "IRAM" in p.hint_tokens or ("iram_used_kb" in p.values and p.ncpu == 4)),
]


def board_hint(p: LineParse) -> str | None:
    for name, rule in BOARD_RULES:
        if rule(p):
            return name
    return None
