"""Restoring a journal: every undo in one round trip, a failing one named, the journal kept
until everything came back."""

from __future__ import annotations

import json

import pytest

from labkit.errors import RemoteError
from labkit.remote.settings import journal_path, restore_journal
from labkit.remote.target import LocalTarget


def journal(tmp_path, entries):
    body = {"run_id": "r1", "changes": entries}
    path = tmp_path / "state" / "restore.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body))
    return body


def entry(key, *undo):
    return {"key": key, "before": "old", "undo": list(undo), "sudo": False}


def test_all_undos_run_last_first_and_the_journal_goes(tmp_path):
    t = LocalTarget("local")
    out = tmp_path / "order"
    journal(tmp_path, [entry("a", f"echo a >> {out}"), entry("b", f"echo b >> {out}")])
    said = []
    done = restore_journal(t, str(tmp_path), log=said.append)
    assert [e["key"] for e in done] == ["b", "a"]
    assert out.read_text() == "b\na\n"
    assert said == ["  restored b -> old", "  restored a -> old"]
    assert not (tmp_path / "state" / "restore.json").exists()


def test_a_failing_undo_is_named_the_others_still_run_and_the_journal_stays(tmp_path):
    t = LocalTarget("local")
    out = tmp_path / "ran"
    body = journal(
        tmp_path,
        [
            entry("governor", f"echo governor >> {out}"),
            entry("sysctl", "echo cannot write >&2; false"),
        ],
    )
    with pytest.raises(RemoteError) as err:
        restore_journal(t, str(tmp_path), log=lambda m: None)
    msg = str(err.value)
    assert "could not restore every setting" in msg and journal_path(str(tmp_path)) in msg
    assert "sysctl: exited 1: cannot write" in msg and "governor" not in msg.split("\n", 1)[1]
    assert out.read_text() == "governor\n"  # the later entry was still undone
    assert (tmp_path / "state" / "restore.json").exists()
    # the journal as the run wrote it (no read back) gives the same result
    with pytest.raises(RemoteError, match="sysctl: exited 1"):
        restore_journal(t, str(tmp_path), log=lambda m: None, journal=body)
