"""Initialise a search model from a pre-trained checkpoint: the backbone only, or the whole model.

Accepted files: what `personsearch pretrain --export` writes (backbone exports use torchvision's
key names), a pre-training checkpoint (its search model's weights are taken out of the training
wrapper), any training checkpoint with "model_kwargs" and "model", or a plain torchvision state
dict of the backbone (backbone only). The backbone is the stride-16 body plus the RoI head built from the
backbone's last stage (SeqNet's two copies of it both take those weights, as ImageNet init
gives both the same). OIM's lookup table and queue belong to the training data's identities
and are never copied. Whatever does not fit (missing, unexpected or differently shaped keys)
is an error that names the keys.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

import torch
from torch import nn

from .torchvision_keys import from_torchvision, looks_like_torchvision

INIT_PARTS = ("backbone", "all")
INIT_KEYS = ("init_from", "init_parts")  # the config's `model` keys read here, not by the model builder
PRETRAINED_FORMAT = "personsearch-pretrained"
WRAPPED_PREFIX = "model."  # the pre-training wrapper holds the search model as `model`
BODY_PREFIX = "backbone."
HEAD_PREFIX = "roi_heads.box_head."
HEAD_COPIES = ("roi_heads.reid_head.",)  # SeqNet's second copy of the backbone's last stage
SKIPPED = ("roi_heads.reid_loss.",)
BN_COUNTER = "num_batches_tracked"


class InitFromError(ValueError):
    pass


def search_model_state(checkpoint: Mapping[str, Any], *, source: str = "checkpoint",
                       backbone: str | None = None) -> dict[str, torch.Tensor]:
    """The search model's state dict (or its backbone part) held by any accepted file (see the
    module docstring); `backbone` names the key scheme of a plain torchvision state dict."""
    if checkpoint.get("format") == PRETRAINED_FORMAT and checkpoint.get("key_names") == "torchvision":
        return from_torchvision(checkpoint["model"], checkpoint["backbone"])
    plain = checkpoint.get("state_dict", checkpoint)
    if "model" not in checkpoint and isinstance(plain, Mapping) and plain and looks_like_torchvision(plain) \
            and all(torch.is_tensor(v) for v in plain.values()):
        if backbone is None:
            raise InitFromError(f"{source}: a plain torchvision state dict; its backbone must be named")
        return from_torchvision(plain, backbone)
    if "model" not in checkpoint or not isinstance(checkpoint["model"], Mapping):
        raise InitFromError(f"{source}: no 'model' state dict (keys: {sorted(checkpoint)})")
    state = dict(checkpoint["model"])
    if not any(k.startswith(BODY_PREFIX) for k in state) and any(k.startswith(WRAPPED_PREFIX + BODY_PREFIX) for k in state):
        state = {k[len(WRAPPED_PREFIX):]: v for k, v in state.items() if k.startswith(WRAPPED_PREFIX)}
    if not any(k.startswith(BODY_PREFIX) for k in state):
        raise InitFromError(f"{source}: its state dict has no {BODY_PREFIX}* keys; not a search model checkpoint")
    return state


def backbone_state(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The body and last-stage head keys of a search model state dict."""
    return {k: v for k, v in state.items() if k.startswith(BODY_PREFIX) or k.startswith(HEAD_PREFIX)}


def _describe(keys: list[str], limit: int = 12) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f", ... ({len(keys)} in all)" if len(keys) > limit else "")


def _fit(model: nn.Module, wanted: dict[str, torch.Tensor], target_keys: list[str], source: str, parts: str,
         origin: str) -> None:
    own = model.state_dict()
    # BatchNorm's step counter exists only when batch norms train (not when frozen): not a weight
    wanted = {k: v for k, v in wanted.items() if k in own or not k.endswith(BN_COUNTER)}
    missing = [k for k in target_keys if k not in wanted and not k.endswith(BN_COUNTER)]
    unexpected = [k for k in wanted if k not in own]
    shapes = [f"{k} {tuple(wanted[k].shape)} vs {tuple(own[k].shape)}" for k in wanted
              if k in own and wanted[k].shape != own[k].shape]
    if missing or unexpected or shapes:
        problems = []
        if missing:
            problems.append(f"missing from the file: {_describe(missing)}")
        if unexpected:
            problems.append(f"not in this model: {_describe(unexpected)}")
        if shapes:
            problems.append(f"shape differs (file vs model): {_describe(shapes)}")
        raise InitFromError(f"model.init_from={source} with model.init_parts={parts} does not fit this model "
                            f"({origin}): " + "; ".join(problems))
    model.load_state_dict(wanted, strict=False)


def initialise_from(model: nn.Module, checkpoint: str | os.PathLike | Mapping[str, Any], parts: str = "all",
                    *, backbone: str | None = None) -> None:
    """Copy pre-trained weights into `model` (built, not yet trained); see the module docstring.
    `backbone`: the model's backbone name, needed to read plain torchvision state dicts."""
    if parts not in INIT_PARTS:
        raise InitFromError(f"model.init_parts must be one of {', '.join(INIT_PARTS)}; got {parts!r}")
    source = str(checkpoint) if not isinstance(checkpoint, Mapping) else "checkpoint"
    if not isinstance(checkpoint, Mapping):
        if not os.path.isfile(checkpoint):
            raise FileNotFoundError(f"model.init_from: {checkpoint} not found")
        checkpoint = torch.load(checkpoint, map_location="cpu", weights_only=True)
        if not isinstance(checkpoint, Mapping):
            raise InitFromError(f"{source}: expected a dict checkpoint, got {type(checkpoint).__name__}")
    state = search_model_state(checkpoint, source=source, backbone=backbone)
    backbone_only = all(k.startswith((BODY_PREFIX, HEAD_PREFIX)) for k in state)
    if backbone_only and parts == "all":
        raise InitFromError(f"{source} holds the backbone only; use model.init_parts=backbone")
    own_keys = list(model.state_dict())
    if parts == "all":
        wanted = {k: v for k, v in state.items() if not k.startswith(SKIPPED)}
        target = [k for k in own_keys if not k.startswith(SKIPPED)]
    else:
        wanted = backbone_state(state)
        for copy_prefix in HEAD_COPIES:
            if any(k.startswith(copy_prefix) for k in own_keys):
                wanted.update({copy_prefix + k[len(HEAD_PREFIX):]: v for k, v in wanted.items()
                               if k.startswith(HEAD_PREFIX)})
        target = [k for k in own_keys if k.startswith((BODY_PREFIX, HEAD_PREFIX) + HEAD_COPIES)]
    kwargs = checkpoint.get("model_kwargs") or {}
    origin = (f"the file holds a {kwargs.get('name', 'seqnet')!r} model on backbone {kwargs.get('backbone')!r}"
              if kwargs else "a different backbone or model?")
    _fit(model, wanted, target, source, parts, origin)


def init_options(model_cfg: Mapping[str, Any]) -> tuple[str | None, str]:
    """(init_from path or None, init_parts) of a config's `model` section."""
    path = model_cfg.get("init_from") or None
    return (str(path) if path else None), str(model_cfg.get("init_parts") or "all")
