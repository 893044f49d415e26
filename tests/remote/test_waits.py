"""Waits on the target: a check every tick, no process between checks."""

from __future__ import annotations

import subprocess
import time

from labkit.remote.waits import TICK_S, checking


def bash(script: str) -> str:
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True).stdout


def test_a_wait_checks_once_a_tick_for_at_most_its_time():
    # nothing breaks: the check ran once per tick of the wait, no more, and the ticks
    # were paused (a pause that returned at once would spin through them); a busy
    # machine only makes the wait longer
    begun = time.monotonic()
    out = bash(f"n=0; {checking('n=$((n+1));', 20 * TICK_S)}; echo $n")
    assert out.strip() == "20"
    assert time.monotonic() - begun >= 20 * TICK_S


def test_a_wait_ends_at_the_check_that_breaks(tmp_path):
    flag = tmp_path / "flag"
    check = f'n=$((n+1)); [ $n -eq 3 ] && : > "{flag}"; [ -e "{flag}" ] && break;'
    out = bash(f"n=0; {checking(check, 60)}; echo $n")
    assert out.strip() == "3"


def test_a_wait_starts_no_process_between_checks(tmp_path):
    # a `sleep` first on PATH that notes every call: the pause between checks is bash's
    # own read -t, so it is never called
    calls = tmp_path / "calls"
    (tmp_path / "sleep").write_text(f'#!/bin/sh\necho "$@" >> "{calls}"\n')
    (tmp_path / "sleep").chmod(0o755)
    out = bash(f'PATH="{tmp_path}:$PATH"; n=0; {checking("n=$((n+1));", 20 * TICK_S)}; echo $n')
    assert out.strip() == "20"
    assert not calls.exists()
