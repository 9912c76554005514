"""Scene composition: people, statues and props on a camera's ground plane, drawn far to near,
with occlusion, truncation and ground shadows, then the camera's photometrics."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from personsearch.data.records import UNLABELLED
from personsearch.data.synth.annotation import border_verdict
from personsearch.data.synth.camera import CameraProfile, apply_photometrics
from personsearch.data.synth.figure import HEIGHT_FACTOR, render_figure
from personsearch.data.synth.identity import Identity, sample_identity
from personsearch.data.synth.schedule import ScenePlan
from personsearch.data.synth.scenery import PROP_HEIGHT_M, PROPS_BY_STYLE, render_prop
from personsearch.data.synth.types import VIEWPOINTS, Box, SynthPerson, SynthScene

STATUE_MATERIALS = ((150, 110, 70), (170, 168, 160), (225, 222, 215), (90, 95, 100))
MIN_PERSON_PX = 25.0


@dataclass
class _Entity:
    depth: float  # foot row: larger is nearer
    sprite: Image.Image
    offset: tuple[int, int]
    person: int = -1  # index into the person list, -1 for props
    shadow: tuple[float, float, float] | None = None  # foot x, foot y, width


@dataclass
class _PersonDraft:
    pid: int
    box: Box
    head_box: Box
    viewpoint: str


def _approx_box(x: float, y: float, h: float) -> Box:
    return (x - 0.2 * h, y - h, x + 0.2 * h, y)


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box."""
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return iw * ih / max(1e-6, smaller)


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    high = max(high, low * 1.01)
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


class _Layout:
    def __init__(self, camera: CameraProfile, rng: np.random.Generator) -> None:
        self.camera = camera
        self.rng = rng
        self.w, self.h = camera.size
        self.max_foot = 1.3 * self.h
        self.labelled_boxes: list[Box] = []

    def max_height(self, metres: float = 1.7) -> float:
        return self.camera.person_height_px(self.max_foot, metres)

    def place_person(self, labelled: bool) -> tuple[float, float, float]:
        low = 40.0 if labelled else MIN_PERSON_PX
        high = min(0.95 * self.h, self.max_height()) if labelled else min(0.6 * self.h, self.max_height())
        best = None
        for _ in range(8):
            height = _log_uniform(self.rng, low, high)
            # Feet may be past the border (truncation) but part of the body stays in the frame; a
            # labelled person's centre stays inside, so that at least half of the body is annotatable.
            reach = 0.0 if labelled else 0.15 * height
            x = float(self.rng.uniform(-reach, self.w + reach))
            y = self.camera.foot_y_for_height(height)
            box = _approx_box(x, y, height)
            if labelled:
                worst = max((_overlap(box, other) for other in self.labelled_boxes), default=0.0)
                ok = worst < 0.35
            else:
                ok = all(_overlap(box, other) < 0.5 or y < other[3] for other in self.labelled_boxes)
            best = (x, y, height)
            if ok:
                break
        if labelled:
            self.labelled_boxes.append(_approx_box(best[0], best[1], best[2]))
        return best

    def place_prop(self, metres: float, width_ratio: float) -> tuple[float, float, float]:
        yh = self.camera.horizon * self.h
        best = None
        for _ in range(5):
            y = float(self.rng.uniform(yh + 6, 1.12 * self.h))
            height = self.camera.person_height_px(y, metres)
            x = float(self.rng.uniform(-0.05, 1.05) * self.w)
            box = (x - height * width_ratio / 2, y - height, x + height * width_ratio / 2, y)
            best = (x, y, height)
            if all(_overlap(box, other) < 0.45 or y < other[3] for other in self.labelled_boxes):
                break
        return best


def _paste_shadow(image: Image.Image, x: float, y: float, width: float) -> None:
    rw, rh = max(2.0, width * 0.5), max(1.0, width * 0.12)
    size = (int(rw * 2 + 6), int(rh * 2 + 6))
    mask = Image.new("L", size, 0)
    ImageDraw.Draw(mask).ellipse([3, 3, size[0] - 3, size[1] - 3], fill=90)
    mask = mask.filter(ImageFilter.BoxBlur(max(1.0, rh * 0.6)))
    image.paste((20, 20, 25), (int(x - size[0] / 2), int(y - size[1] / 2)), mask)


