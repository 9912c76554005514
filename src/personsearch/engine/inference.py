"""Run a one-step person search model over a dataset's test split and collect the flat
result arrays the scene search evaluator scores (and the results file stores).

The model contract: in eval mode `model(images)` returns one dict per image with
"boxes" (N, 4), "scores" (N,) and "embeddings" (N, D); and
`model.extract_query_features(images, boxes_list)` returns (Q, D) features of the
given boxes.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import torch
from torch import nn
from torchvision.ops import box_iou
from tqdm import tqdm

from personsearch.data.records import SceneRecord, SceneSearchData
from personsearch.data.scene_dataset import SceneDataset, collate_scenes
from personsearch.engine.data_loader import build_test_loader

CONTEXT_IOU = 0.5  # query-image detections overlapping the query box this much are the query itself


def _loader(records: list[SceneRecord], batch_size: int, num_workers: int):
    return build_test_loader(
        SceneDataset(records), batch_size=batch_size, collate_fn=collate_scenes, num_workers=num_workers
    )


def _progress(iterable: Iterable, desc: str, enabled: bool) -> Iterable:
    return tqdm(iterable, desc=desc, disable=not enabled, dynamic_ncols=True, leave=False)


@torch.no_grad()
def detect_scenes(
    model: nn.Module, records: list[SceneRecord], device: torch.device, *, batch_size: int = 1,
    num_workers: int = 0, progress: bool = True, desc: str = "gallery",
) -> list[dict[str, np.ndarray]]:
    """Detections (boxes, scores, feats) of every record's image, in record order."""
    out = []
    for images, _ in _progress(_loader(records, batch_size, num_workers), desc, progress):
        for det in model([image.to(device) for image in images]):
            out.append({
                "boxes": det["boxes"].float().cpu().numpy().reshape(-1, 4),
                "scores": det["scores"].float().cpu().numpy().reshape(-1),
                "feats": det["embeddings"].float().cpu().numpy(),
            })
    return out


def _stack(dets: list[dict[str, np.ndarray]], dim: int) -> dict[str, np.ndarray]:
    """Per-image detections as flat arrays; `image_index` is the position in `dets`."""
    counts = [len(d["scores"]) for d in dets]
    return {
        "image_index": np.repeat(np.arange(len(dets), dtype=np.int64), counts),
        "boxes": np.concatenate([np.zeros((0, 4), np.float32)] + [d["boxes"] for d in dets]).astype(np.float32),
        "scores": np.concatenate([np.zeros(0, np.float32)] + [d["scores"] for d in dets]).astype(np.float32),
        "feats": np.concatenate([np.zeros((0, dim), np.float32)] + [d["feats"].reshape(-1, dim) for d in dets]).astype(np.float32),
    }


@torch.no_grad()
def run_search_inference(
    model: nn.Module, data: SceneSearchData, device: torch.device, batch_size: int = 1, *,
    num_workers: int = 0, progress: bool = True,
) -> dict[str, np.ndarray]:
    """Results arrays for `data.gallery` and `data.queries`.

    gallery_names (G,) str; det_image_index (M,) int64 into gallery_names; det_boxes (M, 4);
    det_scores (M,); det_feats (M, D); query_feats (Q, D) from the ground-truth query boxes;
    query_det_image_index (K,) int64 query position; query_det_boxes/scores/feats: the other
    people detected in each query's image, highest score first (for CBGM; detections
    overlapping the query box with IoU >= CONTEXT_IOU are the query person and left out).
    Gallery detections are reused when the query image is also a gallery image.
    """
    query_records = [
        SceneRecord(name=q.name, image_path=q.image_path, boxes=np.asarray(q.box, np.float32).reshape(1, 4),
                    pids=np.asarray([q.pid], np.int64), camera=q.camera)
        for q in data.queries
    ]
    name_to_gallery = {record.name: i for i, record in enumerate(data.gallery)}
    unseen = list({r.name: r for r in query_records if r.name not in name_to_gallery}.values())
    was_training = model.training
    model.eval()
    try:
        gallery = detect_scenes(model, data.gallery, device, batch_size=batch_size, num_workers=num_workers,
                                progress=progress)
        unseen_dets = detect_scenes(model, unseen, device, batch_size=batch_size, num_workers=num_workers,
                                    progress=progress, desc="query images")
        query_feats = []
        for images, targets in _progress(_loader(query_records, batch_size, num_workers), "queries", progress):
            feats = model.extract_query_features([i.to(device) for i in images], [t["boxes"].to(device) for t in targets])
            query_feats.append(feats.float().cpu().numpy())
    finally:
        model.train(was_training)

    if query_feats:
        dim = query_feats[0].shape[1]
    else:
        dim = next((d["feats"].shape[1] for d in gallery if len(d["scores"])), 0)
    by_name = dict(zip((r.name for r in unseen), unseen_dets))
    context = []
    for record in query_records:
        det = gallery[name_to_gallery[record.name]] if record.name in name_to_gallery else by_name[record.name]
        iou = box_iou(torch.from_numpy(det["boxes"]), torch.from_numpy(record.boxes)).reshape(-1)
        others = np.flatnonzero((iou < CONTEXT_IOU).numpy())
        others = others[np.argsort(-det["scores"][others], kind="stable")]  # CBGM takes the first k2 - 1
        context.append({key: value[others] for key, value in det.items()})
    g, c = _stack(gallery, dim), _stack(context, dim)
    return {
        "gallery_names": np.asarray([r.name for r in data.gallery], dtype=str),
        "det_image_index": g["image_index"],
        "det_boxes": g["boxes"],
        "det_scores": g["scores"],
        "det_feats": g["feats"],
        "query_feats": np.concatenate([np.zeros((0, dim), np.float32)] + query_feats).astype(np.float32),
        "query_det_image_index": c["image_index"],
        "query_det_boxes": c["boxes"],
        "query_det_scores": c["scores"],
        "query_det_feats": c["feats"],
    }
