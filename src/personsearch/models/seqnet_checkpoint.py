"""SeqNet's released checkpoints (Li & Miao's code, github.com/serend1p1ty/SeqNet) as ours.

Their file is {"model": state_dict, "optimizer", "lr_scheduler", "epoch"}. The model is a
ResNet-50 SeqNet with the same module tree as ours except for these names:

    theirs                                   ours
    roi_heads.faster_rcnn_predictor.*        roi_heads.box_predictor.*        stage-1 scores and deltas
    roi_heads.box_predictor.*                roi_heads.reid_box_regressor.*   stage-2 deltas (BN neck)
    roi_heads.box_head.layer4.*              roi_heads.box_head.layers.layer4.*
    roi_heads.reid_head.layer4.*             roi_heads.reid_head.layers.layer4.*
    roi_heads.reid_loss.cq                   roi_heads.reid_loss.queue        OIM queue of unlabelled people
    (not saved: a Python attribute)          roi_heads.reid_loss.queue_ptr    first empty queue row, else 0
    rpn.head.conv.{weight,bias}              rpn.head.conv.0.0.*              torchvision < 0.13 naming

Everything else (backbone.*, rpn.*, roi_heads.embedding_head.*, roi_heads.reid_loss.lut)
has the same name and shape.
"""

from __future__ import annotations

import inspect
import os
from pathlib import Path
from typing import Any, Mapping

import torch

from personsearch.config import load_config, section
from personsearch.models.search_model import build_seqnet
from personsearch.models.seqnet import SeqNet

PRESETS = {"cuhk-sysu": "seqnet_cuhk_sysu", "prw": "seqnet_prw"}

# (their name or prefix, ours); the first match wins, so their stage-1 predictor is renamed
# before their "box_predictor" prefix (our stage-2 regressor) is tried
_RENAMES = (
    ("roi_heads.faster_rcnn_predictor.", "roi_heads.box_predictor."),
    ("roi_heads.box_predictor.", "roi_heads.reid_box_regressor."),
    ("roi_heads.box_head.layer4.", "roi_heads.box_head.layers.layer4."),
    ("roi_heads.reid_head.layer4.", "roi_heads.reid_head.layers.layer4."),
    ("roi_heads.reid_loss.cq", "roi_heads.reid_loss.queue"),
    ("rpn.head.conv.weight", "rpn.head.conv.0.0.weight"),
    ("rpn.head.conv.bias", "rpn.head.conv.0.0.bias"),
)
_KNOWN_PREFIXES = ("backbone.", "rpn.", "roi_heads.embedding_head.", "roi_heads.reid_loss.lut")
QUEUE_PTR = "roi_heads.reid_loss.queue_ptr"


def _rename(key: str, pairs) -> str | None:
    for old, new in pairs:
        if key == old or (old.endswith(".") and key.startswith(old)):
            return new + key[len(old):]
    return None


def seqnet_to_ours(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our SeqNet state dict from SeqNet's; ValueError naming keys it does not know."""
    out, unknown = {}, []
    for key, value in state_dict.items():
        key = key[len("module."):] if key.startswith("module.") else key
        new = _rename(key, _RENAMES)
        if new is None and key.startswith(_KNOWN_PREFIXES):
            new = key
        if new is None:
            unknown.append(key)
        else:
            out[new] = value
    if unknown:
        raise ValueError(f"{len(unknown)} keys are not SeqNet's, e.g. {unknown[:5]}")
    if "roi_heads.reid_loss.queue" not in out or "roi_heads.reid_loss.lut" not in out:
        raise ValueError("no OIM tables (roi_heads.reid_loss.lut / .cq): not a SeqNet state dict")
    queue = out["roi_heads.reid_loss.queue"]
    empty = torch.nonzero(queue.abs().sum(dim=1) == 0).flatten()
    # SeqNet fills its queue in order from row 0, so the first empty row is where it stopped
    out[QUEUE_PTR] = torch.tensor(int(empty[0]) if len(empty) else 0, dtype=torch.long)
    return out


def ours_to_seqnet(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """SeqNet's layout of our (ResNet-50) SeqNet state dict: the inverse of `seqnet_to_ours`."""
    reverse = tuple((new, old) for old, new in _RENAMES if not old.startswith("rpn.head.conv."))
    out = {}
    for key, value in state_dict.items():
        if key == QUEUE_PTR:
            continue
        out[_rename(key, reverse) or key] = value
    return out


def _model_state(loaded: Any, source: str) -> Mapping[str, torch.Tensor]:
    if isinstance(loaded, Mapping) and isinstance(loaded.get("model"), Mapping):
        return loaded["model"]
    if isinstance(loaded, Mapping) and all(isinstance(v, torch.Tensor) for v in loaded.values()):
        return loaded
    raise ValueError(f"{source}: expected SeqNet's checkpoint (a dict with 'model') or a bare state dict")


def convert_seqnet_checkpoint(source: str | os.PathLike, *, dataset: str) -> dict[str, Any]:
    """Our checkpoint (model_kwargs, model, config) from SeqNet's file, for `dataset`'s preset.

    The preset (seqnet_cuhk_sysu / seqnet_prw) gives every setting but the OIM table sizes,
    which are read from the file; data.root stays to be given at evaluation.
    """
    if dataset not in PRESETS:
        raise ValueError(f"dataset must be one of {', '.join(PRESETS)}; got {dataset!r}")
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such SeqNet checkpoint")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a foreign or truncated file: name it
        raise ValueError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from exc
    try:
        state = seqnet_to_ours(_model_state(loaded, str(path)))
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    cfg = load_config(f"preset:{PRESETS[dataset]}")
    lut, queue = state["roi_heads.reid_loss.lut"], state["roi_heads.reid_loss.queue"]
    builder_args = set(inspect.signature(SeqNet.__init__).parameters) | set(inspect.signature(build_seqnet).parameters)
    model_kwargs = {key: value for key, value in section(cfg, "model").items() if key in builder_args | {"name"}}
    model_kwargs.update(num_pids=int(lut.shape[0]), queue_size=int(queue.shape[0]),
                        embedding_dim=int(lut.shape[1]), backbone_weights="none")
    cfg["model"] = dict(model_kwargs)
    epoch = loaded.get("epoch") if isinstance(loaded, Mapping) else None
    return {"model_kwargs": model_kwargs, "model": state, "config": cfg,
            "epoch": int(epoch) + 1 if isinstance(epoch, int) else None,
            "source": f"SeqNet checkpoint {path.name}"}
