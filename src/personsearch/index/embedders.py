"""What turns pictures into index entries: (boxes, scores, features) for each picture.

- `SearchModelEmbedder`: a person search model detects and embeds in one call (image queries).
- `CropEmbedder`: crops (whole pictures, or a detector's boxes) embedded by a text model's
  image encoder (text queries).
- `SearchModelSpec`: how to build a `SearchModelEmbedder` from a checkpoint, small enough to
  send to other processes (Ray workers load the model once each).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
import torch
from PIL import Image

from personsearch.detectors import DETECTORS, FUSED_REID, IMAGENET_REID, OWN_DETECTOR, OWN_REID, REID_MODELS, SSDLITE
from personsearch.export import ONNX, PYTORCH, RUNTIMES

# A found picture: boxes (K, 4) float32, scores (K,) float32, features (K, D) float32 L2-normalised.
Found = tuple[np.ndarray, np.ndarray, np.ndarray]
# detector(image) -> (boxes (K, 4) float32, scores (K,) float32)
Detector = Callable[[Image.Image], tuple[np.ndarray, np.ndarray]]


class Embedder(Protocol):
    batch_size: int  # pictures per call

    def __call__(self, images: list[Image.Image]) -> list[Found]: ...


def image_to_tensor(image: Image.Image, device: str | torch.device) -> torch.Tensor:
    """A float CHW RGB tensor in [0, 1] on `device`."""
    pixels = torch.from_numpy(np.array(image.convert("RGB"), dtype=np.uint8))
    return pixels.permute(2, 0, 1).to(device=device, dtype=torch.float32).div_(255.0)


class SearchModelEmbedder:
    """Detections scoring >= `score_threshold` and their embeddings, from a person search model."""

    def __init__(self, model: torch.nn.Module, *, device: str | torch.device = "cpu", score_threshold: float = 0.5,
                 batch_size: int = 4) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model.eval()
        self.device = device
        self.score_threshold = score_threshold
        self.batch_size = batch_size

    @torch.inference_mode()
    def __call__(self, images: list[Image.Image]) -> list[Found]:
        outputs = self.model([image_to_tensor(image, self.device) for image in images])
        found = []
        for output in outputs:
            scores = output["scores"].detach().float().cpu().numpy()
            keep = scores >= self.score_threshold
            found.append((output["boxes"].detach().float().cpu().numpy()[keep].reshape(-1, 4).astype(np.float32),
                          scores[keep].astype(np.float32),
                          output["embeddings"].detach().float().cpu().numpy()[keep].astype(np.float32)))
        return found


class CropEmbedder:
    """Person crops embedded by a text model's image encoder; without a detector a picture is one crop."""

    def __init__(self, model: torch.nn.Module, *, detector: Detector | None = None, batch_size: int = 4,
                 crops_per_batch: int = 32) -> None:
        self.model = model
        self.detector = detector
        self.batch_size = batch_size
        self.crops_per_batch = crops_per_batch

    def _boxes(self, image: Image.Image) -> tuple[np.ndarray, np.ndarray]:
        if self.detector is None:
            return np.array([[0, 0, image.width, image.height]], np.float32), np.ones(1, np.float32)
        return self.detector(image)

    @torch.inference_mode()
    def __call__(self, images: list[Image.Image]) -> list[Found]:
        from personsearch.text.data import to_tensor

        detections = [self._boxes(image) for image in images]
        crops = [image.crop(tuple(int(round(v)) for v in box)) for image, (boxes, _) in zip(images, detections)
                 for box in boxes]
        device = next(self.model.parameters()).device
        height, width = self.model.image_size
        features = [np.zeros((0, self.model.embed_dim), np.float32)]
        for start in range(0, len(crops), self.crops_per_batch):
            batch = torch.stack([to_tensor(crop.convert("RGB").resize((width, height), Image.BILINEAR))
                                 for crop in crops[start:start + self.crops_per_batch]])
            features.append(self.model.encode_image(batch.to(device)).float().cpu().numpy())
        features = np.concatenate(features)
        found, first = [], 0
        for boxes, scores in detections:
            found.append((np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(scores, np.float32),
                          features[first:first + len(scores)]))
            first += len(scores)
        return found


