"""Facades for people who just want answers: a gallery in, ranked boxes with scores out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from personsearch import media
from personsearch.detectors import (
    DETECTORS,
    FUSED_REID,
    IMAGENET_REID,
    OWN_DETECTOR,
    OWN_REID,
    SSDLITE,
)
from personsearch.export import PYTORCH
from personsearch.index import (
    GalleryIndex,
    Hit,
    SearchModelSpec,
    build_gallery_index,
    image_to_tensor,
    module_identity,
    search_index,
    validate_box,
)
from personsearch.text.searcher import TextSearcher

__all__ = ["DETECTORS", "GalleryIndex", "Hit", "PersonSearcher", "TextSearcher"]


class PersonSearcher:
    """Find the person in a box of a query image among the people of an indexed gallery.

    >>> searcher = PersonSearcher.from_checkpoint("model.pth")
    >>> searcher.index("my_photos/")
    >>> hits = searcher.search("query.jpg", box=(120, 40, 210, 300), top_k=10)
    """

    def __init__(
        self,
        *,
        model: torch.nn.Module,
        device: str | torch.device = "cpu",
        model_id: str | None = None,
        score_threshold: float = 0.5,
        batch_size: int = 4,
        progress: bool = True,
    ) -> None:
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.model_id = model_id or module_identity(model)
        self.score_threshold = score_threshold
        self.batch_size = batch_size
        self.progress = progress
        self.gallery_index: GalleryIndex | None = None

    @classmethod
    def create(
        cls,
        checkpoint: str | Path | None = None,
        *,
        detector: str | None = None,
        reid: str | None = None,
        runtime: str = PYTORCH,
        onnx_dir: str | Path | None = None,
        device: str | torch.device = "cpu",
        **kwargs,
    ) -> "PersonSearcher":
        """The searcher a detector / re-ID choice names, defaults filled in: with no `checkpoint`, the
        pipeline shipped for real pictures (SSDLite finds the people; `personsearch.detectors.SHIPPED_REID`
        compares them); with one, that model alone on its own detections.
        detector: "model" or "ssdlite"; reid: "model" (the checkpoint's re-ID head), "imagenet"
        (ImageNet MobileNetV2 features, no checkpoint) or "model+imagenet" (similarities averaged)."""
        from personsearch.commands.search import resolve_search_model

        checkpoint, detector, reid = resolve_search_model(checkpoint, detector=detector, reid=reid,
                                                          pytorch=runtime == PYTORCH)
        spec = SearchModelSpec(checkpoint=None if checkpoint is None else str(checkpoint), detector=detector,
                               reid=reid, device=str(device), runtime=runtime,
                               onnx_dir=None if onnx_dir is None else str(onnx_dir))
        return cls(model=spec.load_model(), device=device, model_id=spec.model_id(), **kwargs)

    @classmethod
    def from_checkpoint(cls, path: str | Path, *, detector: str = OWN_DETECTOR, **kwargs) -> "PersonSearcher":
        """The checkpoint's own re-ID. detector: "model" uses its own detections; "ssdlite" finds people
        with the offline SSDLite person detector (trained on real photographs) and embeds its boxes.
        runtime: "pytorch", or "onnx" to run the exported graphs (from `onnx_dir`) in onnxruntime."""
        return cls.create(path, detector=detector, reid=OWN_REID, **kwargs)

    @classmethod
    def from_imagenet_features(cls, **kwargs) -> "PersonSearcher":
        """No person model at all: the SSDLite person detector finds people and ImageNet MobileNetV2
        features (offline weights, pooled) compare them. The honest fallback on real pictures."""
        return cls.create(None, detector=SSDLITE, reid=IMAGENET_REID, **kwargs)

    @classmethod
    def from_checkpoint_and_imagenet_features(cls, path: str | Path, **kwargs) -> "PersonSearcher":
        """The SSDLite person detector finds people; the checkpoint's re-ID head and ImageNet
        MobileNetV2 features both compare them, their similarities averaged."""
        return cls.create(path, detector=SSDLITE, reid=FUSED_REID, **kwargs)

    def index(
        self,
        gallery: str | Path,
        index_path: str | Path | None = None,
        *,
        frame_stride: int = 1,
        recursive: bool = False,
    ) -> GalleryIndex:
        """Index a folder of images or a video file, reusing a saved index of it when possible."""
        self.gallery_index = build_gallery_index(
            self.model,
            gallery,
            model_id=self.model_id,
            index_path=index_path,
            score_threshold=self.score_threshold,
            frame_stride=frame_stride,
            recursive=recursive,
            batch_size=self.batch_size,
            device=self.device,
            progress=self.progress,
        )
        return self.gallery_index

    def load_index(self, index_path: str | Path) -> GalleryIndex:
        """Use a saved index (it must have been built by this searcher's model)."""
        self.gallery_index = GalleryIndex.load(index_path, model_id=self.model_id)
        return self.gallery_index

    @torch.inference_mode()
    def query_feature(self, query_image: str | Path | Image.Image, box) -> np.ndarray:
        """The (D,) normalised feature of the person in `box` of the query image."""
        image = media.read_image(query_image) if isinstance(query_image, (str, Path)) else query_image.convert("RGB")
        box = validate_box(box, image.width, image.height)
        boxes = torch.tensor([box], dtype=torch.float32, device=self.device)
        features = self.model.extract_query_features([image_to_tensor(image, self.device)], [boxes])
        return features[0].detach().float().cpu().numpy()

    def search(
        self,
        query_image: str | Path | Image.Image,
        box,
        top_k: int = 10,
        *,
        weight_by_detection: bool = False,
    ) -> list[Hit]:
        """Ranked gallery detections most similar to the person in `box` (x1, y1, x2, y2)."""
        if self.gallery_index is None:
            raise ValueError("no gallery indexed yet: call .index(gallery) or .load_index(path) first")
        feature = self.query_feature(query_image, box)
        return search_index(self.gallery_index, feature, top_k=top_k, weight_by_detection=weight_by_detection)
