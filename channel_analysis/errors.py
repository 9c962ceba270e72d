"""Errors a user can act on.

Every problem caused by input (data, parameters, files) is raised as a subclass of
:class:`ChannelAnalysisError`. The command line prints its message without a traceback and exits
with status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class ChannelAnalysisError(Exception):
    """A problem the user can fix; the message says where (table, column, row or key) and how."""

    exit_code = 2


class ParamsError(ChannelAnalysisError):
    """A parameters file or command-line option is wrong (unknown key, wrong type, missing value)."""


class DataSourceError(ChannelAnalysisError):
    """An input source cannot be read (missing file, bad encoding, unreachable database)."""


class DataValidationError(ChannelAnalysisError):
    """Input tables failed validation. ``problems`` is the full table of problems found."""

    def __init__(self, message: str, problems=None):
        super().__init__(message)
        self.problems = problems


class RunLockedError(ChannelAnalysisError):
    """Another process holds the run folder's lock (a render or a send of the same period)."""
