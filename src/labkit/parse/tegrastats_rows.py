"""Rows of a tegrastats log as they are decoded: blocks of column arrays with their line
numbers, and the reference parser line by line (for the lines no bulk path vouches for).
Both bulk decoders (``tegrastats_csv``, ``tegrastats_compiled``) add their blocks here."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from labkit.parse.tegrastats_line import board_hint, parse_line


@dataclass
class Block:
    """Decoded rows of one chunk: their line numbers and column arrays."""

    lines: np.ndarray
    cols: dict[str, np.ndarray]


@dataclass
class State:
    """What a log's chunks have decoded so far."""

    blocks: list[Block] = field(default_factory=list)
    order: dict[str, None] = field(default_factory=dict)  # column order of first sight
    skipped: int = 0
    lines: int = 0
    hint: str | None = None


def add(state: State, block: Block) -> None:
    """Keep a block, noting its columns in the order first seen."""
    for col in block.cols:
        state.order.setdefault(col, None)
    state.blocks.append(block)


def slow(rows: list[bytes], line_nos: np.ndarray, state: State) -> Block:
    """The reference parser, line by line; lines that are no sample count as skipped."""
    values: list[dict[str, Any]] = []
    keep: list[int] = []
    for k, raw in enumerate(rows):
        text = raw.decode("utf-8", "surrogateescape").rstrip("\r")
        p = parse_line(text)
        if p is None:
            state.skipped += 1
            continue
        if state.hint is None:
            state.hint = board_hint(p)
        row = dict(p.values)
        if p.time_starts:
            row["time"] = slow_time(text, p.time_starts)
        values.append(row)
        keep.append(k)
    cols: dict[str, np.ndarray] = {}
    names: dict[str, None] = {}
    for row in values:
        for key in row:
            names.setdefault(key, None)
    for key in names:
        if key == "time":
            cols[key] = np.array(
                [r.get("time", np.datetime64("NaT")) for r in values], dtype="datetime64[ns]"
            )
        else:
            cols[key] = np.array([r.get(key, math.nan) for r in values], dtype=float)
    return Block(line_nos[np.asarray(keep, dtype=int)], cols)


def slow_time(text: str, starts: list[int]) -> np.datetime64:
    mon, day, year, hh, mm, ss = (text[s : s + (4 if i == 2 else 2)] for i, s in enumerate(starts))
    try:
        return np.datetime64(f"{year}-{mon}-{day}T{hh}:{mm}:{ss}", "ns")
    except ValueError:
        return np.datetime64("NaT")
