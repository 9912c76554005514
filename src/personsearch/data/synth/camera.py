"""Cameras: where each one looks (scenery style, perspective) and its photometric character."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

from personsearch.data.synth.texture import sensor_noise, tile_window

STYLES = ("street", "plaza", "mall", "park")
# Lighting characters: per-channel gain (colour cast) and overall brightness.
LIGHTING = (
    ((1.14, 1.0, 0.76), 1.02),  # warm sodium / late sun
    ((0.84, 0.96, 1.18), 0.96),  # cool shade, overcast
    ((0.92, 1.08, 0.9), 1.0),  # fluorescent green tint
    ((1.0, 1.0, 1.0), 1.06),  # neutral daylight
    ((1.08, 0.9, 1.06), 0.9),  # magenta LED
    ((1.04, 1.02, 0.88), 0.78),  # dim tungsten
)


@dataclass(frozen=True)
class CameraProfile:
    index: int
    style: str  # one of STYLES
    size: tuple[int, int]  # width, height of its frames
    horizon: float  # horizon line as a fraction of the frame height
    vanishing_x: float  # vanishing point as a fraction of the frame width
    camera_height: float  # metres above the ground
    cast: tuple[float, float, float]
    brightness: float
    contrast: float
    gamma: float
    saturation: float
    blur: float  # Gaussian radius, pixels
    noise: float  # sensor noise standard deviation, grey levels
    jpeg_quality: int
    light: float  # horizontal light direction, -1..1
    crop_downscale: float  # how much lower than the crop size this camera really resolves people

    def person_height_px(self, foot_y: float, metres: float = 1.7) -> float:
        """Perspective: on a flat ground a person's image height grows linearly below the horizon."""
        return (foot_y - self.horizon * self.size[1]) * metres / self.camera_height

    def foot_y_for_height(self, height_px: float, metres: float = 1.7) -> float:
        return self.horizon * self.size[1] + height_px * self.camera_height / metres


def sample_camera(index: int, sizes: tuple[tuple[int, int], ...], lighting_slot: int, rng: np.random.Generator) -> CameraProfile:
    cast, brightness = LIGHTING[lighting_slot % len(LIGHTING)]
    tint = rng.normal(0.0, 0.03, size=3)
    return CameraProfile(
        index=index,
        style=STYLES[index % len(STYLES)] if index < len(STYLES) else STYLES[int(rng.integers(len(STYLES)))],
        size=sizes[int(rng.integers(len(sizes)))],
        horizon=float(rng.uniform(0.2, 0.4)),
        vanishing_x=float(rng.uniform(0.3, 0.7)),
        camera_height=float(rng.uniform(1.5, 2.6)),
        cast=tuple(float(c + t) for c, t in zip(cast, tint)),
        brightness=float(brightness * rng.uniform(0.93, 1.07)),
        contrast=float(rng.uniform(0.8, 1.15)),
        gamma=float(rng.uniform(0.85, 1.2)),
        saturation=float(rng.uniform(0.65, 1.1)),
        blur=float(rng.uniform(0.3, 1.2)),
        noise=float(rng.uniform(2.0, 7.0)),
        jpeg_quality=int(rng.integers(62, 93)),
        light=float(rng.uniform(-1.0, 1.0)),
        crop_downscale=float(rng.uniform(1.0, 2.6)),
    )


def _lut(camera: CameraProfile, exposure: float) -> list[int]:
    x = np.arange(256, dtype=np.float64) / 255.0
    table = []
    for gain in camera.cast:
        y = x * gain * camera.brightness * exposure
        y = (y - 0.5) * camera.contrast + 0.5
        y = np.clip(y, 0.0, 1.0) ** camera.gamma
        table.extend(np.clip(y * 255.0 + 0.5, 0, 255).astype(np.int64).tolist())
    return table


def apply_photometrics(image: Image.Image, camera: CameraProfile, rng: np.random.Generator,
                       blur_scale: float = 1.0) -> Image.Image:
    """The camera's look: colour cast, exposure (with a little per-frame drift), tone curve,
    desaturation, lens blur and sensor noise. JPEG compression is left to the writer."""
    exposure = float(rng.uniform(0.9, 1.1))
    offset_y, offset_x = (int(v) for v in rng.integers(0, 1 << 16, size=2))
    out = image.point(_lut(camera, exposure))
    radius = camera.blur * blur_scale
    if radius > 0.25:
        out = out.filter(ImageFilter.GaussianBlur(radius))
    arr = np.asarray(out).astype(np.float32)
    if camera.saturation != 1.0:
        grey = arr.mean(axis=2, keepdims=True)
        arr = grey + (arr - grey) * camera.saturation
    noise = sensor_noise()
    h, w = arr.shape[:2]
    if h <= noise.shape[0] and w <= noise.shape[1]:
        oy, ox = offset_y % (noise.shape[0] - h + 1), offset_x % (noise.shape[1] - w + 1)
        arr += noise[oy:oy + h, ox:ox + w] * camera.noise
    else:
        arr += tile_window(noise, h, w, offset_y, offset_x) * camera.noise
    return Image.fromarray(np.clip(arr + 0.5, 0, 255).astype(np.uint8), "RGB")
