"""Feeding a file's bytes to a hashlib digest without reading it whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def update_with_file(digest: Any, path: str | Path, *, block: int = 1 << 20) -> None:
    """`digest.update` with the bytes of `path`, `block` bytes at a time."""
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(block), b""):
            digest.update(chunk)
