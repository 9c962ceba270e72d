"""Input and output of raw tables (see :mod:`channel_analysis.io.sources`)."""

from .sources import read_tables, write_tables

__all__ = ["read_tables", "write_tables"]
