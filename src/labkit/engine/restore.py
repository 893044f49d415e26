"""The one path that puts a journal's settings back: the run's own at its end, a dead
run's before the next one starts, ``invoke restore`` and ``invoke collect``. The run whose
journal it was gets a note in its record (when it is in this store)."""

from __future__ import annotations

from labkit.records.store import mark_restored
from labkit.remote.settings import parse_journal, read_journal, restore_journal


def put_back(
    t, hs, opts, journal: dict | None = None, text: str | None = None, by: str = ""
) -> list[dict]:
    """Undo ``journal`` (else the one on the target, or ``text`` as already read), last
    change first; returns the entries put back. ``by``: who did it, noted in a dead run's
    record; empty for the run's own journal (its record is updated by the run)."""
    if journal is None and text is None:
        journal = read_journal(t, hs.workdir)
    elif journal is None:
        journal = parse_journal(t, hs.workdir, text)
    if not journal:
        return []
    dead = journal.get("run_id")
    if by:
        opts.say(f"{t.name}: putting back settings left changed by run {dead}")
    hs.enable_sudo()
    done = restore_journal(t, hs.workdir, log=opts.say, journal=journal)
    if by and dead:
        mark_restored(opts.runs, dead, [e["key"] for e in done], by)
    return done
