"""Search-model registry, builder and checkpoint loader.

A checkpoint is a dict with "model_kwargs" (the keyword arguments given to
`build_search_model`, including `name`) and "model" (the state_dict).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from torch import nn

from ..registry import Registry
from .backbones import build_backbone
from .nae import NAE
from .seqnet import INFERENCE_KWARGS as SEQNET_INFERENCE_KWARGS
from .seqnet import SeqNet

MODELS: Registry[Callable[..., nn.Module]] = Registry("search model")
# per model name: the keyword arguments a checkpoint may be rebuilt with other values of
MODEL_INFERENCE_KWARGS: dict[str, frozenset[str]] = {"seqnet": SEQNET_INFERENCE_KWARGS, "nae": SEQNET_INFERENCE_KWARGS}


def list_models() -> list[str]:
    return MODELS.names()


def _on_backbone(
    model_class: type[SeqNet],
    *,
    num_pids: int,
    backbone: str = "resnet50",
    backbone_weights: str = "none",
    freeze_bn: bool = True,
    freeze_stem: bool = True,
    freeze_body: bool = False,
    freeze_head: bool = False,
    **kwargs: Any,
) -> SeqNet:
    """`model_class` on a registered backbone; other keyword arguments are `SeqNet`'s (sizes, RPN/RoI, OIM...)."""
    parts = build_backbone(backbone, weights=backbone_weights, freeze_bn=freeze_bn, freeze_stem=freeze_stem,
                           freeze_body=freeze_body, freeze_head=freeze_head)
    return model_class(backbone=parts, num_pids=num_pids, **kwargs)


build_seqnet = MODELS.register("seqnet")(functools.partial(_on_backbone, SeqNet))  # SeqNet + NAE
build_nae = MODELS.register("nae")(functools.partial(_on_backbone, NAE))  # SeqNet without its second stage


def build_search_model(name: str = "seqnet", **kwargs: Any) -> nn.Module:
    return MODELS.get(name)(**kwargs)


def check_inference_overrides(model_name: str, overrides: Mapping[str, Any]) -> None:
    """Raise ValueError unless every key of `overrides` only changes inference for `model_name`."""
    allowed = MODEL_INFERENCE_KWARGS.get(model_name, frozenset())
    refused = sorted(set(overrides) - allowed)
    if refused:
        given = ", ".join(f"model.{key}={overrides[key]!r}" for key in refused)
        raise ValueError(
            f"{given}: a trained model is rebuilt from its checkpoint, and only inference-time settings can "
            f"change; for {model_name!r} these are: {', '.join(sorted(allowed)) or 'none'}"
        )


def load_search_model(
    checkpoint: str | Path | dict[str, Any],
    device: str | torch.device = "cpu",
    *,
    inference_overrides: Mapping[str, Any] | None = None,
) -> nn.Module:
    """Rebuild a model from a checkpoint (path or loaded dict) and load its weights; returned in eval mode.

    `inference_overrides` replace saved keyword arguments that only affect inference (score
    source, thresholds, proposal counts, input size; see MODEL_INFERENCE_KWARGS); any other
    key is refused. Backbone weights are never fetched here: the checkpoint's state_dict
    supersedes them.
    """
    if not isinstance(checkpoint, dict):
        checkpoint = torch.load(checkpoint, map_location="cpu", weights_only=True)
    missing = {"model_kwargs", "model"} - set(checkpoint)
    if missing:
        raise KeyError(f"checkpoint lacks {sorted(missing)}; expected keys 'model_kwargs' and 'model'")
    kwargs = dict(checkpoint["model_kwargs"])
    if inference_overrides:
        check_inference_overrides(kwargs.get("name", "seqnet"), inference_overrides)
        kwargs.update(inference_overrides)
    kwargs["backbone_weights"] = "none"
    model = build_search_model(**kwargs)
    model.load_state_dict(checkpoint["model"], strict=True)
    return model.to(device).eval()
