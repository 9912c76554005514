"""Errors raised by dataset loaders: always name the file, the record and the problem."""

from __future__ import annotations

from pathlib import Path


class DatasetFormatError(ValueError):
    def __init__(self, file: str | Path, problem: str, record: str | int | None = None) -> None:
        self.file = str(file)
        self.record = record
        self.problem = problem
        where = f"{self.file}" if record is None else f"{self.file}, record {record}"
        super().__init__(f"{where}: {problem}")