def render_scene(*, plan: ScenePlan, camera: CameraProfile, background: Image.Image,
                 identity_of: Callable[[int], Identity], rng: np.random.Generator,
                 supersample: int) -> SynthScene:
    layout = _Layout(camera, rng)
    image = background.copy()
    entities: list[_Entity] = []
    drafts: list[_PersonDraft] = []

    people = [(pid, identity_of(pid)) for pid in plan.pids]
    people += [(UNLABELLED, sample_identity(UNLABELLED, rng)) for _ in range(plan.num_unlabelled)]
    for pid, identity in people:
        x, y, height = layout.place_person(labelled=pid != UNLABELLED)
        viewpoint = VIEWPOINTS[int(rng.integers(4))]
        sprite = render_figure(identity, viewpoint, float(rng.uniform(0, 2 * math.pi)),
                               height * HEIGHT_FACTOR[identity.attributes["height"]], rng,
                               light=camera.light, supersample=supersample)
        ox, oy = int(round(x - sprite.foot[0])), int(round(y - sprite.foot[1]))
        bx = sprite.body_box
        box = (bx[0] + ox, bx[1] + oy, bx[2] + ox, bx[3] + oy)
        hb = sprite.head_box
        drafts.append(_PersonDraft(pid, box, (hb[0] + ox, hb[1] + oy, hb[2] + ox, hb[3] + oy), viewpoint))
        entities.append(_Entity(y, sprite.image, (ox, oy), person=len(drafts) - 1, shadow=(x, y, box[2] - box[0])))

    kinds = PROPS_BY_STYLE[camera.style]
    for _ in range(int(rng.integers(2, 7))):
        kind = kinds[int(rng.integers(len(kinds)))]
        x, y, height = layout.place_prop(PROP_HEIGHT_M[kind], 0.5)
        if height < 4:
            continue
        sprite = render_prop(kind, height, rng, supersample)
        entities.append(_Entity(y, sprite, (int(round(x - sprite.width / 2)), int(round(y - sprite.height)))))
    if rng.random() < 0.55:
        entities.extend(_statue(camera, layout, rng, supersample))

    entities.sort(key=lambda e: e.depth)
    w, h = camera.size
    owner = np.full((h, w), -1, dtype=np.int32)
    in_frame = np.zeros(len(drafts), dtype=np.int64)
    for k, entity in enumerate(entities):
        if entity.shadow is not None:
            _paste_shadow(image, *entity.shadow)
        image.paste(entity.sprite, entity.offset, entity.sprite)
        ox, oy = entity.offset
        alpha = np.asarray(entity.sprite.getchannel("A")) > 110
        x0, y0 = max(0, ox), max(0, oy)
        x1, y1 = min(w, ox + alpha.shape[1]), min(h, oy + alpha.shape[0])
        if x1 <= x0 or y1 <= y0:
            continue
        mask = alpha[y0 - oy:y1 - oy, x0 - ox:x1 - ox]
        owner[y0:y1, x0:x1][mask] = k
        if entity.person >= 0:
            in_frame[entity.person] = int(mask.sum())

    person_entity = {e.person: k for k, e in enumerate(entities) if e.person >= 0}
    persons = []
    for index, draft in enumerate(drafts):
        k = person_entity[index]
        x0, y0 = min(w, max(0, math.floor(draft.box[0]))), min(h, max(0, math.floor(draft.box[1])))
        x1, y1 = min(w, max(0, math.ceil(draft.box[2]))), min(h, max(0, math.ceil(draft.box[3])))
        region = owner[y0:y1, x0:x1] == k if (x1 > x0 and y1 > y0) else np.zeros((0, 0), bool)
        visible = int(region.sum())
        if visible:
            ys, xs = np.nonzero(region)
            visible_box = (float(x0 + xs.min()), float(y0 + ys.min()), float(x0 + xs.max() + 1), float(y0 + ys.max() + 1))
        else:
            visible_box = (float(x0), float(y0), float(x0), float(y0))
        box = draft.box
        verdict = border_verdict(box, w, h)
        if verdict == "left out":
            continue
        truncated = box[0] < -1 or box[1] < -1 or box[2] > w + 1 or box[3] > h + 1
        persons.append(SynthPerson(
            pid=draft.pid if verdict == "labelled" else UNLABELLED, box=tuple(float(v) for v in box), visible_box=visible_box,
            head_box=tuple(float(v) for v in draft.head_box), viewpoint=draft.viewpoint,
            occlusion=float(1.0 - visible / in_frame[index]) if in_frame[index] else 1.0, truncated=bool(truncated),
        ))
    image = apply_photometrics(image, camera, rng)
    return SynthScene(index=plan.index, camera=plan.camera, sequence=plan.sequence, frame=plan.frame,
                      split=plan.split, image=image, people=persons, jpeg_quality=camera.jpeg_quality)


def _statue(camera: CameraProfile, layout: _Layout, rng: np.random.Generator, supersample: int) -> list[_Entity]:
    """A person-shaped distractor: a mannequin standing on the floor indoors, a statue on a pedestal outside."""
    material = STATUE_MATERIALS[int(rng.integers(len(STATUE_MATERIALS)))]
    figure_identity = sample_identity(UNLABELLED, rng)
    x, y, height = layout.place_prop(1.75, 0.4)
    if height < MIN_PERSON_PX:
        return []
    indoor = camera.style == "mall"
    pedestal_px = 0.0 if indoor else camera.person_height_px(y, PROP_HEIGHT_M["pedestal"])
    sprite = render_figure(figure_identity, VIEWPOINTS[int(rng.integers(4))], 0.0, height, rng,
                           light=camera.light, supersample=supersample, material=material)
    out = [_Entity(y, sprite.image, (int(round(x - sprite.foot[0])), int(round(y - pedestal_px - sprite.foot[1]))))]
    if not indoor:
        base = render_prop("pedestal", pedestal_px, rng, supersample)
        out.insert(0, _Entity(y - 0.01, base, (int(round(x - base.width / 2)), int(round(y - base.height)))))
    return out
