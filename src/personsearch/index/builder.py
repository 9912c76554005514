"""Build or update a gallery index: run detection + embedding once per new or changed picture.

A saved index built by the same model with the same score threshold is reused:
pictures whose name, size and mtime are unchanged keep their detections, only new
or changed ones go through the model, and pictures gone from the gallery are dropped.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from personsearch import media
from personsearch.index.gallery_index import (
    FEATURE_DTYPES,
    GalleryIndex,
    IndexedImage,
    IndexFormatError,
    IndexModelMismatchError,
    SkippedImage,
)

INDEX_SUFFIX = ".personsearch_index.npz"


def default_index_path(gallery: str | Path) -> Path:
    """`<folder>/.personsearch_index.npz`, or `.<video name>.personsearch_index.npz` next to a video."""
    gallery = Path(gallery)
    if gallery.is_dir():
        return gallery / INDEX_SUFFIX
    return gallery.parent / f".{gallery.name}{INDEX_SUFFIX}"


def image_to_tensor(image: Image.Image, device: str | torch.device) -> torch.Tensor:
    """A float CHW RGB tensor in [0, 1] on `device`."""
    pixels = torch.from_numpy(np.array(image.convert("RGB"), dtype=np.uint8))
    return pixels.permute(2, 0, 1).to(device=device, dtype=torch.float32).div_(255.0)


@dataclass
class _Detections:
    image: IndexedImage
    features: np.ndarray  # (K, D) float32
    boxes: np.ndarray  # (K, 4) float32
    scores: np.ndarray  # (K,) float32


def _reusable_detections(previous: GalleryIndex) -> dict[str, _Detections]:
    found: dict[str, _Detections] = {}
    for position, image in enumerate(previous.images):
        keep = previous.image_index == position
        found[image.name] = _Detections(
            image=image,
            features=previous.features[keep].astype(np.float32),
            boxes=previous.boxes[keep],
            scores=previous.scores[keep],
        )
    return found


def _load_previous(path: Path, model_id: str, score_threshold: float, log) -> dict[str, _Detections]:
    if not path.is_file():
        return {}
    try:
        previous = GalleryIndex.load(path, model_id=model_id)
    except (IndexFormatError, IndexModelMismatchError) as exc:
        log(f"rebuilding the index: {exc}")
        return {}
    if previous.score_threshold != score_threshold:
        log(
            f"rebuilding the index: it was built with score threshold {previous.score_threshold}, "
            f"now {score_threshold}"
        )
        return {}
    return _reusable_detections(previous)


class _BatchRunner:
    """Feeds pictures to the model in batches; keeps the detections scoring >= threshold."""

    def __init__(self, *, model: torch.nn.Module, device: str | torch.device, batch_size: int, score_threshold: float) -> None:
        self.model = model
        self.device = device
        self.batch_size = batch_size
        self.score_threshold = score_threshold
        self.pending: list[tuple[media.FileState, Image.Image]] = []
        self.feature_dim: int | None = None

    def add(self, state: media.FileState, image: Image.Image) -> list[_Detections]:
        self.pending.append((state, image))
        return self.flush() if len(self.pending) >= self.batch_size else []

    @torch.inference_mode()
    def flush(self) -> list[_Detections]:
        if not self.pending:
            return []
        batch, self.pending = self.pending, []
        outputs = self.model([image_to_tensor(image, self.device) for _, image in batch])
        results = []
        for (state, image), output in zip(batch, outputs, strict=True):
            scores = output["scores"].detach().float().cpu().numpy()
            keep = scores >= self.score_threshold
            features = output["embeddings"].detach().float().cpu().numpy()
            self.feature_dim = features.shape[1]
            results.append(
                _Detections(
                    image=IndexedImage(
                        name=state.name, size=state.size, mtime_ns=state.mtime_ns, width=image.width, height=image.height
                    ),
                    features=features[keep],
                    boxes=output["boxes"].detach().float().cpu().numpy()[keep].reshape(-1, 4),
                    scores=scores[keep],
                )
            )
        return results


def _stack(parts: list[_Detections], feature_dim: int | None) -> tuple[np.ndarray, ...]:
    """Concatenate per-picture detections into (features, boxes, scores, image_index)."""
    if feature_dim is None:
        feature_dim = max((p.features.shape[1] for p in parts), default=0)
    features = [p.features if len(p.features) else np.zeros((0, feature_dim), np.float32) for p in parts]
    return (
        np.concatenate([np.zeros((0, feature_dim), np.float32), *features]),
        np.concatenate([np.zeros((0, 4), np.float32), *(p.boxes for p in parts)]).astype(np.float32),
        np.concatenate([np.zeros(0, np.float32), *(p.scores for p in parts)]).astype(np.float32),
        np.concatenate([np.zeros(0, np.int64), *(np.full(len(p.scores), i, np.int64) for i, p in enumerate(parts))]),
    )


def build_gallery_index(
    model: torch.nn.Module,
    gallery: str | Path,
    *,
    model_id: str,
    index_path: str | Path | None = None,
    score_threshold: float = 0.5,
    frame_stride: int = 1,
    recursive: bool = False,
    batch_size: int = 4,
    feature_dtype: str = "float16",
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> GalleryIndex:
    """Index a folder of images or a video (every `frame_stride`-th frame) and save it atomically.

    `index_path` defaults to `default_index_path(gallery)`. Returns the saved index; its
    `stats` say how many pictures were processed, reused and skipped as unreadable.
    """
    if feature_dtype not in FEATURE_DTYPES:
        raise ValueError(f"feature_dtype must be one of {FEATURE_DTYPES}, got {feature_dtype!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    gallery = Path(gallery)
    root = media.gallery_root(gallery)
    index_path = Path(index_path) if index_path is not None else default_index_path(gallery)

    def log(message: str) -> None:
        if progress:
            print(f"personsearch: {message}", file=sys.stderr)

    reusable = _load_previous(index_path, model_id, score_threshold, log)

    def needs_pixels(state: media.FileState) -> bool:
        old = reusable.get(state.name)
        return old is None or (old.image.size, old.image.mtime_ns) != (state.size, state.mtime_ns)

    model.eval()
    runner = _BatchRunner(model=model, device=device, batch_size=batch_size, score_threshold=score_threshold)
    done: dict[str, _Detections] = {}
    order: list[str] = []
    skipped: list[SkippedImage] = []
    total = media.count_scan_items(gallery, frame_stride=frame_stride, recursive=recursive)
    scan = media.scan_gallery(gallery, needs_pixels=needs_pixels, frame_stride=frame_stride, recursive=recursive)
    reused = 0
    for item in tqdm(scan, total=total, desc="indexing", unit="img", disable=not progress):
        name = item.state.name
        if item.error is not None:
            skipped.append(SkippedImage(name=name, reason=item.error))
            log(f"skipped unreadable image {name}: {item.error}")
        elif item.image is None:
            done[name] = reusable[name]
            order.append(name)
            reused += 1
        else:
            order.append(name)
            done.update((found.image.name, found) for found in runner.add(item.state, item.image))
    done.update((found.image.name, found) for found in runner.flush())
    if not order and not skipped:
        raise ValueError(f"no images found in gallery {gallery}")

    parts = [done[name] for name in order]
    features, boxes, scores, image_index = _stack(parts, runner.feature_dim)
    index = GalleryIndex(
        root=str(root),
        model_id=model_id,
        score_threshold=score_threshold,
        frame_stride=frame_stride,
        features=features.astype(feature_dtype),
        boxes=boxes,
        scores=scores,
        image_index=image_index,
        images=[p.image for p in parts],
        skipped=skipped,
        stats={"processed": len(order) - reused, "reused": reused, "skipped": len(skipped)},
    )
    index.save(index_path)
    return index
