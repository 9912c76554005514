"""Inference through onnxruntime: the exported graphs, with the data-dependent steps around them.

`OnnxSeqNet`, `OnnxSSDLite` and `OnnxDualEncoder` take and return what their PyTorch
counterparts do, so the gallery index builder, `DetectThenEmbed` and the searchers use them
unchanged. The non-learned steps (image resizing and batching, anchors, box decoding,
proposal filtering, NMS, RoIAlign, thresholds) run in torchvision, on the same modules the
PyTorch model uses; they are rebuilt from the constructor arguments in the export manifest,
so the learned weights come from the graphs alone.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn
from torchvision.models.detection.rpn import concat_box_prediction_layers

from personsearch.detectors import OWN_DETECTOR, SSDLITE
from personsearch.export.onnx_export import ExportFolderError, export_onnx, read_manifest
from personsearch.index.identity import checkpoint_identity


def _session_options(threads: int | None):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads if threads is not None else torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


class OrtGraph:
    """One ONNX graph in an onnxruntime session, called with torch tensors, returning torch tensors."""

    def __init__(self, path: str | Path, *, threads: int | None = None) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise ImportError("the ONNX runtime needs onnxruntime: pip install 'personsearch[onnx]'") from None
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"ONNX graph not found: {path}")
        self.path = path
        self.session = onnxruntime.InferenceSession(
            str(path), sess_options=_session_options(threads), providers=["CPUExecutionProvider"]
        )
        self.input_names = [i.name for i in self.session.get_inputs()]
        # output shapes without the batch axis, for empty batches (other dynamic axes are empty then too)
        self.output_tails = [
            tuple(d if isinstance(d, int) else 0 for d in o.shape[1:]) for o in self.session.get_outputs()
        ]

    def __call__(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        device = inputs[0].device
        if inputs[0].shape[0] == 0:
            return tuple(torch.zeros((0, *tail), device=device) for tail in self.output_tails)
        feeds = {name: x.detach().cpu().contiguous().numpy() for name, x in zip(self.input_names, inputs, strict=True)}
        return tuple(torch.from_numpy(out).to(device) for out in self.session.run(None, feeds))


class OnnxSeqNet(nn.Module):
    """SeqNet's eval forward and query path with its learned layers run by onnxruntime."""

    def __init__(self, *, skeleton: nn.Module, backbone: OrtGraph, box_head: OrtGraph, reid_head: OrtGraph) -> None:
        super().__init__()
        self.transform = skeleton.transform
        self.rpn = skeleton.rpn
        self.roi_heads = skeleton.roi_heads
        # the skeleton's learned layers are replaced by the graphs; drop them so nothing runs them by mistake
        self.rpn.head = nn.Identity()
        for name in ("box_head", "box_predictor", "reid_head", "reid_box_regressor"):
            setattr(self.roi_heads, name, nn.Identity())
        self.backbone_graph = backbone
        self.box_head_graph = box_head
        self.reid_head_graph = reid_head
        self.eval()

    def _proposals(self, image_list, features, objectness, deltas) -> list[torch.Tensor]:
        # torchvision's RegionProposalNetwork.forward in eval mode, on the graph's head outputs
        anchors = self.rpn.anchor_generator(image_list, [features])
        num_anchors_per_level = [int(objectness[0].numel())]
        objectness, deltas = concat_box_prediction_layers([objectness], [deltas])
        proposals = self.rpn.box_coder.decode(deltas, anchors).view(len(anchors), -1, 4)
        boxes, _ = self.rpn.filter_proposals(proposals, objectness, image_list.image_sizes, num_anchors_per_level)
        return boxes

    @torch.inference_mode()
    def forward(self, images: list[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        from personsearch.models.seqnet import FEATURE_NAME

        original_sizes = [(int(image.shape[-2]), int(image.shape[-1])) for image in images]
        image_list, _ = self.transform(images, None)
        sizes = image_list.image_sizes
        features, objectness, deltas = self.backbone_graph(image_list.tensors)
        feature_maps = OrderedDict([(FEATURE_NAME, features)])
        proposals = self._proposals(image_list, features, objectness, deltas)
        class_logits, box_deltas = self.box_head_graph(self.roi_heads.box_roi_pool(feature_maps, proposals, sizes))
        boxes, stage1_scores, _ = self.roi_heads.postprocess_detections(class_logits, box_deltas, proposals, sizes)
        box_deltas_s2, embeddings, person_logits = self.reid_head_graph(
            self.roi_heads.box_roi_pool(feature_maps, boxes, sizes)
        )
        scores = torch.sigmoid(person_logits) if self.roi_heads.score_source == "nae" else torch.cat(stage1_scores)
        detections = self.roi_heads._postprocess(box_deltas_s2, scores, embeddings, boxes, sizes)
        return self.transform.postprocess(detections, sizes, original_sizes)

    @torch.inference_mode()
    def extract_query_features(self, images: list[torch.Tensor], boxes_list: list[torch.Tensor]) -> torch.Tensor:
        from personsearch.models.seqnet import FEATURE_NAME

        if len(images) != len(boxes_list):
            raise ValueError(f"got {len(images)} images but {len(boxes_list)} box tensors")
        image_list, targets = self.transform(images, [{"boxes": boxes} for boxes in boxes_list])
        features, _, _ = self.backbone_graph(image_list.tensors)
        pooled = self.roi_heads.box_roi_pool(
            OrderedDict([(FEATURE_NAME, features)]), [t["boxes"] for t in targets], image_list.image_sizes
        )
        _, embeddings, _ = self.reid_head_graph(pooled)
        return embeddings


def _ssdlite_base():
    from personsearch.models.ssdlite_person import SSDLitePersonDetector

    return SSDLitePersonDetector


class OnnxSSDLite(nn.Module):
    """The SSDLite person detector with its network run by onnxruntime (pre/post-processing in PyTorch)."""

    def __init__(self, *, graph: OrtGraph, anchors: torch.Tensor, score_threshold: float, nms_threshold: float,
                 max_detections: int) -> None:
        super().__init__()
        self.detector = _ssdlite_base()(
            score_threshold=score_threshold, nms_threshold=nms_threshold, max_detections=max_detections
        )
        self.detector.anchors.copy_(anchors)
        del self.detector.features, self.detector.predictors  # replaced by the graph
        self.graph = graph
        self.eval()

    @torch.inference_mode()
    def forward(self, images: Sequence[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        if len(images) == 0:
            return []
        encodings, logits = self.graph(self.detector.preprocess(images))
        return [
            self.detector.postprocess(image_encodings, image_logits, (image.shape[-2], image.shape[-1]))
            for image_encodings, image_logits, image in zip(encodings, logits, images)
        ]


class OnnxDualEncoder(nn.Module):
    """A text model's two towers run by onnxruntime; same calls as `personsearch.text.model.DualEncoder`."""

    def __init__(self, *, image_graph: OrtGraph, text_graph: OrtGraph, image_size: tuple[int, int],
                 max_length: int, embed_dim: int) -> None:
        super().__init__()
        self.image_graph = image_graph
        self.text_graph = text_graph
        self.image_size = tuple(int(v) for v in image_size)
        self.max_length = int(max_length)
        self.embed_dim = int(embed_dim)
        # gallery builders find the device through parameters(); the graphs run on the CPU
        self.device_marker = nn.Parameter(torch.zeros(0), requires_grad=False)
        self._tokenizer = None

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from personsearch.text.tokenizer import TextTokenizer

            self._tokenizer = TextTokenizer(max_length=self.max_length)
        return self._tokenizer

    @torch.inference_mode()
    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        return self.image_graph(images.float())[0]

    @torch.inference_mode()
    def encode_text(self, token_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.text_graph(token_ids, attention_mask)[0]

    def encode_captions(self, captions: list[str]) -> torch.Tensor:
        token_ids, mask = self.tokenizer(captions)
        return self.encode_text(token_ids, mask)


def _part(manifest: dict[str, Any], key: str, folder: Path, what: str) -> dict[str, Any]:
    if key not in manifest:
        raise ExportFolderError(f"{folder}: the ONNX export holds no {what}; export it with `personsearch export onnx`")
    return manifest[key]


def _check_source(part: dict[str, Any], checkpoint: str | Path, folder: Path) -> None:
    identity = checkpoint_identity(checkpoint)
    if part["checkpoint"] != identity:
        raise ExportFolderError(
            f"{folder}: the ONNX graphs were exported from another checkpoint ({part['checkpoint']}), not from "
            f"{checkpoint} ({identity}); export this checkpoint into another folder"
        )


def load_onnx_seqnet(folder: str | Path, *, checkpoint: str | Path | None = None, threads: int | None = None) -> OnnxSeqNet:
    """The search model of an export folder; with `checkpoint`, refuse graphs exported from another one."""
    from personsearch.models.search_model import build_search_model

    folder = Path(folder)
    part = _part(read_manifest(folder), "search_model", folder, "search model")
    if checkpoint is not None:
        _check_source(part, checkpoint, folder)
    kwargs = dict(part["model_kwargs"], backbone_weights="none")
    skeleton = build_search_model(**kwargs).eval()
    graphs = {name: OrtGraph(folder / file, threads=threads) for name, file in part["graphs"].items()}
    return OnnxSeqNet(skeleton=skeleton, **graphs)


def load_onnx_ssdlite(folder: str | Path, *, threads: int | None = None) -> OnnxSSDLite:
    folder = Path(folder)
    part = _part(read_manifest(folder), "ssdlite", folder, "SSDLite person detector")
    return OnnxSSDLite(
        graph=OrtGraph(folder / part["graph"], threads=threads),
        anchors=torch.from_numpy(np.load(folder / part["anchors"], allow_pickle=False)),
        score_threshold=part["score_threshold"],
        nms_threshold=part["nms_threshold"],
        max_detections=part["max_detections"],
    )


def load_onnx_text_model(folder: str | Path, *, checkpoint: str | Path | None = None,
                         threads: int | None = None) -> OnnxDualEncoder:
    folder = Path(folder)
    part = _part(read_manifest(folder), "text", folder, "text model")
    if checkpoint is not None:
        _check_source(part, checkpoint, folder)
    return OnnxDualEncoder(
        image_graph=OrtGraph(folder / part["graphs"]["image"], threads=threads),
        text_graph=OrtGraph(folder / part["graphs"]["text"], threads=threads),
        image_size=tuple(part["image_size"]),
        max_length=part["max_length"],
        embed_dim=part["embed_dim"],
    )


def ensure_exported(
    folder: str | Path,
    *,
    checkpoint: str | Path | None = None,
    detector: str = OWN_DETECTOR,
    text_checkpoint: str | Path | None = None,
) -> Path:
    """Export into `folder` whatever of these models it lacks; graphs from other checkpoints are an error."""
    folder = Path(folder)
    manifest = read_manifest(folder) if folder.is_dir() else {}
    for key, source in (("search_model", checkpoint), ("text", text_checkpoint)):
        if source is not None and key in manifest:
            _check_source(manifest[key], source, folder)
    missing = {
        "checkpoint": checkpoint if checkpoint is not None and "search_model" not in manifest else None,
        "detector": SSDLITE if detector == SSDLITE and "ssdlite" not in manifest else OWN_DETECTOR,
        "text_checkpoint": text_checkpoint if text_checkpoint is not None and "text" not in manifest else None,
    }
    if missing["checkpoint"] or missing["text_checkpoint"] or missing["detector"] == SSDLITE:
        export_onnx(folder, **missing)
    return folder


def load_onnx_search_model(
    checkpoint: str | Path, *, detector: str = OWN_DETECTOR, folder: str | Path, threads: int | None = None
) -> nn.Module:
    """What `PersonSearcher` runs: the ONNX SeqNet, behind the ONNX SSDLite detector when asked.
    Parts missing from `folder` are exported there first."""
    ensure_exported(folder, checkpoint=checkpoint, detector=detector)
    model = load_onnx_seqnet(folder, checkpoint=checkpoint, threads=threads)
    if detector == SSDLITE:
        from personsearch.models.detect_then_embed import DetectThenEmbed

        model = DetectThenEmbed(detector=load_onnx_ssdlite(folder, threads=threads), search_model=model)
    return model


def default_export_folder() -> Path:
    """A fresh temporary folder for graphs exported on the fly (when no export folder is named),
    removed when the process exits."""
    import atexit
    import shutil
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="personsearch-onnx-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder
