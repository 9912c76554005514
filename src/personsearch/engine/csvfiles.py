"""Metric CSV files: atomic whole-file writes and tolerant reads."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from personsearch.utils.atomic import atomic_write_text


def write_rows_csv(path: str | os.PathLike, rows: Iterable[Mapping[str, Any]]) -> None:
    """Atomically write `rows` with the union of their keys as header (first-seen order)."""
    rows = list(rows)
    header: list[str] = []
    for row in rows:
        header.extend(key for key in row if key not in header)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buffer.getvalue())


def read_text_rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def read_rows_csv(path: str | os.PathLike) -> list[dict[str, float]]:
    """Rows of a metrics CSV as floats (empty cells skipped)."""
    return [{k: float(v) for k, v in row.items() if v not in ("", None)} for row in read_text_rows(Path(path))]
