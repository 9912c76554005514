"""Model identities: the string a gallery index records to know which model built it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch


def checkpoint_identity(path: str | Path) -> str:
    """`sha256:<hex>` of a checkpoint file's bytes."""
    with open(path, "rb") as handle:
        return f"sha256:{hashlib.file_digest(handle, 'sha256').hexdigest()}"


def module_identity(model: torch.nn.Module) -> str:
    """`state-sha256:<hex>` of a module's class, parameter and buffer names, shapes and values."""
    digest = hashlib.sha256(type(model).__qualname__.encode())
    for name, tensor in sorted(model.state_dict().items()):
        shape = tensor.shape
        tensor = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(f"{name}:{tensor.dtype}:{tuple(shape)}".encode())
        digest.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return f"state-sha256:{digest.hexdigest()}"
