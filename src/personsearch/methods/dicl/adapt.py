"""Adapt a trained search model to a user's own unlabelled footage with DICL's objectives.

A person detector (SSDLite by default) gives the boxes; nobody gives identities. The boxes
become weak training scenes (frames of a video are written once as JPEG files under the run
folder), and the search model's re-ID part is fine-tuned with the cluster memory, the
instance branch and the spatial / occlusion contrasts while its detector stays as it is.
Optionally, boxes linked across consecutive frames (tracklets: IoU matching) are must-links:
after each clustering every box of a tracklet gets the tracklet's main cluster.

When the checkpoint records the person height it was trained at ("person_height", see
`models.person_scale`), the footage is trained at that scale too: the model's input size is set
so that the footage's median person is that tall, and the adapted checkpoint keeps the record,
so that search embeds the footage's people at the scale adaptation saw.

The result is `OUT/search_model.pth`, an ordinary search model checkpoint.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from personsearch import media
from personsearch.data.records import SceneSearchData
from personsearch.data.scene_dataset import image_to_tensor
from personsearch.engine import TrainSettings, load_checkpoint, prepare_run
from personsearch.engine import distributed as du
from personsearch.methods.dicl.hooks import SEARCH_MODEL_FILE
from personsearch.methods.dicl.recipe import DICLSettings, build_dicl_trainer
from personsearch.utils.atomic import atomic_path, atomic_write_json

BOXES_FILE = "weak_boxes.json"
FRAMES_DIR = "frames"


@dataclass(frozen=True)
class FootageScene:
    """One picture of the footage with the detector's person boxes (no identities)."""

    name: str  # the picture's gallery name ("cam1/0001.jpg", "video.avi#frame000120")
    image_path: str
    boxes: np.ndarray  # (N, 4) float32 x1 y1 x2 y2


@dataclass
class AdaptSettings:
    frame_stride: int = 2  # every n-th frame of a video
    score_threshold: float = 0.5  # detector score kept as a weak label
    min_box_height: float = 40.0  # pixels; smaller people give crops too poor to learn from
    epochs: int = 4
    batch_size: int = 2
    lr: float = 0.001
    tracklets: bool = False
    tracklet_iou: float = 0.5
    cluster_eps: float = 0.6
    cluster_min_samples: int = 2
    # boxes alone in their cluster stay out of the contrast ("train": DICL's singletons, which on real
    # footage pushes one person's views in other frames apart; BENCHMARKS.md `dicl-adapt-real`)
    memory_singletons: str = "ignore"
    instance_size: tuple[int, int] = (160, 64)
    seed: int = 1
    device: str = "auto"
    progress: bool = True


def load_detector(name: str, checkpoint: str | Path) -> torch.nn.Module:
    """`ssdlite`: the offline SSDLite person detector; `model`: the checkpoint's own detections."""
    from personsearch.detectors import OWN_DETECTOR, SSDLITE

    if name == SSDLITE:
        from personsearch.models.ssdlite_person import load_ssdlite_person_detector

        return load_ssdlite_person_detector()
    if name == OWN_DETECTOR:
        from personsearch.methods.dicl.recipe import load_dicl_search_model

        return load_dicl_search_model(load_checkpoint(checkpoint), torch.device("cpu"))
    raise ValueError(f"unknown detector {name!r}")


def _frame_file(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name) + ".jpg"


def footage_pictures(gallery: str | Path, frame_stride: int) -> Iterator[tuple[str, Image.Image]]:
    """(gallery name, RGB image) of a folder's images (sorted; unreadable ones skipped with a
    message) or of every `frame_stride`-th frame of a video."""
    if frame_stride < 1:
        raise ValueError(f"frame_stride must be >= 1, got {frame_stride}")
    gallery = Path(gallery)
    root = media.gallery_root(gallery)
    if gallery.is_dir():
        for name in media.list_image_files(root):
            try:
                yield name, media.read_image(root / name)
            except media.UnreadableImageError as exc:
                print(f"personsearch: skipped unreadable image {root / name}: {exc}", file=sys.stderr)
        return
    cv2, capture = media.open_video(gallery)
    try:
        frame = 0
        while capture.grab():
            if frame % frame_stride == 0:
                ok, pixels = capture.retrieve()
                if ok and pixels is not None:
                    yield media.frame_name(gallery.name, frame), Image.fromarray(cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB))
            frame += 1
    finally:
        capture.release()


def detect_footage(gallery: str | Path, detector: Callable, out_dir: Path, settings: AdaptSettings,
                   device: torch.device) -> list[FootageScene]:
    """Run the detector over a folder's images or a video's frames; keep confident, tall-enough boxes.
    Video frames are saved as JPEG under OUT/frames (reused by a rerun)."""
    gallery = Path(gallery)
    root = media.gallery_root(gallery)
    is_video = media.is_video_file(gallery)
    scenes = []
    pictures = footage_pictures(gallery, settings.frame_stride)
    for name, image in tqdm(pictures, desc="detecting", unit="img", disable=not settings.progress):
        if is_video:
            path = out_dir / FRAMES_DIR / _frame_file(name)
            if not path.is_file():
                path.parent.mkdir(parents=True, exist_ok=True)
                with atomic_path(path, suffix=".jpg") as tmp:
                    image.save(tmp, format="JPEG", quality=95)
        else:
            path = root / name
        with torch.inference_mode():
            found = detector([image_to_tensor(image).to(device)])[0]
        boxes = found["boxes"].float().cpu().numpy().reshape(-1, 4)
        scores = found["scores"].float().cpu().numpy().reshape(-1)
        keep = (scores >= settings.score_threshold) & (boxes[:, 3] - boxes[:, 1] >= settings.min_box_height)
        scenes.append(FootageScene(name=name, image_path=str(path), boxes=boxes[keep].astype(np.float32)))
    if not scenes:
        raise ValueError(f"no readable pictures in {gallery}")
    return scenes


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(axis=2)
    area = lambda boxes: (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-9)


