"""A gallery of person crops embedded once by a text model's image encoder, saved atomically.

Each entry is a crop: a whole image (a folder of person crops) or a detection box in a scene
image (when a detector is used). Rebuilding reuses entries of pictures whose name, size and
mtime are unchanged, as long as the same model (and detector) built them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from personsearch import media
from personsearch.text.data import to_tensor
from personsearch.text.model import DualEncoder
from personsearch.utils.atomic import atomic_savez

INDEX_NAME = ".personsearch_text_index.npz"
FORMAT_VERSION = 1

# detector(image) -> (boxes (K, 4) float32, scores (K,) float32); None = the image is the crop.
Detector = Callable[[Image.Image], tuple[np.ndarray, np.ndarray]]


@dataclass
class TextGalleryIndex:
    root: str
    model_id: str
    detector_id: str
    names: list[str]  # picture names relative to root, one per picture
    states: np.ndarray  # (P, 2) int64 size, mtime_ns
    image_index: np.ndarray  # (M,) picture of each crop
    boxes: np.ndarray  # (M, 4) float32 crop box in the picture
    scores: np.ndarray  # (M,) detection score (1 for whole-image crops)
    features: np.ndarray  # (M, D) float32, unit length

    def save(self, path: str | Path) -> None:
        atomic_savez(path, version=np.array(FORMAT_VERSION), root=np.array(self.root), model_id=np.array(self.model_id),
                     detector_id=np.array(self.detector_id), names=np.array(self.names, dtype=str), states=self.states,
                     image_index=self.image_index, boxes=self.boxes, scores=self.scores, features=self.features)

    @classmethod
    def load(cls, path: str | Path) -> "TextGalleryIndex":
        with np.load(path, allow_pickle=False) as z:
            if int(z["version"]) != FORMAT_VERSION:
                raise ValueError(f"{path}: text index format {int(z['version'])}, expected {FORMAT_VERSION}")
            return cls(root=str(z["root"]), model_id=str(z["model_id"]), detector_id=str(z["detector_id"]),
                       names=[str(n) for n in z["names"]], states=z["states"], image_index=z["image_index"],
                       boxes=z["boxes"], scores=z["scores"], features=z["features"])


def _crops(image: Image.Image, detector: Detector | None) -> tuple[np.ndarray, np.ndarray]:
    if detector is None:
        return np.array([[0, 0, image.width, image.height]], np.float32), np.ones(1, np.float32)
    return detector(image)


def build_text_index(model: DualEncoder, gallery: str | Path, *, model_id: str, detector: Detector | None = None,
                     detector_id: str = "none", index_path: str | Path | None = None, batch_size: int = 32,
                     progress: bool = True) -> tuple[TextGalleryIndex, int]:
    """(index, number of pictures embedded now); the index is saved to `index_path`."""
    root = Path(gallery)
    if not root.is_dir():
        raise FileNotFoundError(f"gallery folder not found: {root}")
    index_path = Path(index_path) if index_path is not None else root / INDEX_NAME
    previous: dict[str, tuple[tuple[int, int], np.ndarray, np.ndarray, np.ndarray]] = {}
    if index_path.is_file():
        try:
            old = TextGalleryIndex.load(index_path)
        except (ValueError, KeyError, OSError):
            old = None
        if old is not None and old.model_id == model_id and old.detector_id == detector_id:
            for p, name in enumerate(old.names):
                keep = old.image_index == p
                previous[name] = (tuple(int(v) for v in old.states[p]), old.boxes[keep], old.scores[keep],
                                  old.features[keep])
    names, states, parts, computed = [], [], [], 0
    device = next(model.parameters()).device
    files = media.list_image_files(root, recursive=True)
    for name in tqdm(files, desc="indexing", disable=not progress, leave=False):
        path = root / name
        stat = path.stat()
        state = (int(stat.st_size), int(stat.st_mtime_ns))
        if name in previous and previous[name][0] == state:
            _, boxes, scores, feats = previous[name]
        else:
            try:
                image = media.read_image(path)
            except media.UnreadableImageError:
                continue
            boxes, scores = _crops(image, detector)
            crops = [image.crop(tuple(int(round(v)) for v in box)) for box in boxes]
            feats = _embed(model, crops, batch_size=batch_size, device=device)
            computed += 1
        names.append(name)
        states.append(state)
        parts.append((boxes, scores, feats))
    dim = model.embed_dim
    index = TextGalleryIndex(
        root=str(root), model_id=model_id, detector_id=detector_id, names=names,
        states=np.array(states, np.int64).reshape(-1, 2),
        image_index=np.concatenate([np.zeros(0, np.int64)] + [np.full(len(p[1]), i, np.int64) for i, p in enumerate(parts)]),
        boxes=np.concatenate([np.zeros((0, 4), np.float32)] + [p[0] for p in parts]).astype(np.float32),
        scores=np.concatenate([np.zeros(0, np.float32)] + [p[1] for p in parts]).astype(np.float32),
        features=np.concatenate([np.zeros((0, dim), np.float32)] + [p[2] for p in parts]).astype(np.float32),
    )
    index.save(index_path)
    return index, computed


@torch.no_grad()
def _embed(model: DualEncoder, crops: list[Image.Image], *, batch_size: int, device: torch.device) -> np.ndarray:
    h, w = model.image_size
    out = []
    for i in range(0, len(crops), batch_size):
        batch = torch.stack([to_tensor(c.convert("RGB").resize((w, h), Image.BILINEAR)) for c in crops[i:i + batch_size]])
        out.append(model.encode_image(batch.to(device)).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, model.embed_dim), np.float32)