@dataclass(frozen=True)
class SearchModelSpec:
    """Who finds and who compares the people: a person search checkpoint (with its own detections or
    the SSDLite detector's boxes), ImageNet MobileNetV2 features (`reid="imagenet"`, no checkpoint),
    or both with their similarities averaged (`reid="model+imagenet"`); the last two on SSDLite's
    boxes, in PyTorch."""

    checkpoint: str | None
    detector: str = OWN_DETECTOR
    reid: str = OWN_REID
    device: str = "cpu"
    score_threshold: float = 0.5
    batch_size: int = 4
    runtime: str = PYTORCH  # or ONNX: the exported graphs in onnxruntime (equal outputs within 1e-3)
    onnx_dir: str | None = None  # graphs folder for ONNX (missing parts are exported there first)

    def __post_init__(self) -> None:
        if self.detector not in DETECTORS:
            raise ValueError(f"detector must be one of {', '.join(DETECTORS)}; got {self.detector!r}")
        if self.reid not in REID_MODELS:
            raise ValueError(f"re-ID must be one of {', '.join(REID_MODELS)}; got {self.reid!r}")
        if self.runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}; got {self.runtime!r}")
        if self.reid != OWN_REID and (self.detector != SSDLITE or self.runtime != PYTORCH):
            raise ValueError(f"re-ID {self.reid!r} finds people with the ssdlite detector and runs in PyTorch; "
                             f"got detector {self.detector!r}, runtime {self.runtime!r}")
        if self.reid == IMAGENET_REID:
            if self.checkpoint is not None:
                raise ValueError("re-ID 'imagenet' uses no checkpoint: leave it out, or use 'model+imagenet'")
        elif self.checkpoint is None or not Path(self.checkpoint).is_file():
            raise FileNotFoundError(f"checkpoint not found: {self.checkpoint}")

    def model_id(self) -> str:
        from personsearch.index.identity import checkpoint_identity

        parts = []
        if self.reid != IMAGENET_REID:
            parts.append(checkpoint_identity(self.checkpoint))
        if self.reid != OWN_REID:
            from personsearch.models.weights import get_offline_weights

            parts.append(f"{IMAGENET_REID}-mobilenet_v2-{get_offline_weights('mobilenet_v2').sha256[:16]}")
        if self.detector == SSDLITE:
            parts.append(SSDLITE)
        return "+".join(parts)

    def load_model(self) -> torch.nn.Module:
        if self.runtime == ONNX:
            from personsearch.export.onnx_runtime import default_export_folder, load_onnx_search_model

            folder = self.onnx_dir if self.onnx_dir is not None else default_export_folder()
            return load_onnx_search_model(self.checkpoint, detector=self.detector, folder=folder)
        from personsearch.models.search_model import load_search_model

        # with another detector, the checkpoint's record of its training person scale is read too
        state = str(self.checkpoint)
        if self.detector == SSDLITE and self.reid != IMAGENET_REID:
            state = torch.load(self.checkpoint, map_location="cpu", weights_only=True)
        if self.reid == OWN_REID:
            model = load_search_model(state, device=self.device)
        else:
            from personsearch.baselines.imagenet import ImageNetCropEmbedder

            model = ImageNetCropEmbedder()
            if self.reid == FUSED_REID:
                from personsearch.models.fused_embedding import FusedEmbedding

                model = FusedEmbedding(first=load_search_model(state, device=self.device), second=model)
        if self.detector == SSDLITE:
            from personsearch.models.detect_then_embed import DetectThenEmbed
            from personsearch.models.ssdlite_person import load_ssdlite_person_detector

            person_height = state.get("person_height") if isinstance(state, dict) else None
            model = DetectThenEmbed(detector=load_ssdlite_person_detector(device=self.device), search_model=model,
                                    person_height=person_height)
        return model

    def build(self) -> SearchModelEmbedder:
        return SearchModelEmbedder(self.load_model(), device=self.device, score_threshold=self.score_threshold,
                                   batch_size=self.batch_size)
