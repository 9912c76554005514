"""`TextSearcher`: rank person crops by a free-text description.

    searcher = TextSearcher(checkpoint="runs/ctlg_synth/last.pth")
    searcher.index("crops/")                       # embedded once, cached next to the crops
    hits = searcher.search("a woman in a red coat", top_k=10)

With a one-step person search checkpoint as `detector`, gallery pictures are scenes: people
are detected first and their crops are searched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from personsearch import media
from personsearch.detectors import SSDLITE
from personsearch.engine.distributed import resolve_device
from personsearch.index import CropEmbedder, GalleryIndex, LocalEngine, checkpoint_identity, index_gallery, search_index
from personsearch.index.embedders import Detector
from personsearch.text.evaluate import load_text_model
from personsearch.text.report import write_text_report

INDEX_NAME = ".personsearch_text_index.npz"


@dataclass(frozen=True)
class TextHit:
    image: str  # picture path
    box: tuple[float, float, float, float]  # crop box in the picture (the whole picture for crop galleries)
    score: float  # cosine similarity between description and crop
    detection_score: float  # 1.0 for crop galleries
    rank: int  # 1 = best

    def crop(self) -> Image.Image:
        return media.read_image(self.image).crop(tuple(int(round(v)) for v in self.box))


def scene_detector(checkpoint: str | Path, *, device: torch.device, score_threshold: float = 0.5) -> Detector:
    """People in a scene: boxes and scores >= threshold, from a one-step person search checkpoint,
    or from the offline SSDLite person detector when `checkpoint` is "ssdlite"."""
    from torchvision.transforms.functional import pil_to_tensor

    if str(checkpoint) == SSDLITE:
        from personsearch.models.ssdlite_person import load_ssdlite_person_detector

        model = load_ssdlite_person_detector(device=device)
    else:
        from personsearch.models.search_model import load_search_model

        model = load_search_model(checkpoint, device=device).eval()

    @torch.inference_mode()
    def detect(image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
        tensor = pil_to_tensor(image.convert("RGB")).to(device=device, dtype=torch.float32).div_(255.0)
        output = model([tensor])[0]
        scores = output["scores"].float().cpu().numpy()
        keep = scores >= score_threshold
        return output["boxes"].float().cpu().numpy()[keep].reshape(-1, 4).astype(np.float32), scores[keep].astype(np.float32)

    return detect


class TextSearcher:
    def __init__(self, *, checkpoint: str | Path, device: str = "auto", detector: str | Path | None = None,
                 detector_score: float = 0.5, batch_size: int = 32, progress: bool = True) -> None:
        self.device = resolve_device(device)
        self.model, self.config = load_text_model(checkpoint, device=self.device)
        self.model_id = checkpoint_identity(checkpoint)
        self.detector = scene_detector(detector, device=self.device, score_threshold=detector_score) if detector else None
        self.detector_id = "none"
        if detector:
            name = SSDLITE if str(detector) == SSDLITE else checkpoint_identity(detector)
            self.detector_id = f"{name}@{detector_score}"
        self.batch_size = int(batch_size)
        self.progress = bool(progress)
        self.detector_score = float(detector_score) if detector else 0.0
        self.gallery: GalleryIndex | None = None
        self.num_embedded = 0

    def index(self, gallery: str | Path, *, index_path: str | Path | None = None) -> GalleryIndex:
        """Embed every crop of `gallery` (reusing the saved index for unchanged pictures)."""
        if not Path(gallery).is_dir():
            raise FileNotFoundError(f"gallery folder not found: {gallery}")
        embedder = CropEmbedder(self.model, detector=self.detector, crops_per_batch=self.batch_size)
        self.gallery = index_gallery(
            LocalEngine(embedder), gallery, model_id=f"text:{self.model_id}|detector:{self.detector_id}",
            index_path=index_path if index_path is not None else Path(gallery) / INDEX_NAME,
            score_threshold=self.detector_score, recursive=True, feature_dtype="float32", progress=self.progress)
        self.num_embedded = self.gallery.stats["processed"]
        return self.gallery

    @torch.no_grad()
    def search(self, description: str, *, top_k: int = 10) -> list[TextHit]:
        if self.gallery is None:
            raise ValueError("no gallery indexed: call index(folder) first")
        if not description.strip():
            raise ValueError("the description is empty")
        if top_k < 1:
            raise ValueError(f"top_k must be >= 1, got {top_k}")
        query = self.model.encode_captions([description]).cpu().numpy()[0]
        return [TextHit(image=hit.image, box=hit.box, score=hit.score, detection_score=hit.detection_score,
                        rank=hit.rank) for hit in search_index(self.gallery, query, top_k=top_k)]

    def write_report(self, description: str, hits: list[TextHit], out_dir: str | Path) -> Path:
        return write_text_report(out_dir, query=description, hits=hits)
