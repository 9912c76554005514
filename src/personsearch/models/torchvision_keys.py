"""Backbone weights under torchvision's own key names, both ways.

A search model holds a backbone as its stride-16 body (`backbone.*`) and its last stage
(`roi_heads.box_head.layers.*`); torchvision's classification network names the same tensors
differently (`layer4.*` for ResNets, `features.14.*` for MobileNetV2, ...). Backbone exports use
torchvision's names, so they load into `torchvision.models.get_model(name)` (only the classifier
missing) and backbone-only files released in that form load into a search model.
"""

from __future__ import annotations

import re
from typing import Callable, Mapping

import torch

BODY = "backbone."
HEAD = "roi_heads.box_head.layers."
MOBILENET_V2_BODY_BLOCKS = 14  # features[:14] is the body (see models.backbones)


def _resnet_to_tv(key: str) -> str:
    return key[len(BODY):] if key.startswith(BODY) else key[len(HEAD):]


def _resnet_from_tv(key: str) -> str | None:
    if key.startswith(("conv1.", "bn1.", "layer1.", "layer2.", "layer3.")):
        return BODY + key
    return HEAD + key if key.startswith("layer4.") else None


def _mobilenet_to_tv(key: str) -> str:
    if key.startswith(BODY):
        return "features." + key[len(BODY):]
    index, rest = key[len(HEAD):].split(".", 1)
    return f"features.{int(index) + MOBILENET_V2_BODY_BLOCKS}.{rest}"


def _mobilenet_from_tv(key: str) -> str | None:
    match = re.match(r"features\.(\d+)\.(.*)", key)
    if not match:
        return None
    index, rest = int(match.group(1)), match.group(2)
    return f"{BODY}{index}.{rest}" if index < MOBILENET_V2_BODY_BLOCKS else f"{HEAD}{index - MOBILENET_V2_BODY_BLOCKS}.{rest}"


def _shufflenet_from_tv(key: str) -> str | None:
    if key.startswith(("conv1.", "stage2.", "stage3.")):
        return BODY + key
    return HEAD + key if key.startswith(("stage4.", "conv5.")) else None


_TO_TV: dict[str, Callable[[str], str]] = {
    "resnet50": _resnet_to_tv, "resnet18": _resnet_to_tv, "mobilenet_v2": _mobilenet_to_tv,
    "shufflenet_v2_x1_0": _resnet_to_tv,  # same names as torchvision's once the prefixes go
}
_FROM_TV: dict[str, Callable[[str], str | None]] = {
    "resnet50": _resnet_from_tv, "resnet18": _resnet_from_tv, "mobilenet_v2": _mobilenet_from_tv,
    "shufflenet_v2_x1_0": _shufflenet_from_tv,
}


def _check(backbone: str) -> None:
    if backbone not in _TO_TV:
        raise KeyError(f"no torchvision key names for backbone {backbone!r}; known: {', '.join(sorted(_TO_TV))}")


def to_torchvision(state: Mapping[str, torch.Tensor], backbone: str) -> dict[str, torch.Tensor]:
    """Body and last-stage keys of a search model state dict, under torchvision's names."""
    _check(backbone)
    return {_TO_TV[backbone](k): v for k, v in state.items() if k.startswith((BODY, HEAD))}


def from_torchvision(state: Mapping[str, torch.Tensor], backbone: str) -> dict[str, torch.Tensor]:
    """A torchvision network's state dict (classifier and unknown keys dropped) under the search
    model's body and last-stage names."""
    _check(backbone)
    out = {}
    for key, value in state.items():
        ours = _FROM_TV[backbone](key)
        if ours is not None:
            out[ours] = value
    return out


def looks_like_torchvision(state: Mapping[str, torch.Tensor]) -> bool:
    return not any(k.startswith((BODY, "model.", "roi_heads.")) for k in state)
