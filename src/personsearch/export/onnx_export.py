"""Write ONNX graphs of a person search checkpoint, the SSDLite person detector and a text model.

An export folder holds the graphs and `manifest.json`: which checkpoint each part came from
(sha256 of the file), the model's constructor arguments (the runtime rebuilds the non-learned
parts around the graphs from them) and the graph file names. Graphs are traced with the
TorchScript-based exporter (`torch.onnx.export(..., dynamo=False)`): it needs no package beyond
`onnx`, and tracing these tensor-only modules gives the same graphs the dynamo exporter would.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from personsearch.detectors import OWN_DETECTOR, SSDLITE
from personsearch.export import onnx_graphs
from personsearch.index.identity import checkpoint_identity
from personsearch.utils.atomic import atomic_path, atomic_write_json

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
DEFAULT_OPSET = 17


class ExportFolderError(ValueError):
    pass


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The manifest of an export folder ({} when the folder has none yet)."""
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return {}
    try:
        manifest = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ExportFolderError(f"{path}: not a readable ONNX export manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format_version") != FORMAT_VERSION:
        raise ExportFolderError(
            f"{path}: ONNX export format {manifest.get('format_version') if isinstance(manifest, dict) else None} "
            f"is not supported (this personsearch writes version {FORMAT_VERSION}); export again"
        )
    return manifest


def _export_graph(
    module: nn.Module,
    args: tuple[torch.Tensor, ...],
    path: Path,
    *,
    input_names: list[str],
    output_names: list[str],
    dynamic_axes: dict[str, dict[int, str]],
    opset: int,
) -> None:
    module.eval()
    with atomic_path(path, suffix=".onnx") as tmp, torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter announces its deprecation, and tracing notes the shape checks it freezes
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            module,
            args,
            str(tmp),
            dynamo=False,
            input_names=input_names,
            output_names=output_names,
            dynamic_axes=dynamic_axes,
            opset_version=opset,
            do_constant_folding=True,
        )


def export_search_model(checkpoint: str | Path, folder: Path, *, opset: int = DEFAULT_OPSET) -> dict[str, Any]:
    """SeqNet as three graphs: backbone + RPN head, stage-1 box head, re-ID head (see onnx_graphs)."""
    from personsearch.models.search_model import load_search_model
    from personsearch.models.seqnet import SeqNet

    checkpoint = Path(checkpoint)
    if not checkpoint.is_file():
        raise FileNotFoundError(f"checkpoint not found: {checkpoint}")
    model = load_search_model(checkpoint)
    if type(model) is not SeqNet:  # subclasses (NAE) run other heads than the graphs below
        raise ValueError(f"{checkpoint}: ONNX export covers SeqNet models; this checkpoint holds {type(model).__name__}")
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    image_list, _ = model.transform([torch.rand(3, 480, 640)], None)
    roi_size = model.roi_heads.box_roi_pool.output_size
    channels = int(model.backbone(image_list.tensors[:, :, :32, :32]).shape[1])
    pooled = torch.randn(3, channels, *roi_size)
    graphs = {"backbone": "seqnet_backbone.onnx", "box_head": "seqnet_box_head.onnx", "reid_head": "seqnet_reid_head.onnx"}
    _export_graph(
        onnx_graphs.SeqNetBackboneGraph(model), (image_list.tensors,), folder / graphs["backbone"],
        input_names=["images"], output_names=["features", "objectness", "box_deltas"],
        dynamic_axes={"images": {0: "batch", 2: "height", 3: "width"}, "features": {0: "batch", 2: "h", 3: "w"},
                      "objectness": {0: "batch", 2: "h", 3: "w"}, "box_deltas": {0: "batch", 2: "h", 3: "w"}},
        opset=opset,
    )  # fmt: skip
    _export_graph(
        onnx_graphs.SeqNetBoxHeadGraph(model), (pooled,), folder / graphs["box_head"],
        input_names=["pooled"], output_names=["class_logits", "box_deltas"],
        dynamic_axes={"pooled": {0: "boxes"}, "class_logits": {0: "boxes"}, "box_deltas": {0: "boxes"}},
        opset=opset,
    )  # fmt: skip
    _export_graph(
        onnx_graphs.SeqNetReidHeadGraph(model), (pooled,), folder / graphs["reid_head"],
        input_names=["pooled"], output_names=["box_deltas", "embeddings", "person_logits"],
        dynamic_axes={"pooled": {0: "boxes"}, "box_deltas": {0: "boxes"}, "embeddings": {0: "boxes"},
                      "person_logits": {0: "boxes"}},
        opset=opset,
    )  # fmt: skip
    return {
        "checkpoint": checkpoint_identity(checkpoint),
        "model_kwargs": state["model_kwargs"],
        "graphs": graphs,
    }


