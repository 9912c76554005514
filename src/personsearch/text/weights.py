"""Reading encoder weight files: safetensors or torch state dicts, unwrapped from training checkpoints.

A checkpoint that keeps its state dict under "model" or "state_dict" (possibly nested, possibly
saved from DataParallel with "module." prefixes) yields the bare state dict.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

WRAPPER_KEYS = ("model", "state_dict")


def unwrap_state_dict(obj: Any, *, source: str = "weights") -> dict[str, torch.Tensor]:
    while isinstance(obj, dict) and not all(torch.is_tensor(v) for v in obj.values()):
        inner = next((obj[k] for k in WRAPPER_KEYS if isinstance(obj.get(k), dict)), None)
        if inner is None:
            raise ValueError(f"{source}: not a state dict and no {' / '.join(WRAPPER_KEYS)} entry holding one "
                             f"(top-level keys: {sorted(obj)[:8]})")
        obj = inner
    if not isinstance(obj, dict) or not obj:
        raise ValueError(f"{source}: no tensors found")
    if all(k.startswith("module.") for k in obj):
        obj = {k.removeprefix("module."): v for k, v in obj.items()}
    return obj


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    return unwrap_state_dict(torch.load(path, map_location="cpu", weights_only=True), source=str(path))
