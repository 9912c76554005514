"""Checkpoint files: `epoch_N.pth` written atomically every epoch (the last K kept) and
`last.pth`, which always names the newest complete checkpoint.

A checkpoint is a dict of plain values and tensors (see `Trainer.state_dict`), loadable
with `torch.load(..., weights_only=True)`.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch

from personsearch.utils.atomic import atomic_path, atomic_torch_save

LAST_NAME = "last.pth"
_EPOCH_FILE = re.compile(r"^epoch_(\d+)\.pth$")


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # a truncated or foreign file: name it instead of a pickle trace
        raise ValueError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(checkpoint, dict):
        raise ValueError(f"{path}: a checkpoint must be a dict, got {type(checkpoint).__name__}")
    return checkpoint


def epoch_checkpoints(folder: str | os.PathLike) -> list[Path]:
    """`epoch_N.pth` files in `folder`, oldest epoch first."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _EPOCH_FILE.match(p.name))]
    return [p for _, p in sorted(found)]


def find_resume_checkpoint(spec: str, output_dir: str | os.PathLike) -> Path | None:
    """`auto` -> `output_dir/last.pth` when it exists (else None: start fresh); otherwise a path."""
    if spec == "auto":
        last = Path(output_dir) / LAST_NAME
        return last if last.is_file() else None
    path = Path(spec)
    if not path.is_file():
        raise FileNotFoundError(f"resume checkpoint not found: {path}")
    return path


class CheckpointSaver:
    """Writes `epoch_N.pth` then points `last.pth` at it; keeps the newest `keep_last` epoch files
    (0 keeps all). `last.pth` is a hard link (a copy where links are unsupported)."""

    def __init__(self, *, folder: str | os.PathLike, keep_last: int = 3) -> None:
        if keep_last < 0:
            raise ValueError(f"keep_last must be >= 0, got {keep_last}")
        self.folder = Path(folder)
        self.keep_last = keep_last

    def save(self, checkpoint: dict[str, Any], epoch: int) -> Path:
        path = self.folder / f"epoch_{epoch}.pth"
        atomic_torch_save(path, checkpoint)
        with atomic_path(self.folder / LAST_NAME) as tmp:
            tmp.unlink()
            try:
                os.link(path, tmp)
            except OSError:
                shutil.copyfile(path, tmp)
        if self.keep_last:
            for old in epoch_checkpoints(self.folder)[: -self.keep_last]:
                old.unlink()
        return path
