"""Hand-crafted person features and detections: striped HSV colour histograms, HOG.

These are the classic re-ID and detection baselines. On a world where they score
close to learned models, the world is too easy to tell methods apart.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

CROP_HEIGHT = 128
CROP_WIDTH = 64


def _crops(image: Image.Image, boxes: np.ndarray) -> list[Image.Image]:
    width, height = image.size
    crops = []
    for x1, y1, x2, y2 in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        x1, x2 = np.clip([x1, x2], 0, width)
        y1, y2 = np.clip([y1, y2], 0, height)
        if x2 - x1 < 1 or y2 - y1 < 1:
            raise ValueError(f"box {(x1, y1, x2, y2)} is empty inside a {width}x{height} image")
        crops.append(image.crop((int(x1), int(y1), int(np.ceil(x2)), int(np.ceil(y2)))).resize((CROP_WIDTH, CROP_HEIGHT), Image.BILINEAR))
    return crops


def colour_histogram_features(
    image: Image.Image, boxes: np.ndarray, *, stripes: int = 6, bins: tuple[int, int, int] = (8, 4, 4)
) -> np.ndarray:
    """Per box: HSV histograms of `stripes` horizontal bands, square-rooted and L2-normalised.

    Bands keep the head/torso/legs layout that a plain histogram would lose, which makes
    this a fair (strong) colour matcher rather than a straw man.
    """
    features = []
    for crop in _crops(image.convert("RGB"), boxes):
        hsv = np.asarray(crop.convert("HSV"), dtype=np.int64)
        quantised = (
            (hsv[..., 0] * bins[0] // 256) * bins[1] * bins[2]
            + (hsv[..., 1] * bins[1] // 256) * bins[2]
            + hsv[..., 2] * bins[2] // 256
        )
        band_edges = np.linspace(0, CROP_HEIGHT, stripes + 1).astype(int)
        parts = [
            np.bincount(quantised[a:b].ravel(), minlength=int(np.prod(bins))).astype(np.float64)
            for a, b in zip(band_edges[:-1], band_edges[1:])
        ]
        features.append(np.sqrt(np.concatenate(parts)))
    return _l2_rows(np.asarray(features).reshape(len(features), -1))


def hog_features(image: Image.Image, boxes: np.ndarray) -> np.ndarray:
    """Per box: the 3,780-d HOG descriptor of the 64x128 crop (Dalal-Triggs layout), L2-normalised."""
    cv2 = _cv2()
    descriptor = cv2.HOGDescriptor()
    features = [descriptor.compute(np.asarray(crop.convert("L"))).ravel() for crop in _crops(image, boxes)]
    return _l2_rows(np.asarray(features, dtype=np.float64).reshape(len(features), -1))


def colour_hog_features(image: Image.Image, boxes: np.ndarray, *, hog_weight: float = 0.5) -> np.ndarray:
    """Colour histogram and HOG concatenated, each block L2-normalised, then the whole vector."""
    colour = colour_histogram_features(image, boxes)
    shape = hog_features(image, boxes)
    return _l2_rows(np.concatenate([colour * (1 - hog_weight) ** 0.5, shape * hog_weight**0.5], axis=1))


def hog_person_detections(image: Image.Image, *, min_height: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV's default HOG people detector: (boxes (N, 4) x1y1x2y2, scores (N,) in 0..1)."""
    cv2 = _cv2()
    descriptor = cv2.HOGDescriptor()
    descriptor.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    gray = np.asarray(image.convert("L"))
    rects, weights = descriptor.detectMultiScale(gray, winStride=(4, 4), padding=(8, 8), scale=1.05)
    if len(rects) == 0:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
    rects = np.asarray(rects, dtype=np.float32)
    boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
    # SVM margins -> (0, 1) so the protocol's 0.5 score threshold means "margin > 0".
    scores = 1.0 / (1.0 + np.exp(-np.asarray(weights, dtype=np.float32).ravel()))
    keep = (boxes[:, 3] - boxes[:, 1]) >= min_height
    return boxes[keep], scores[keep]


def _l2_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return (matrix / np.maximum(norms, 1e-12)).astype(np.float32)


def _cv2():
    try:
        import cv2
    except ImportError as exc:
        raise ImportError("HOG features need OpenCV: pip install 'opencv-python-headless>=4.8,<5'") from exc
    return cv2