def export_ssdlite(folder: Path, *, opset: int = DEFAULT_OPSET) -> dict[str, Any]:
    """The SSDLite network as one graph; its anchors (read from the frozen graph) beside it."""
    from personsearch.models.ssdlite_person import INPUT_SIZE, load_ssdlite_person_detector

    detector = load_ssdlite_person_detector()
    graph, anchors = "ssdlite_person.onnx", "ssdlite_anchors.npy"
    _export_graph(
        onnx_graphs.SSDLiteGraph(detector), (torch.rand(1, 3, INPUT_SIZE, INPUT_SIZE) * 2 - 1,), folder / graph,
        input_names=["batch"], output_names=["box_encodings", "class_logits"],
        dynamic_axes={"batch": {0: "batch"}, "box_encodings": {0: "batch"}, "class_logits": {0: "batch"}},
        opset=opset,
    )  # fmt: skip
    with atomic_path(folder / anchors, suffix=".npy") as tmp:
        with open(tmp, "wb") as handle:
            np.save(handle, detector.anchors.cpu().numpy())
    return {
        "graph": graph,
        "anchors": anchors,
        "score_threshold": detector.score_threshold,
        "nms_threshold": detector.nms_threshold,
        "max_detections": detector.max_detections,
    }


def export_text_model(checkpoint: str | Path, folder: Path, *, opset: int = DEFAULT_OPSET) -> dict[str, Any]:
    """The dual encoder's two towers: image crops -> embeddings, token ids + mask -> embeddings."""
    from personsearch.text.evaluate import load_text_model

    encoder, _ = load_text_model(checkpoint)
    height, width = encoder.image_size
    token_ids, mask = encoder.tokenizer(["a person", "a woman in a red coat with a black backpack"])
    graphs = {"image": "text_image_encoder.onnx", "text": "text_text_encoder.onnx"}
    _export_graph(
        onnx_graphs.TextImageGraph(encoder), (torch.randn(2, 3, height, width),), folder / graphs["image"],
        input_names=["images"], output_names=["embeddings"],
        dynamic_axes={"images": {0: "batch"}, "embeddings": {0: "batch"}}, opset=opset,
    )  # fmt: skip
    _export_graph(
        onnx_graphs.TextTextGraph(encoder), (token_ids, mask), folder / graphs["text"],
        input_names=["token_ids", "attention_mask"], output_names=["embeddings"],
        dynamic_axes={"token_ids": {0: "batch", 1: "length"}, "attention_mask": {0: "batch", 1: "length"},
                      "embeddings": {0: "batch"}},
        opset=opset,
    )  # fmt: skip
    return {
        "checkpoint": checkpoint_identity(checkpoint),
        "graphs": graphs,
        "image_size": [height, width],
        "max_length": encoder.max_length,
        "embed_dim": encoder.embed_dim,
    }


def export_onnx(
    folder: str | Path,
    *,
    checkpoint: str | Path | None = None,
    detector: str = OWN_DETECTOR,
    text_checkpoint: str | Path | None = None,
    opset: int = DEFAULT_OPSET,
) -> Path:
    """Export the given models into `folder` (parts already there from other models are replaced,
    others kept) and return the manifest's path."""
    if checkpoint is None and text_checkpoint is None and detector != SSDLITE:
        raise ValueError("nothing to export: give a checkpoint, a text checkpoint or detector='ssdlite'")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = read_manifest(folder) or {"format_version": FORMAT_VERSION}
    manifest["opset"] = opset
    if checkpoint is not None:
        manifest["search_model"] = export_search_model(checkpoint, folder, opset=opset)
    if detector == SSDLITE:
        manifest["ssdlite"] = export_ssdlite(folder, opset=opset)
    if text_checkpoint is not None:
        manifest["text"] = export_text_model(text_checkpoint, folder, opset=opset)
    atomic_write_json(folder / MANIFEST, manifest)
    return folder / MANIFEST
