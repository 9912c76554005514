"""Pre-trained model files: the whole search model or its backbone only (under torchvision's key
names), with metadata (format, parts, key names, backbone, model keyword arguments, sources,
steps), loadable by
`model.init_from` (see `models.init_from`) with `torch.load(..., weights_only=True)`."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from personsearch.engine.checkpoint import load_checkpoint
from personsearch.models.init_from import INIT_PARTS, PRETRAINED_FORMAT, backbone_state, search_model_state
from personsearch.models.torchvision_keys import to_torchvision
from personsearch.utils.atomic import atomic_torch_save

PRETRAINED_FILE = "pretrained.pth"


def _source_list(sources: Sequence[Any]) -> list[dict[str, Any]]:
    return [dataclasses.asdict(s) if dataclasses.is_dataclass(s) else dict(s) for s in sources]


def export_pretrained(*, trainer_state: Mapping[str, Any], out: str | os.PathLike, parts: str,
                      sources: Sequence[Any] | None = None) -> dict[str, Any]:
    """Write `parts` ("all" or "backbone") of the search model in `trainer_state` (a pre-training
    checkpoint: "model", "model_kwargs", "iteration", "epoch", "config") to `out`."""
    if parts not in INIT_PARTS:
        raise ValueError(f"parts must be one of {', '.join(INIT_PARTS)}; got {parts!r}")
    state = search_model_state(trainer_state, source=str(out))
    kwargs = dict(trainer_state.get("model_kwargs") or {})
    if sources is None:
        sources = (trainer_state.get("pretrain") or {}).get("sources", [])
    config = dict(trainer_state.get("config") or {})
    exported = {
        "format": PRETRAINED_FORMAT,
        "parts": parts,
        "backbone": kwargs.get("backbone"),
        "model_name": kwargs.get("name", "seqnet"),
        "model_kwargs": kwargs,
        "key_names": "search_model" if parts == "all" else "torchvision",
        "model": state if parts == "all" else to_torchvision(backbone_state(state), kwargs["backbone"]),
        "pretrain": {"sources": _source_list(sources), "steps": int(trainer_state.get("iteration", 0)),
                     "epochs": int(trainer_state.get("epoch", 0)), "method": dict(config.get("method") or {})},
    }
    atomic_torch_save(Path(out), exported)
    return exported


def export_checkpoint(checkpoint: str | os.PathLike, out: str | os.PathLike, parts: str) -> dict[str, Any]:
    """Export from a pre-training checkpoint file (e.g. OUTPUT_DIR/last.pth); sources are read
    again from its config's roots only if the checkpoint does not name them."""
    state = load_checkpoint(checkpoint)
    sources = (state.get("pretrain") or {}).get("sources")
    if sources is None:
        sources = _sources_of_config(state.get("config") or {})
    return export_pretrained(trainer_state=state, out=out, parts=parts, sources=sources)


def _sources_of_config(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    data = config.get("data") or {}
    return [{"name": name, "format": cfg.get("format"), "root": cfg.get("root")}
            for name, cfg in (data.get("sources") or {}).items() if cfg]
