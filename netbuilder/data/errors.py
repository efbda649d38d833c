"""Errors of the data package: each names the file and the problem, ready to show a user."""

from __future__ import annotations

from pathlib import Path


class DataError(Exception):
    """A data set cannot be used. `str(err)` is "<file>: <problem>"."""

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(problem if path is None else f"{path}: {problem}")


class DownloadError(DataError):
    """A download failed on every mirror; the message says what happened on each."""


class DownloadCancelled(DownloadError):
    """The caller cancelled a download; partial files are kept so a retry resumes."""
