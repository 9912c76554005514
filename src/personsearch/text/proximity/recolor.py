"""Recolour a garment in a person crop: foreground pixels of the garment's body region whose
colour is close to the old colour word are moved to the new colour (HSV); every other pixel
is left untouched."""

from __future__ import annotations

import numpy as np
from PIL import Image

from personsearch.text.proximity.lexicon import REGIONS

# PIL HSV scale: hue 0..255 (circular), saturation and value 0..255.
HUES: dict[str, float] = {"red": 0, "orange": 18, "yellow": 40, "green": 85, "blue": 160, "purple": 195,
                          "pink": 232, "brown": 18}
ACHROMATIC = ("white", "grey")
_HUE_TOL = 16
_MIN_SAT = 70


def region_box(size: tuple[int, int], region: str) -> tuple[int, int, int, int]:
    """(x1, y1, x2, y2) pixels of a named body region in an image of size (w, h)."""
    w, h = size
    top, bottom, left, right = REGIONS[region]
    return int(left * w), int(top * h), int(np.ceil(right * w)), int(np.ceil(bottom * h))


def colour_mask(hsv: np.ndarray, colour: str) -> np.ndarray:
    """Pixels of an HSV array (uint8, PIL scale) that look like `colour`."""
    hue, sat, val = (hsv[..., i].astype(np.int32) for i in range(3))
    if colour == "white":
        return (sat < 45) & (val > 185)
    if colour == "grey":
        return (sat < 45) & (val > 70) & (val <= 185)
    dist = np.abs(hue - HUES[colour])
    dist = np.minimum(dist, 256 - dist)
    chromatic = (dist <= _HUE_TOL) & (sat >= _MIN_SAT) & (val > 40)
    if colour == "brown":
        return chromatic & (val < 150)
    if colour == "orange":
        return chromatic & (val >= 150)
    if colour == "pink":
        return (dist <= _HUE_TOL + 8) & (sat >= 40) & (val > 120)
    return chromatic


def shift_colour(hsv: np.ndarray, mask: np.ndarray, colour: str) -> np.ndarray:
    """Move the masked pixels to `colour`, keeping their shading."""
    out = hsv.copy()
    val = hsv[..., 2].astype(np.float32)
    if colour in ACHROMATIC:
        out[..., 1][mask] = 0
        new_val = 215 + 0.15 * val if colour == "white" else 70 + 0.45 * val
        out[..., 2][mask] = np.clip(new_val, 0, 255).astype(np.uint8)[mask]
        return out
    out[..., 0][mask] = HUES[colour]
    out[..., 1][mask] = np.maximum(hsv[..., 1], 140 if colour != "pink" else 90)[mask]
    if colour == "brown":
        out[..., 2][mask] = np.clip(0.45 * val + 30, 0, 140).astype(np.uint8)[mask]
    elif colour in ("orange", "yellow", "pink"):
        out[..., 2][mask] = np.clip(0.4 * val + 150, 0, 255).astype(np.uint8)[mask]
    else:
        out[..., 2][mask] = np.clip(0.6 * val + 60, 0, 235).astype(np.uint8)[mask]
    return out


def foreground_mask(rgb: np.ndarray, *, border: float = 0.1, threshold: float = 45.0) -> np.ndarray:
    """Pixels unlike the background of their row, estimated from the left and right image borders
    (person crops are centred), so background of the garment's colour is left alone."""
    w = rgb.shape[1]
    k = max(1, int(round(border * w)))
    edges = np.concatenate([rgb[:, :k], rgb[:, w - k:]], axis=1).astype(np.float32)
    background = np.median(edges, axis=1, keepdims=True)
    return np.linalg.norm(rgb.astype(np.float32) - background, axis=2) > threshold


def recolor_region(image: Image.Image, *, region: str, old_colour: str, new_colour: str,
                   min_fraction: float = 0.02) -> Image.Image | None:
    """The recoloured image, or None when under `min_fraction` of the region has the old colour."""
    rgb = image.convert("RGB")
    x1, y1, x2, y2 = region_box(rgb.size, region)
    hsv = np.asarray(rgb.convert("HSV")).copy()
    sub = hsv[y1:y2, x1:x2]
    mask = colour_mask(sub, old_colour) & foreground_mask(np.asarray(rgb))[y1:y2, x1:x2]
    if mask.size == 0 or mask.mean() < min_fraction:
        return None
    new_rgb = np.asarray(Image.fromarray(shift_colour(sub, mask, new_colour), mode="HSV").convert("RGB"))
    out = np.asarray(rgb).copy()
    patch = out[y1:y2, x1:x2]
    patch[mask] = new_rgb[mask]
    return Image.fromarray(out)
