"""A parsed log's table, cached as parquet beside the log (rebuilt when the log is newer)."""

from __future__ import annotations

from pathlib import Path


def cached_table(run_dir: Path, parquet: str, log: str, reader):
    """The parsed table: the parquet written beside the log when it is newer, else parse;
    None when the log is not there."""
    import pandas as pd  # noqa: PLC0415 -- pandas off the run path: start-up

    raw, cached = Path(run_dir) / log, Path(run_dir) / parquet
    if not raw.exists():
        return None
    if cached.exists() and cached.stat().st_mtime >= raw.stat().st_mtime:
        return pd.read_parquet(cached)
    return reader(raw)
