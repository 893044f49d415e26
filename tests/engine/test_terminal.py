"""Output that outlives its terminal, on a real pipe whose reader has left."""

from __future__ import annotations

import os

from labkit.engine.terminal import Lasting


def test_lines_go_to_the_log_once_the_reader_left(tmp_path):
    read, write = os.pipe()
    stream = os.fdopen(write, "w")
    out = Lasting(stream)
    print("before", file=out, flush=True)
    assert os.read(read, 100) == b"before\n"
    out.log_to(tmp_path / "labkit.log")
    print("still read", file=out, flush=True)
    os.close(read)  # the reader leaves
    print("nobody reads this", file=out, flush=True)
    print("nor this", file=out, flush=True)
    assert out.gone and not out.isatty()
    log = (tmp_path / "labkit.log").read_text().splitlines()
    assert log[0].startswith("-- ") and "output gone" in log[0]
    assert log[1:] == ["before", "still read", "nobody reads this", "nor this"]
    stream.flush()  # the dead descriptor now points at /dev/null: no BrokenPipeError


def test_a_log_named_after_the_loss_gets_the_lines_so_far(tmp_path):
    out = Lasting(open(os.devnull, "w"))  # noqa: SIM115
    print("one", file=out)
    out.lose("the terminal hung up (SIGHUP)")
    print("two", file=out)
    out.log_to(tmp_path / "a.log")
    print("three", file=out)
    assert (tmp_path / "a.log").read_text().splitlines()[1:] == ["one", "two", "three"]
    out.log_to(tmp_path / "b.log", replay=False)  # the next log starts afresh
    print("four", file=out)
    assert (tmp_path / "b.log").read_text().splitlines()[1:] == ["four"]
