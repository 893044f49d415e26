"""Readers for the two logs every conclusion rests on: tegrastats and lerobot-record."""

from labkit.parse.record_log import read_record_log, summarize_record_log
from labkit.parse.tegrastats import read_tegrastats

__all__ = ["read_record_log", "read_tegrastats", "summarize_record_log"]
