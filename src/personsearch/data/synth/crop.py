"""Person images of the kind re-ID and text datasets hold: a tight box with a little context,
cut from the camera's scenery, at the camera's real resolution and look."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from personsearch.data.records import UNLABELLED
from personsearch.data.synth.camera import CameraProfile, apply_photometrics
from personsearch.data.synth.figure import render_figure
from personsearch.data.synth.identity import Identity, sample_identity
from personsearch.data.synth.types import VIEWPOINTS


@dataclass(frozen=True)
class CropLayout:
    """Everything random about one crop except the person's looks, drawn up front."""

    crop_height: int
    crop_width: int
    person_height: float
    foot_x: float
    foot_y: float
    phase: float
    region: tuple[float, float, float, float]  # background window in the camera frame
    downscale: float
    neighbour: bool  # another person partly in the crop
    neighbour_in_front: bool
    neighbour_x: float
    neighbour_view: str


def sample_crop_layout(camera: CameraProfile, background: Image.Image, height_range: tuple[int, int],
                       rng: np.random.Generator) -> CropLayout:
    low, high = height_range
    crop_height = int(round(math.exp(rng.uniform(math.log(low), math.log(high)))))
    aspect = float(rng.uniform(1 / 3.0, 1 / 2.4))
    crop_width = max(16, int(round(crop_height * aspect)))
    margin_top, margin_bottom = float(rng.uniform(0.02, 0.08)), float(rng.uniform(0.01, 0.05))
    person_height = crop_height / (1.0 + margin_top + margin_bottom)
    foot_x = crop_width / 2 + float(rng.normal(0.0, 0.04)) * crop_width
    foot_y = crop_height - margin_bottom * person_height
    # Where such a person would stand in this camera's frame: pick a ground row, take the window.
    bw, bh = background.size
    yh = camera.horizon * bh
    bg_person = float(rng.uniform(0.15, 0.6)) * bh
    bg_foot = camera.foot_y_for_height(bg_person)
    scale = bg_person / person_height
    win_h, win_w = crop_height * scale, crop_width * scale
    cx = float(rng.uniform(win_w / 2, max(win_w / 2 + 1, bw - win_w / 2)))
    top = min(bh - win_h, bg_foot + margin_bottom * bg_person - win_h) if bg_foot < bh else bh - win_h
    top = max(min(top, bh - win_h), yh - win_h * 0.9)
    region = (cx - win_w / 2, top, cx + win_w / 2, top + win_h)
    downscale = float(camera.crop_downscale * rng.uniform(0.8, 1.25))
    neighbour = bool(rng.random() < 0.22)
    neighbour_in_front = bool(rng.random() < 0.4)
    neighbour_x = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.45, 0.75) * crop_width)
    neighbour_view = VIEWPOINTS[int(rng.integers(4))]
    return CropLayout(crop_height, crop_width, person_height, foot_x, foot_y, float(rng.uniform(0, 2 * math.pi)),
                      region, downscale, neighbour, neighbour_in_front, neighbour_x, neighbour_view)


def render_crop_image(*, identity: Identity, viewpoint: str, camera: CameraProfile, background: Image.Image,
                      layout: CropLayout, rng: np.random.Generator, supersample: int) -> Image.Image:
    """Draw the crop. `rng` supplies the figure detail; it is consumed the same way for any colours."""
    w, h = layout.crop_width, layout.crop_height
    image = background.resize((w, h), Image.Resampling.BILINEAR, box=layout.region)
    figure_rng, neighbour_rng, photo_rng = rng.spawn(3)
    sprite = render_figure(identity, viewpoint, layout.phase, layout.person_height, figure_rng,
                           light=camera.light, supersample=supersample)
    layers = [(sprite.image, (int(round(layout.foot_x - sprite.foot[0])), int(round(layout.foot_y - sprite.foot[1]))))]
    if layout.neighbour:
        other = sample_identity(UNLABELLED, neighbour_rng)
        scale = 1.0 if layout.neighbour_in_front else 0.9
        nsprite = render_figure(other, layout.neighbour_view, layout.phase + 1.7, layout.person_height * scale,
                                neighbour_rng, light=camera.light, supersample=supersample)
        nx = layout.foot_x + layout.neighbour_x
        ny = layout.foot_y + (0.04 * h if layout.neighbour_in_front else -0.03 * h)
        entry = (nsprite.image, (int(round(nx - nsprite.foot[0])), int(round(ny - nsprite.foot[1]))))
        layers = layers + [entry] if layout.neighbour_in_front else [entry] + layers
    for sprite_image, offset in layers:
        image.paste(sprite_image, offset, sprite_image)
    if layout.downscale > 1.1:
        small = (max(8, int(w / layout.downscale)), max(16, int(h / layout.downscale)))
        image = image.resize(small, Image.Resampling.BILINEAR).resize((w, h), Image.Resampling.BILINEAR)
    return apply_photometrics(image, camera, photo_rng, blur_scale=0.7)
