"""One process at a time in a piece of work that several may want at once (a shared folder written
once and then reused): a lock file beside it, and a word to the user when it has to wait."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterator

from filelock import FileLock, Timeout


@contextlib.contextmanager
def exclusive(path: str | Path, *, waiting_message: str) -> Iterator[None]:
    """Hold `PATH.lock` for the block; if another process holds it, print `waiting_message` and wait."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(f"{path}.lock")
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(waiting_message, flush=True)
        lock.acquire()
    try:
        yield
    finally:
        lock.release()
