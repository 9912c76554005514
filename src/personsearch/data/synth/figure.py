"""Articulated person figures: head, torso, arms and legs with joints, in a walking pose.

Drawn with PIL at `supersample` times the output size and reduced (anti-aliasing),
with two-tone limbs, a light gradient and cloth texture. Items the viewpoint hides
are not drawn (see visibility.py). All random draws happen up front in a fixed order,
so changing a colour re-renders exactly the same figure in another colour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from personsearch.data.synth.identity import NONE, Identity
from personsearch.data.synth.palette import RGB
from personsearch.data.synth.texture import cloth_noise, tile_window
from personsearch.data.synth.types import Box
from personsearch.data.synth.visibility import CARRY_HAND, bag_visible, carried_visible, near_side

HEIGHT_FACTOR = {"short": 0.93, "average": 1.0, "tall": 1.07}
BUILD_WIDTH = {"slim": 0.86, "average": 1.0, "heavy": 1.2}
HEM = {"t-shirt": 0.5, "tank top": 0.49, "shirt": 0.51, "sweater": 0.515, "hoodie": 0.52, "jacket": 0.525, "coat": 0.7}
STRAP = (38, 38, 40)
MARGIN_TOP = 0.06
CANVAS_WIDTH = 0.66


@dataclass(frozen=True)
class FigureSprite:
    image: Image.Image  # RGBA, output size
    foot: tuple[float, float]  # ground contact point, sprite pixels
    body_box: Box  # full-body box (alpha extent), sprite pixels
    head_box: Box


def _scale(c: RGB, f: float) -> RGB:
    return (min(255, int(c[0] * f)), min(255, int(c[1] * f)), min(255, int(c[2] * f)))


@dataclass(frozen=True)
class _Palette:
    skin: RGB
    hair: RGB
    upper: RGB
    pattern: RGB
    lower: RGB
    shoes: RGB
    bag: RGB
    headwear: RGB


def _palette(identity: Identity, material: RGB | None) -> _Palette:
    if material is not None:
        return _Palette(*(material,) * 8)
    a = identity.attributes

    def colour(name: str) -> RGB:
        return identity.rgb(name) if a[name] != NONE else (0, 0, 0)

    return _Palette(
        skin=identity.rgb("skin_tone"), hair=identity.rgb("hair_color"), upper=colour("upper_color"),
        pattern=colour("pattern_color"), lower=colour("lower_color"), shoes=colour("shoes_color"),
        bag=colour("bag_color"), headwear=colour("headwear_color"),
    )


class _Canvas:
    """Drawing in body units: x across (0 = body centre), y down (0 = top of head, 1 = soles)."""

    def __init__(self, height_px: float, supersample: int, light: float) -> None:
        self.u = height_px * supersample
        self.width = int(math.ceil(self.u * CANVAS_WIDTH)) + 2 * supersample
        self.height = int(math.ceil(self.u * (1.0 + MARGIN_TOP + 0.03))) + 2 * supersample
        self.width += (-self.width) % supersample
        self.height += (-self.height) % supersample
        self.cx = self.width / 2
        self.y0 = MARGIN_TOP * self.u
        self.light = light
        self.image = Image.new("RGBA", (self.width, self.height), (0, 0, 0, 0))
        self.draw = ImageDraw.Draw(self.image)

    def p(self, x: float, y: float) -> tuple[float, float]:
        return (self.cx + x * self.u, self.y0 + y * self.u)

    def poly(self, points: list[tuple[float, float]], fill: RGB) -> None:
        self.draw.polygon([self.p(x, y) for x, y in points], fill=fill)

    def ellipse(self, x: float, y: float, rx: float, ry: float, fill: RGB) -> None:
        (x0, y0), (x1, y1) = self.p(x - rx, y - ry), self.p(x + rx, y + ry)
        self.draw.ellipse([x0, y0, max(x1, x0 + 1), max(y1, y0 + 1)], fill=fill)

    def rect(self, x0: float, y0: float, x1: float, y1: float, fill: RGB, radius: float = 0.0) -> None:
        a, b = self.p(x0, y0), self.p(x1, y1)
        box = [min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0], min(a[0], b[0]) + 1), max(a[1], b[1], min(a[1], b[1]) + 1)]
        self.draw.rounded_rectangle(box, radius=radius * self.u, fill=fill)

    def capsule(self, a: tuple[float, float], b: tuple[float, float], w: float, fill: RGB) -> None:
        pa, pb = self.p(*a), self.p(*b)
        width = max(1, int(round(w * self.u)))
        self.draw.line([pa, pb], fill=fill, width=width)
        r = width / 2
        for px, py in (pa, pb):
            self.draw.ellipse([px - r, py - r, px + r, py + r], fill=fill)

    def limb(self, a: tuple[float, float], b: tuple[float, float], w: float, fill: RGB) -> None:
        """A limb segment shaded like a cylinder: dark rim, lit core shifted toward the light."""
        self.capsule(a, b, w, _scale(fill, 0.72))
        shift = 0.16 * w * self.light
        self.capsule((a[0] + shift, a[1]), (b[0] + shift, b[1]), w * 0.6, fill)


def _pattern_layer(size: tuple[int, int], base: RGB, colour: RGB, pattern: str, period: float, offset: int) -> Image.Image:
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    yy = yy + offset
    xx = xx + offset // 2
    p = max(3, int(period))
    if pattern == "stripes":
        mask = (yy % p) < max(1, p * 0.42)
    elif pattern == "checks":
        q = 2 * p
        mask = ((yy % q) < p * 0.5) | ((xx % q) < p * 0.5)
    else:  # dots
        q = int(p * 1.3)
        cy = (yy % q) - q / 2
        cx = ((xx + (yy // q) * (q // 2)) % q) - q / 2
        mask = cy * cy + cx * cx < (q * 0.22) ** 2
    out = np.empty((h, w, 3), dtype=np.uint8)
    out[:] = base
    out[mask] = colour
    return Image.fromarray(out, "RGB")


class _FigureDrawer:
    def __init__(self, identity: Identity, viewpoint: str, phase: float, canvas: _Canvas,
                 palette: _Palette, draws: np.ndarray, material: bool) -> None:
        self.a = identity.attributes
        self.view = viewpoint
        self.phase = phase
        self.c = canvas
        self.col = palette
        self.r = draws
        self.material = material
        self.b = BUILD_WIDTH[self.a["build"]]
        self.hem = HEM[self.a["upper_type"]]
        self.is_side = viewpoint in ("left", "right")
        self.near = near_side(viewpoint)
        self.woman = self.a["gender"] == "woman"
        self.sole = 0.99

    # Which image side (-1 / +1) a body side is on, in the front and back views.
    def side_x(self, side: str) -> float:
        if self.view == "front":
            return 1.0 if side == "left" else -1.0
        return -1.0 if side == "left" else 1.0

    def draw(self) -> None:
        if self.is_side:
            self.draw_side()
        else:
            self.draw_front_back()

    # ---- front / back -------------------------------------------------------------------------
    def draw_front_back(self) -> None:
        a, c, b = self.a, self.c, self.b
        back = self.view == "back"
        self.hair_behind()
        swing = math.sin(self.phase)
        for side in ("left", "right"):
            sx = self.side_x(side)
            lift = 0.028 * max(0.0, swing if side == "left" else -swing)
            hip = (sx * 0.047 * b, 0.5)
            knee = (sx * 0.05 * b, 0.725 - lift * 0.5)
            ankle = (sx * 0.05 * b, 0.945 - lift)
            self.leg(hip, knee, ankle)
        self.pelvis()
        self.torso_front_back()
        if a["bag"] == "backpack" and not back:
            for sx in (-1, 1):
                c.poly([(sx * 0.05 * b, 0.165), (sx * 0.075 * b, 0.165), (sx * 0.08 * b, 0.34), (sx * 0.062 * b, 0.34)], STRAP)
        if a["bag"] == "shoulder bag":
            self.shoulder_bag_front_back()
        if a["bag"] == "backpack" and back:
            self.backpack_back()
        wrists = {}
        for side in ("left", "right"):
            sx = self.side_x(side)
            arm_swing = 0.018 * abs(swing)
            shoulder = (sx * (0.112 * b - 0.022), 0.19)
            elbow = (sx * (0.118 * b + 0.006), 0.335 - arm_swing * 0.5)
            wrist = (sx * (0.116 * b + 0.004), 0.47 - arm_swing)
            self.arm(shoulder, elbow, wrist)
            wrists[side] = wrist
        if a["bag"] == "handbag":
            self.handbag(wrists[a["bag_side"]], self.side_x(a["bag_side"]))
        self.head_front_back(back)
        if carried_visible(a, self.view):
            self.carried(wrists[CARRY_HAND], self.side_x(CARRY_HAND))

    def hair_behind(self) -> None:
        style, c = self.a["hair_style"], self.c
        hair = self.col.hair
        if style == "long":
            c.poly([(-0.055, 0.05), (0.055, 0.05), (0.07, 0.25), (-0.07, 0.25)], _scale(hair, 0.85))
        if style == "ponytail" and self.view == "back":
            c.limb((0.0, 0.08), (0.0, 0.2), 0.03, hair)
        if style == "bun":
            c.ellipse(0.0, 0.0, 0.03, 0.026, hair)

    def leg(self, hip, knee, ankle) -> None:
        a, c, col, b = self.a, self.c, self.col, self.b
        lower = a["lower_type"]
        covered = lower in ("trousers", "jeans")
        thigh_col = col.lower if lower != "skirt" else col.skin
        c.limb(hip, knee, 0.074 * b, thigh_col if (covered or lower == "shorts") else col.skin)
        if lower == "shorts":
            mid = (hip[0] + (knee[0] - hip[0]) * 0.55, hip[1] + (knee[1] - hip[1]) * 0.55)
            c.limb(mid, knee, 0.062 * b, col.skin)
        c.limb(knee, ankle, 0.058 * b, col.lower if covered else col.skin)
        self.shoe(ankle, 0.0, side_view=False)

    def shoe(self, ankle, direction: float, side_view: bool) -> None:
        a, c, col = self.a, self.c, self.col
        kind = a["shoes_type"]
        x, y = ankle
        if kind == "boots":
            c.rect(x - 0.03, y - 0.06, x + 0.03, y + 0.01, col.shoes, radius=0.01)
        if side_view:
            toe = x + direction * 0.06
            heel = x - direction * 0.02
            pts = [(heel, y - 0.012), (x + direction * 0.02, y - 0.015), (toe, y + 0.03), (toe, y + 0.045), (heel, y + 0.045)]
            if kind == "sandals":
                c.poly(pts, col.skin)
                c.rect(min(heel, toe), y + 0.036, max(heel, toe), y + 0.045, col.shoes)
                c.rect(x - 0.012, y + 0.005, x + 0.012, y + 0.02, col.shoes)
            else:
                c.poly(pts, col.shoes)
                c.rect(min(heel, toe), y + 0.038, max(heel, toe), y + 0.045, _scale(col.shoes, 0.6))
            self.sole = max(self.sole, y + 0.045)
            return
        if kind == "sandals":
            c.ellipse(x, y + 0.025, 0.026, 0.022, col.skin)
            c.rect(x - 0.026, y + 0.02, x + 0.026, y + 0.032, col.shoes)
        else:
            c.ellipse(x, y + 0.025, 0.03, 0.022, col.shoes)
            c.rect(x - 0.028, y + 0.035, x + 0.028, y + 0.045, _scale(col.shoes, 0.6), radius=0.005)

    def pelvis(self) -> None:
        a, c, col, b = self.a, self.c, self.col, self.b
        lower = a["lower_type"]
        hw = 0.097 * b
        if lower == "skirt":
            c.poly([(-hw, 0.46), (hw, 0.46), (hw * 1.38, 0.68), (-hw * 1.38, 0.68)], col.lower)
            c.poly([(-hw * 0.5, 0.47), (hw * 0.5, 0.47), (hw * 0.7, 0.675), (-hw * 0.7, 0.675)], _scale(col.lower, 1.08))
        else:
            c.poly([(-hw, 0.46), (hw, 0.46), (hw, 0.555), (0.0, 0.585), (-hw, 0.555)], col.lower)

    def torso_points_front(self) -> list[tuple[float, float]]:
        b, hem = self.b, self.hem
        sh, waist = 0.114 * b, 0.086 * b
        hip = 0.1 * b if self.a["upper_type"] != "coat" else 0.118 * b
        return [(-0.035, 0.152), (0.035, 0.152), (sh, 0.172), (sh * 0.97, 0.25), (waist, 0.42), (hip, hem),
                (-hip, hem), (-waist, 0.42), (-sh * 0.97, 0.25), (-sh, 0.172)]

    def fill_upper(self, points: list[tuple[float, float]], allow_print: bool) -> None:
        a, c, col = self.a, self.c, self.col
        c.poly(points, col.upper)
        pattern = a["upper_pattern"]
        if pattern in ("stripes", "checks", "dots") and not self.material:
            mask = Image.new("L", (c.width, c.height), 0)
            ImageDraw.Draw(mask).polygon([c.p(x, y) for x, y in points], fill=255)
            box = mask.getbbox()
            if box:
                size = (box[2] - box[0], box[3] - box[1])
                layer = _pattern_layer(size, col.upper, col.pattern, pattern, 0.034 * c.u, int(self.r[0] * 97))
                c.image.paste(layer, box[:2], mask.crop(box))
        if pattern == "print" and allow_print and not self.material:
            self.chest_print()

    def chest_print(self) -> None:
        c, col = self.c, self.col
        kind = int(self.r[1] * 4)
        x, y, s = 0.0, 0.29, 0.045 * self.b
        if kind == 0:
            c.ellipse(x, y, s, s, col.pattern)
            c.ellipse(x, y, s * 0.5, s * 0.5, col.upper)
        elif kind == 1:
            pts = []
            for k in range(10):
                ang = -math.pi / 2 + k * math.pi / 5
                rr = s if k % 2 == 0 else s * 0.45
                pts.append((x + rr * math.cos(ang), y + rr * math.sin(ang)))
            c.poly(pts, col.pattern)
        elif kind == 2:
            c.rect(x - s, y - s * 0.8, x + s, y + s * 0.8, col.pattern)
            for k in range(3):
                c.rect(x - s * 0.7, y - s * 0.5 + k * s * 0.4, x + s * 0.7, y - s * 0.35 + k * s * 0.4, col.upper)
        else:
            c.poly([(x, y - s), (x + s, y + s * 0.8), (x - s, y + s * 0.8)], col.pattern)

    def torso_front_back(self) -> None:
        a, c, col, b = self.a, self.c, self.col, self.b
        back = self.view == "back"
        c.capsule((0.0, 0.12), (0.0, 0.17), 0.045, col.skin)
        self.fill_upper(self.torso_points_front(), allow_print=not back)
        kind = a["upper_type"]
        if kind in ("jacket", "coat") and not back:
            c.rect(-0.004, 0.16, 0.004, self.hem, _scale(col.upper, 0.6))
        if kind == "shirt" and not back:
            c.poly([(-0.035, 0.152), (0.0, 0.2), (0.035, 0.152), (0.045, 0.17), (0.0, 0.22), (-0.045, 0.17)], _scale(col.upper, 1.12))
        if kind == "hoodie":
            hood = _scale(col.upper, 0.85)
            if back:
                c.poly([(-0.07, 0.13), (0.07, 0.13), (0.05, 0.24), (-0.05, 0.24)], hood)
            else:
                c.rect(-0.05, 0.145, 0.05, 0.17, hood, radius=0.01)
                c.rect(-0.025, 0.17, -0.02, 0.25, _scale(col.upper, 1.2))
                c.rect(0.02, 0.17, 0.025, 0.25, _scale(col.upper, 1.2))
        # Side shading bands make the torso read as a volume.
        sh = 0.114 * b
        shade_side = -1 if self.c.light > 0 else 1
        c.poly([(shade_side * sh, 0.175), (shade_side * sh * 0.82, 0.175), (shade_side * 0.078 * b, 0.42),
                (shade_side * 0.088 * b, 0.42)], _scale(col.upper, 0.8))

    def arm(self, shoulder, elbow, wrist) -> None:
        a, c, col, b = self.a, self.c, self.col, self.b
        sleeve = a["sleeve"]
        upper_w, fore_w = 0.05 * b, 0.042 * b
        if sleeve == "long":
            c.limb(shoulder, elbow, upper_w, col.upper)
            c.limb(elbow, wrist, fore_w, col.upper)
        elif sleeve == "short":
            mid = (shoulder[0] + (elbow[0] - shoulder[0]) * 0.55, shoulder[1] + (elbow[1] - shoulder[1]) * 0.55)
            c.limb(mid, elbow, upper_w * 0.85, col.skin)
            c.limb(elbow, wrist, fore_w * 0.9, col.skin)
            c.limb(shoulder, mid, upper_w * 1.08, col.upper)
        else:
            c.limb(shoulder, elbow, upper_w * 0.85, col.skin)
            c.limb(elbow, wrist, fore_w * 0.9, col.skin)
        c.ellipse(wrist[0], wrist[1] + 0.022, 0.022, 0.026, col.skin)

    def head_front_back(self, back: bool) -> None:
        a, c, col = self.a, self.c, self.col
        style = a["hair_style"]
        hw = 0.05 * (1.06 if a["build"] == "heavy" else 1.0)
        c.ellipse(-hw, 0.07, 0.009, 0.016, _scale(col.skin, 0.9))
        c.ellipse(hw, 0.07, 0.009, 0.016, _scale(col.skin, 0.9))
        c.ellipse(0.0, 0.066, hw, 0.066, col.skin)
        hair = col.hair
        if not self.material:
            if back:
                if style != "bald":
                    top = 0.0 if style != "buzz" else 0.004
                    bottom = 0.115 if style in ("long", "curly") else 0.1
                    c.poly([(-hw, 0.05), (-hw * 0.95, bottom), (hw * 0.95, bottom), (hw, 0.05)], hair)
                    c.ellipse(0.0, 0.05, hw * 1.03, 0.05 - top, hair)
                    if style == "bun":
                        c.ellipse(0.0, 0.035, 0.026, 0.022, _scale(hair, 0.85))
            else:
                c.ellipse(-0.018, 0.072, 0.006, 0.004, (35, 30, 30))
                c.ellipse(0.018, 0.072, 0.006, 0.004, (35, 30, 30))
                c.rect(-0.012, 0.104, 0.012, 0.108, _scale(col.skin, 0.7))
                if style not in ("bald",):
                    depth = 0.032 if style != "buzz" else 0.022
                    c.draw.chord([*c.p(-hw * 1.04, -0.002), *c.p(hw * 1.04, depth * 2 + 0.01)], 180, 360, fill=hair)
                    if style in ("long", "curly"):
                        c.rect(-hw * 1.05, 0.03, -hw * 0.8, 0.11, hair)
                        c.rect(hw * 0.8, 0.03, hw * 1.05, 0.11, hair)
                    if style == "curly":
                        for k in range(5):
                            c.ellipse(-hw + k * hw * 0.5, 0.005, 0.016, 0.014, _scale(hair, 1.1))
        self.headwear(hw, facing=0.0, back=back)
        if a["glasses"] != NONE and not back and not self.material:
            frame = (25, 25, 28)
            lens = (30, 30, 35) if a["glasses"] == "sunglasses" else _scale(col.skin, 1.05)
            for sx in (-1, 1):
                c.rect(sx * 0.018 - 0.012, 0.063, sx * 0.018 + 0.012, 0.081, frame, radius=0.003)
                c.rect(sx * 0.018 - 0.008, 0.066, sx * 0.018 + 0.008, 0.078, lens)
            c.rect(-0.006, 0.068, 0.006, 0.071, frame)

    def headwear(self, hw: float, facing: float, back: bool) -> None:
        """`facing`: -1 when the face points to image left (side views), 0 in front/back views."""
        kind, c = self.a["headwear"], self.c
        if kind == NONE or self.material:
            return
        col = self.col.headwear
        if kind == "cap":
            c.draw.chord([*c.p(-hw * 1.08, -0.01), *c.p(hw * 1.08, 0.09)], 180, 360, fill=col)
            if facing:
                c.poly([(facing * hw * 0.6, 0.03), (facing * (hw + 0.045), 0.035), (facing * (hw + 0.045), 0.045),
                        (facing * hw * 0.6, 0.045)], _scale(col, 0.8))
            elif not back:
                c.ellipse(0.0, 0.043, hw * 1.1, 0.012, _scale(col, 0.8))
        elif kind == "beanie":
            c.draw.chord([*c.p(-hw * 1.1, -0.016), *c.p(hw * 1.1, 0.11)], 180, 360, fill=col)
            c.rect(-hw * 1.1, 0.04, hw * 1.1, 0.058, _scale(col, 0.85), radius=0.006)
        else:
            c.ellipse(0.0, 0.035, hw * 2.0, 0.014, _scale(col, 0.85))
            c.rect(-hw * 0.95, -0.02, hw * 0.95, 0.035, col, radius=0.014)
            c.rect(-hw * 0.95, 0.02, hw * 0.95, 0.03, _scale(col, 0.6))

    def shoulder_bag_front_back(self) -> None:
        a, c, col, b = self.a, self.c, self.col, self.b
        sx = self.side_x(a["bag_side"])
        x = sx * (0.118 * b + 0.01)
        c.capsule((sx * 0.07 * b, 0.17), (x, 0.45), 0.012, _scale(col.bag, 0.75))
        c.rect(x - 0.045, 0.44, x + 0.045, 0.55, col.bag, radius=0.01)
        c.rect(x - 0.045, 0.44, x + 0.045, 0.47, _scale(col.bag, 0.8), radius=0.006)

    def backpack_back(self) -> None:
        c, col, b = self.c, self.col, self.b
        c.rect(-0.085 * b, 0.185, 0.085 * b, 0.43, col.bag, radius=0.025)
        c.rect(-0.065 * b, 0.33, 0.065 * b, 0.41, _scale(col.bag, 0.82), radius=0.015)
        c.rect(-0.05 * b, 0.2, 0.05 * b, 0.212, _scale(col.bag, 1.15))

    def handbag(self, wrist, sx: float) -> None:
        c, col = self.c, self.col
        x, y = wrist[0] + sx * 0.01, wrist[1] + 0.04
        c.draw.arc([*c.p(x - 0.025, y - 0.035), *c.p(x + 0.025, y + 0.02)], 180, 360, fill=_scale(col.bag, 0.7),
                   width=max(1, int(0.008 * c.u)))
        c.rect(x - 0.045, y, x + 0.045, y + 0.08, col.bag, radius=0.012)
        c.rect(x - 0.045, y, x + 0.045, y + 0.018, _scale(col.bag, 0.8), radius=0.006)

    def carried(self, wrist, sx: float) -> None:
        kind, c = self.a["carried"], self.c
        x, y = wrist[0] + sx * 0.008, wrist[1] + 0.02
        if kind == "phone":
            c.rect(x - 0.01, y - 0.03, x + 0.01, y + 0.005, (25, 25, 30), radius=0.003)
        elif kind == "cup":
            c.rect(x - 0.014, y - 0.025, x + 0.014, y + 0.012, (235, 232, 225), radius=0.003)
            c.rect(x - 0.015, y - 0.03, x + 0.015, y - 0.022, (60, 40, 30))
        elif kind == "umbrella":
            c.capsule((x, y - 0.02), (x + sx * 0.02, 0.97), 0.022, (40, 42, 60))
            c.capsule((x, y - 0.02), (x, y + 0.01), 0.012, (90, 60, 40))
        elif kind == "shopping bag":
            c.rect(x - 0.04, y + 0.03, x + 0.04, y + 0.13, (190, 150, 100))
            c.draw.line([c.p(x - 0.02, y + 0.03), c.p(x, y), c.p(x + 0.02, y + 0.03)], fill=(120, 90, 60),
                        width=max(1, int(0.006 * c.u)))
        elif kind == "book":
            c.rect(x - 0.012, y - 0.03, x + 0.012, y + 0.04, (140, 40, 40))

    # ---- side views (drawn facing image left; the "right" view is mirrored afterwards) ---------
    def draw_side(self) -> None:
        a, c, col, b = self.a, self.c, self.col, self.b
        # After mirroring, the person's own right is the near side of a "right" view.
        near = self.near
        far = "right" if near == "left" else "left"
        amp = 0.42 + 0.1 * self.r[2]
        legs = {}
        arms = {}
        for side, sign in ((near, 1.0), (far, -1.0)):
            leg_phase = self.phase if sign > 0 else self.phase + math.pi
            theta = amp * math.sin(leg_phase)
            bend = 0.12 + 0.4 * max(0.0, -math.sin(leg_phase + 0.6))
            hip = (0.0, 0.5)
            knee = (hip[0] - 0.235 * math.sin(theta), hip[1] + 0.235 * math.cos(theta))
            shin = theta - bend
            ankle = (knee[0] - 0.225 * math.sin(shin), knee[1] + 0.225 * math.cos(shin))
            legs[side] = (hip, knee, ankle)
            alpha = -0.7 * amp * math.sin(leg_phase)
            shoulder = (0.005, 0.19)
            elbow = (shoulder[0] - 0.15 * math.sin(alpha), shoulder[1] + 0.15 * math.cos(alpha))
            fore = alpha + 0.3
            wrist = (elbow[0] - 0.135 * math.sin(fore), elbow[1] + 0.135 * math.cos(fore))
            arms[side] = (shoulder, elbow, wrist)
        # The lowest foot stands on the ground line.
        lowest = max(legs[near][2][1], legs[far][2][1])
        dy = 0.945 - lowest
        legs = {k: tuple((x, y + dy) if i > 0 else (x, y) for i, (x, y) in enumerate(v)) for k, v in legs.items()}

        if a["hair_style"] == "long":
            c.poly([(0.0, 0.03), (0.05, 0.05), (0.06, 0.24), (0.01, 0.24)], _scale(col.hair, 0.85))
        self.arm_side(*arms[far], darker=True)
        self.leg_side(*legs[far], darker=True)
        if a["lower_type"] == "skirt":
            c.poly([(-0.06 * b, 0.46), (0.065 * b, 0.46), (0.1 * b, 0.68), (-0.1 * b, 0.68)], _scale(col.lower, 0.85))
        self.leg_side(*legs[near], darker=False)
        hw_front, hw_back = 0.062 * b, 0.062 * b
        if a["lower_type"] == "skirt":
            c.poly([(-hw_front, 0.46), (hw_back, 0.46), (0.1 * b, 0.68), (-0.1 * b, 0.68)], col.lower)
        else:
            c.poly([(-hw_front, 0.46), (hw_back, 0.46), (hw_back, 0.56), (-hw_front, 0.56)], col.lower)
        c.capsule((0.005, 0.12), (0.01, 0.17), 0.04, col.skin)
        hem = self.hem
        chest = 0.075 * b if self.woman else 0.068 * b
        hem_w = 0.075 * b if a["upper_type"] == "coat" else 0.064 * b
        self.fill_upper([(-0.02, 0.152), (0.03, 0.152), (0.06 * b, 0.18), (0.052 * b, 0.42), (hem_w, hem),
                         (-hem_w, hem), (-0.056 * b, 0.42), (-chest, 0.27), (-0.05 * b, 0.18)], allow_print=False)
        if a["upper_type"] == "hoodie":
            c.poly([(0.01, 0.13), (0.06, 0.15), (0.065, 0.23), (0.03, 0.2)], _scale(col.upper, 0.85))
        if a["bag"] == "backpack":
            c.rect(0.048 * b, 0.19, 0.048 * b + 0.07, 0.42, col.bag, radius=0.02)
            c.rect(0.048 * b + 0.045, 0.26, 0.048 * b + 0.072, 0.4, _scale(col.bag, 0.8), radius=0.01)
            c.capsule((-0.01, 0.17), (0.02, 0.33), 0.016, STRAP)
        if a["bag"] == "shoulder bag" and bag_visible(a, self.view):
            c.capsule((0.0, 0.17), (-0.02, 0.45), 0.012, _scale(col.bag, 0.75))
            c.rect(-0.05, 0.44, 0.05, 0.55, col.bag, radius=0.01)
            c.rect(-0.05, 0.44, 0.05, 0.47, _scale(col.bag, 0.8), radius=0.006)
        shoulder, elbow, wrist = arms[near]
        self.arm_side(shoulder, elbow, wrist, darker=False)
        if a["bag"] == "handbag" and bag_visible(a, self.view):
            self.handbag(wrist, -1.0)
        self.head_side()
        if carried_visible(a, self.view):
            self.carried(wrist, -1.0)

    def leg_side(self, hip, knee, ankle, darker: bool) -> None:
        a, c, b = self.a, self.c, self.b
        col = self.col
        f = 0.8 if darker else 1.0
        lower = a["lower_type"]
        covered = lower in ("trousers", "jeans")
        skin = _scale(col.skin, f)
        low = _scale(col.lower, f)
        c.limb(hip, knee, 0.08 * b, low if (covered or lower == "shorts") else skin)
        if lower == "shorts":
            mid = (hip[0] + (knee[0] - hip[0]) * 0.55, hip[1] + (knee[1] - hip[1]) * 0.55)
            c.limb(mid, knee, 0.066 * b, skin)
        c.limb(knee, ankle, 0.06 * b, low if covered else skin)
        saved = self.col
        if darker:
            self.col = _Palette(skin=skin, hair=saved.hair, upper=saved.upper, pattern=saved.pattern, lower=low,
                                shoes=_scale(saved.shoes, f), bag=saved.bag, headwear=saved.headwear)
        self.shoe(ankle, -1.0, side_view=True)
        self.col = saved

    def arm_side(self, shoulder, elbow, wrist, darker: bool) -> None:
        saved = self.col
        if darker:
            self.col = _Palette(skin=_scale(saved.skin, 0.8), hair=saved.hair, upper=_scale(saved.upper, 0.8),
                                pattern=saved.pattern, lower=saved.lower, shoes=saved.shoes, bag=saved.bag,
                                headwear=saved.headwear)
        self.arm(shoulder, elbow, wrist)
        self.col = saved

    def head_side(self) -> None:
        a, c, col = self.a, self.c, self.col
        style = a["hair_style"]
        hw = 0.048 * (1.06 if a["build"] == "heavy" else 1.0)
        c.ellipse(0.0, 0.066, hw, 0.066, col.skin)
        c.poly([(-hw + 0.004, 0.06), (-hw - 0.012, 0.085), (-hw + 0.004, 0.09)], col.skin)
        if not self.material:
            c.ellipse(-hw * 0.55, 0.07, 0.005, 0.004, (35, 30, 30))
            if style != "bald":
                depth = 0.03 if style != "buzz" else 0.02
                c.draw.chord([*c.p(-hw * 1.02, -0.003), *c.p(hw * 1.05, depth * 2 + 0.012)], 180, 360, fill=col.hair)
                c.poly([(0.0, 0.03), (hw * 1.05, 0.04), (hw * 0.9, 0.1 if style != "buzz" else 0.08), (hw * 0.2, 0.08)], col.hair)
                if style == "ponytail":
                    c.limb((hw * 0.9, 0.05), (hw * 1.4, 0.17), 0.028, col.hair)
                if style == "bun":
                    c.ellipse(hw * 0.85, 0.03, 0.024, 0.022, _scale(col.hair, 0.9))
                if style == "curly":
                    for k in range(4):
                        c.ellipse(-hw * 0.6 + k * hw * 0.55, 0.004, 0.016, 0.014, _scale(col.hair, 1.1))
            c.ellipse(0.004, 0.072, 0.008, 0.014, _scale(col.skin, 0.88))
        self.headwear(hw, facing=-1.0, back=False)
        if a["glasses"] != NONE and not self.material:
            frame = (25, 25, 28)
            c.rect(-hw - 0.004, 0.064, -hw * 0.35, 0.078, frame if a["glasses"] == "sunglasses" else _scale(col.skin, 1.05))
            c.rect(-hw * 0.4, 0.066, hw * 0.1, 0.069, frame)


def render_figure(identity: Identity, viewpoint: str, phase: float, height_px: float, rng: np.random.Generator,
                  light: float = 0.5, supersample: int = 2, material: RGB | None = None) -> FigureSprite:
    """Draw one person, `height_px` tall from the top of the head to the soles.

    `light` in [-1, 1] is the horizontal light direction; `material` paints the whole figure
    in one colour without face or texture detail (statues, mannequins).
    """
    draws = rng.random(6)  # pattern offset, print shape, stride, texture offsets (x2), spare
    canvas = _Canvas(height_px, supersample, light)
    drawer = _FigureDrawer(identity, viewpoint, phase, canvas, _palette(identity, material), draws, material is not None)
    drawer.draw()
    image = canvas.image
    if viewpoint == "right":
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    image = image.reduce(supersample)
    image = _shade(image, light, draws, textured=material is None)
    u = height_px
    cx = image.width / 2
    y0 = MARGIN_TOP * u
    head_top = -0.035 if identity.attributes["headwear"] == "hat" else -0.02 if identity.attributes["headwear"] != NONE else -0.005
    head_half = 0.058 if identity.attributes["headwear"] != "hat" else 0.1
    head_box = (cx - head_half * u, y0 + head_top * u, cx + head_half * u, y0 + 0.14 * u)
    alpha_box = image.getchannel("A").point(lambda v: 255 if v > 100 else 0).getbbox() or (0, 0, image.width, image.height)
    foot = (cx, y0 + drawer.sole * u)
    return FigureSprite(image=image, foot=foot, body_box=tuple(float(v) for v in alpha_box), head_box=head_box)


def _shade(image: Image.Image, light: float, draws: np.ndarray, textured: bool) -> Image.Image:
    arr = np.asarray(image).astype(np.float32)
    h, w = arr.shape[:2]
    xs = (np.arange(w, dtype=np.float32) - w / 2) / max(1.0, w / 2)
    ys = np.arange(h, dtype=np.float32) / max(1.0, h)
    gain = (1.0 + 0.16 * light * xs)[None, :] * (1.06 - 0.14 * ys)[:, None]
    if textured:
        noise = tile_window(cloth_noise(), h, w, int(draws[3] * 511), int(draws[4] * 511))
        gain = gain * noise
    arr[..., :3] = np.clip(arr[..., :3] * gain[..., None], 0, 255)
    return Image.fromarray(arr.astype(np.uint8), "RGBA")