def tracklet_groups(scenes: list[FootageScene], *, iou: float = 0.5) -> list[np.ndarray]:
    """Slot indices (boxes numbered scene by scene) linked across consecutive scenes by greedy
    one-to-one IoU matching; groups of two or more boxes."""
    first_slot = np.cumsum([0] + [len(s.boxes) for s in scenes])
    track_of = np.arange(first_slot[-1])
    for t in range(1, len(scenes)):
        previous, current = scenes[t - 1].boxes, scenes[t].boxes
        if len(previous) == 0 or len(current) == 0:
            continue
        overlaps = _iou(previous, current)
        while overlaps.size and overlaps.max() >= iou:
            i, j = np.unravel_index(np.argmax(overlaps), overlaps.shape)
            track_of[first_slot[t] + j] = track_of[first_slot[t - 1] + i]
            overlaps[i, :] = -1.0
            overlaps[:, j] = -1.0
    _, groups = np.unique(track_of, return_inverse=True)
    members = [np.flatnonzero(groups == g) for g in range(groups.max() + 1)] if groups.size else []
    return [m for m in members if m.size >= 2]


def _picture_size(path: str) -> tuple[int, int]:
    with Image.open(path) as image:  # reads the header only
        return image.size


def footage_input_size(scenes: list[FootageScene], person_height: float) -> tuple[int, int]:
    """(min_size, max_size) of the model's input that makes the footage's median person
    `person_height` pixels tall (the median picture's sides, scaled alike)."""
    heights = np.concatenate([s.boxes[:, 3] - s.boxes[:, 1] for s in scenes])
    sizes = np.array([_picture_size(s.image_path) for s in scenes], dtype=np.float64)
    factor = person_height / float(np.median(heights))
    short, long = np.median(sizes.min(axis=1)), np.median(sizes.max(axis=1))
    return max(1, round(short * factor)), int(np.ceil(long * factor)) + 1


def adapt_config(checkpoint: dict[str, Any], checkpoint_path: str, out_dir: Path, settings: AdaptSettings) -> dict:
    """The DICL config of an adaptation run: the checkpoint's model, re-ID part trainable only."""
    model = dict(checkpoint["model_kwargs"])
    model["backbone_weights"] = "none"  # the checkpoint's weights replace them
    method = DICLSettings(init_checkpoint=str(checkpoint_path), trainable="reid",
                          instance_size=list(settings.instance_size), cluster_eps=settings.cluster_eps,
                          cluster_min_samples=settings.cluster_min_samples,
                          memory_singletons=settings.memory_singletons, score_clusters=False)
    train = TrainSettings(device=settings.device, seed=settings.seed, epochs=settings.epochs,
                          batch_size=settings.batch_size, workers=0, lr=settings.lr, warmup_epochs=0.5,
                          milestones=[max(settings.epochs - 1, 1)], amp=False, tensorboard=False,
                          progress=settings.progress, keep_last=1, log_period=5)
    return {"method": vars(method) | {"instance_size": list(settings.instance_size)},
            "data": {"name": "footage", "flip_prob": 0.5}, "model": model, "train": vars(train),
            "eval": {"period": -1}, "output_dir": str(out_dir)}


def adapt_to_footage(*, gallery: str | Path, checkpoint: str | Path, out_dir: str | Path, detector: Callable,
                     settings: AdaptSettings) -> Path:
    """Detect, fine-tune, export: returns OUT/search_model.pth. A rerun resumes from OUT/last.pth."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = load_checkpoint(checkpoint)
    if "model_kwargs" not in state:
        raise ValueError(f"{checkpoint}: not a search model checkpoint (no model_kwargs)")
    cfg = adapt_config(state, str(checkpoint), out_dir, settings)
    device = prepare_run(TrainSettings(**cfg["train"]))
    try:
        scenes = detect_footage(gallery, detector.to(device), out_dir, settings, device)
        boxes = sum(len(s.boxes) for s in scenes)
        atomic_write_json(out_dir / BOXES_FILE, {"gallery": str(gallery), "scenes": [
            {"name": s.name, "image": s.image_path, "boxes": s.boxes.round(1).tolist()} for s in scenes]})
        if boxes < 2:
            raise ValueError(f"the detector found {boxes} person box(es) in {gallery}; nothing to adapt to")
        if settings.progress:
            print(f"personsearch: {boxes} person boxes in {len(scenes)} pictures")
        person_height = state.get("person_height")
        if person_height:
            cfg["model"]["min_size"], cfg["model"]["max_size"] = footage_input_size(scenes, float(person_height))
        must_links = tracklet_groups(scenes, iou=settings.tracklet_iou) if settings.tracklets else None
        data = SceneSearchData(name="footage", root=str(gallery), train=list(scenes), gallery=[], queries=[],
                               num_train_pids=0)
        trainer, _ = build_dicl_trainer(cfg, data, device=device, resume="auto", must_links=must_links,
                                        export_extra={"person_height": person_height} if person_height else None)
        trainer.train()
    finally:
        du.cleanup_distributed()
    return out_dir / SEARCH_MODEL_FILE
