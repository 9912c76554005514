"""Camera backgrounds in perspective (ground plane, horizon, buildings, shop fronts, trees) and
the props placed in front of them (poles, signs, bins, benches, pillars, cars, statues)."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from personsearch.data.synth.camera import CameraProfile
from personsearch.data.synth.palette import RGB
from personsearch.data.synth.texture import cloth_noise, tile_window

FOCAL = 1.0  # focal length in frame heights


def _jitter(rng: np.random.Generator, base: RGB, amount: float = 18.0) -> RGB:
    c = np.clip(np.array(base) + rng.normal(0.0, amount, 3), 0, 255).astype(int)
    return (int(c[0]), int(c[1]), int(c[2]))


def _scale(c: RGB, f: float) -> RGB:
    return (min(255, int(c[0] * f)), min(255, int(c[1] * f)), min(255, int(c[2] * f)))


class _Ground:
    """Maps ground-plane metres (X across, Z ahead of the camera) to frame pixels."""

    def __init__(self, camera: CameraProfile) -> None:
        self.w, self.h = camera.size
        self.yh = camera.horizon * self.h
        self.xv = camera.vanishing_x * self.w
        self.f = FOCAL * self.h
        self.hc = camera.camera_height

    def point(self, x: float, z: float) -> tuple[float, float]:
        return (self.xv + self.f * x / z, self.yh + self.f * self.hc / z)

    def z_at_row(self, y: float) -> float:
        return self.f * self.hc / max(1e-3, y - self.yh)


def _vertical_gradient(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], top: RGB, bottom: RGB) -> None:
    x0, y0, x1, y1 = box
    for y in range(y0, y1):
        t = (y - y0) / max(1, y1 - y0 - 1)
        draw.line([(x0, y), (x1, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom)))


def _tiled_floor(draw: ImageDraw.ImageDraw, ground: _Ground, tile: float, colours: tuple[RGB, RGB],
                 checker: bool, rng: np.random.Generator, x_range: tuple[float, float] = (-30.0, 30.0)) -> None:
    z_near = ground.z_at_row(ground.h * 1.3)
    zs = [z_near]
    while zs[-1] < 80.0:
        zs.append(zs[-1] + tile)
    xs = np.arange(x_range[0], x_range[1] + tile, tile)
    for j in range(len(zs) - 1):
        for i in range(len(xs) - 1):
            pts = [ground.point(xs[i], zs[j]), ground.point(xs[i + 1], zs[j]),
                   ground.point(xs[i + 1], zs[j + 1]), ground.point(xs[i], zs[j + 1])]
            base = colours[(i + j) % 2] if checker else colours[0]
            draw.polygon(pts, fill=_jitter(rng, base, 6.0), outline=_scale(colours[1], 0.8) if not checker else None)


def _facade_row(draw: ImageDraw.ImageDraw, rng: np.random.Generator, width: int, base_y: float, top_range: tuple[float, float]) -> None:
    x = -int(rng.integers(0, 40))
    palette = ((170, 150, 130), (140, 140, 145), (190, 175, 150), (120, 100, 90), (200, 200, 195), (110, 120, 130))
    while x < width:
        w = int(rng.integers(60, 180))
        top = float(rng.uniform(*top_range))
        wall = _jitter(rng, palette[int(rng.integers(len(palette)))], 14.0)
        draw.rectangle([x, top, x + w, base_y], fill=wall)
        draw.rectangle([x, top, x + w, top + 4], fill=_scale(wall, 0.7))
        win = _scale(wall, 0.45) if rng.random() < 0.5 else (90, 110, 130)
        step_x, step_y = int(rng.integers(16, 28)), int(rng.integers(18, 30))
        for wy in np.arange(top + 10, base_y - 18, step_y):
            for wx in range(x + 8, x + w - 10, step_x):
                draw.rectangle([wx, wy, wx + step_x * 0.55, wy + step_y * 0.55], fill=_jitter(rng, win, 10.0))
        # Ground-floor shop fronts at the street level.
        draw.rectangle([x + 4, base_y - 22, x + w - 4, base_y], fill=_jitter(rng, (70, 80, 90), 20.0))
        x += w + int(rng.integers(0, 6))


def _tree_line(draw: ImageDraw.ImageDraw, rng: np.random.Generator, width: int, base_y: float) -> None:
    for _ in range(int(width / 14)):
        x = float(rng.uniform(-20, width + 20))
        r = float(rng.uniform(12, 34))
        green = _jitter(rng, (58, 92, 52), 14.0)
        draw.ellipse([x - r, base_y - r * 2.2, x + r, base_y - r * 0.2], fill=green)


def render_background(camera: CameraProfile, variant: int, rng: np.random.Generator) -> Image.Image:
    """One of the camera's background frames (a variant differs in time of day and parked things)."""
    w, h = camera.size
    ground = _Ground(camera)
    image = Image.new("RGB", (w, h), (128, 128, 128))
    draw = ImageDraw.Draw(image)
    yh = int(ground.yh)
    style = camera.style
    if style == "mall":
        _vertical_gradient(draw, (0, 0, w, yh + 1), (215, 212, 200), (190, 185, 175))
        for k in range(0, w, int(rng.integers(70, 110))):
            draw.rectangle([k + 10, 4, k + 50, 12], fill=(245, 245, 235))
        back_wall_top = yh - int(h * 0.16)
        x = 0
        while x < w:
            sw = int(rng.integers(70, 150))
            front = _jitter(rng, ((180, 60, 50), (60, 90, 150), (220, 200, 160), (70, 70, 75), (150, 170, 90))[int(rng.integers(5))], 16)
            draw.rectangle([x, back_wall_top, x + sw, yh + 2], fill=(200, 205, 210))
            draw.rectangle([x + 3, back_wall_top, x + sw - 3, back_wall_top + 10], fill=front)
            draw.rectangle([x + 6, back_wall_top + 14, x + sw - 6, yh + 2], fill=_jitter(rng, (150, 170, 180), 10))
            x += sw
        ground_colours = (_jitter(rng, (205, 200, 190), 8), _jitter(rng, (170, 165, 160), 8))
        draw.rectangle([0, yh, w, h], fill=ground_colours[1])
        _tiled_floor(draw, ground, float(rng.uniform(0.8, 1.4)), ground_colours, checker=True, rng=rng)
    else:
        sky_top, sky_bottom = ((120, 160, 210), (200, 215, 230)) if variant % 2 == 0 else ((150, 160, 175), (205, 205, 210))
        _vertical_gradient(draw, (0, 0, w, yh + 1), sky_top, sky_bottom)
        if style in ("street", "plaza"):
            _facade_row(draw, rng, w, yh + 2, (max(0.0, yh - h * 0.45), yh - h * 0.12))
        if style in ("park", "plaza"):
            _tree_line(draw, rng, w, yh + 3)
        if style == "park":
            draw.rectangle([0, yh, w, h], fill=_jitter(rng, (88, 122, 64), 10))
            path = [ground.point(-1.6, 200), ground.point(1.6, 200), ground.point(6.0, ground.z_at_row(h * 1.3)),
                    ground.point(-6.0, ground.z_at_row(h * 1.3))]
            draw.polygon(path, fill=_jitter(rng, (176, 160, 132), 8))
        elif style == "plaza":
            draw.rectangle([0, yh, w, h], fill=(140, 134, 126))
            _tiled_floor(draw, ground, float(rng.uniform(1.5, 3.0)), (_jitter(rng, (165, 158, 148), 8), (120, 116, 110)),
                         checker=False, rng=rng)
        else:
            draw.rectangle([0, yh, w, h], fill=(128, 126, 123))
            _tiled_floor(draw, ground, float(rng.uniform(0.9, 1.6)), (_jitter(rng, (150, 148, 145), 8), (110, 108, 105)),
                         checker=False, rng=rng, x_range=(-20.0, 2.0))
            road = [ground.point(2.0, 300), ground.point(12.0, 300), ground.point(12.0, 1.0), ground.point(2.0, 1.0)]
            draw.polygon(road, fill=_jitter(rng, (70, 70, 74), 6))
            for z in np.arange(3.0, 120.0, 6.0):
                draw.polygon([ground.point(6.9, z), ground.point(7.1, z), ground.point(7.1, z + 2.5), ground.point(6.9, z + 2.5)],
                             fill=(215, 210, 190))
            draw.line([ground.point(2.0, 300), ground.point(2.0, 1.0)], fill=(190, 188, 180), width=3)
    return _weather(image, variant, rng)


def _weather(image: Image.Image, variant: int, rng: np.random.Generator) -> Image.Image:
    """Soft large-scale light variation and surface grime so walls and floors are not flat."""
    arr = np.asarray(image.filter(ImageFilter.GaussianBlur(0.6))).astype(np.float32)
    h, w = arr.shape[:2]
    grime = tile_window(cloth_noise(), h, w, int(rng.integers(512)), int(rng.integers(512)))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.3, 0.9) * h
    pool = 1.0 + 0.12 * np.exp(-(((xx - cx) / (0.5 * w)) ** 2 + ((yy - cy) / (0.6 * h)) ** 2))
    vignette = 1.0 - 0.22 * (((xx / w - 0.5) * 1.6) ** 2 + ((yy / h - 0.5) * 1.6) ** 2)
    time_of_day = 1.0 - 0.08 * (variant % 3)
    arr *= ((grime - 1.0) * 0.7 + 1.0)[..., None] * (pool * vignette * time_of_day)[..., None]
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")


# ---- props -------------------------------------------------------------------------------------
PROP_HEIGHT_M = {"lamp post": 4.5, "sign": 2.4, "bin": 1.0, "bench": 0.9, "planter": 1.1, "bollard": 0.9,
                 "tree": 4.8, "pillar": 6.0, "car": 1.5, "pedestal": 0.7}
PROPS_BY_STYLE = {
    "street": ("lamp post", "sign", "bin", "bollard", "car", "tree", "bench"),
    "plaza": ("lamp post", "bin", "bench", "planter", "tree", "bollard", "sign"),
    "mall": ("pillar", "planter", "bin", "sign", "bench"),
    "park": ("tree", "lamp post", "bench", "bin", "sign"),
}
PROP_WIDTH_RATIO = {"lamp post": 0.08, "sign": 0.3, "bin": 0.5, "bench": 2.0, "planter": 1.0, "bollard": 0.25,
                    "tree": 0.7, "pillar": 0.14, "car": 2.7, "pedestal": 0.9}


def render_prop(kind: str, height_px: float, rng: np.random.Generator, supersample: int = 2) -> Image.Image:
    """An RGBA sprite of a prop standing on the ground at its bottom centre."""
    hs = max(4.0, height_px * supersample)
    ws = max(4.0, hs * PROP_WIDTH_RATIO[kind] * (1.0 if kind != "tree" else 1.4))
    if kind == "tree":
        ws = hs * 0.75
    width = int(ws) + 2 * supersample
    width += (-width) % supersample
    height = int(hs) + supersample
    height += (-height) % supersample
    img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    cx = width / 2
    H = hs
    base = _jitter(rng, (90, 92, 96), 14)
    if kind == "lamp post":
        pw = max(2, ws * 0.35)
        d.rectangle([cx - pw / 2, H * 0.05, cx + pw / 2, H], fill=base)
        d.rectangle([cx - pw, H * 0.88, cx + pw, H], fill=_scale(base, 0.8))
        d.ellipse([cx - ws / 2, 0, cx + ws / 2, H * 0.08], fill=(230, 225, 200))
    elif kind == "sign":
        pw = max(2, ws * 0.08)
        d.rectangle([cx - pw / 2, H * 0.3, cx + pw / 2, H], fill=base)
        panel = _jitter(rng, ((30, 90, 160), (200, 40, 40), (40, 130, 70), (230, 190, 40))[int(rng.integers(4))], 10)
        d.rectangle([cx - ws / 2, 0, cx + ws / 2, H * 0.32], fill=panel)
        d.rectangle([cx - ws * 0.35, H * 0.1, cx + ws * 0.35, H * 0.14], fill=(235, 235, 235))
    elif kind == "bin":
        colour = _jitter(rng, (55, 70, 60), 16)
        d.rounded_rectangle([cx - ws / 2, H * 0.08, cx + ws / 2, H], radius=ws * 0.1, fill=colour)
        d.ellipse([cx - ws / 2, 0, cx + ws / 2, H * 0.16], fill=_scale(colour, 0.7))
    elif kind == "bench":
        wood = _jitter(rng, (120, 85, 55), 14)
        d.rectangle([0, H * 0.45, width, H * 0.58], fill=wood)
        d.rectangle([0, H * 0.05, width, H * 0.3], fill=_scale(wood, 0.9))
        for x in (ws * 0.08, ws * 0.88):
            d.rectangle([x, H * 0.3, x + ws * 0.05, H], fill=base)
    elif kind == "planter":
        pot = _jitter(rng, (150, 120, 100), 16)
        d.rectangle([cx - ws / 2, H * 0.45, cx + ws / 2, H], fill=pot)
        green = _jitter(rng, (60, 100, 55), 12)
        d.ellipse([cx - ws * 0.55, 0, cx + ws * 0.55, H * 0.6], fill=green)
    elif kind == "bollard":
        d.rounded_rectangle([cx - ws / 2, 0, cx + ws / 2, H], radius=ws * 0.4, fill=base)
        d.rectangle([cx - ws / 2, H * 0.15, cx + ws / 2, H * 0.22], fill=(220, 200, 60))
    elif kind == "tree":
        trunk = _jitter(rng, (85, 65, 45), 10)
        d.rectangle([cx - ws * 0.05, H * 0.45, cx + ws * 0.05, H], fill=trunk)
        green = _jitter(rng, (55, 90, 50), 14)
        for _ in range(5):
            ox, oy = rng.uniform(-0.25, 0.25) * ws, rng.uniform(0.0, 0.3) * H
            r = ws * rng.uniform(0.22, 0.35)
            d.ellipse([cx + ox - r, oy, cx + ox + r, oy + 2 * r], fill=_jitter(rng, green, 8))
    elif kind == "pillar":
        stone = _jitter(rng, (200, 198, 190), 8)
        d.rectangle([cx - ws / 2, 0, cx + ws / 2, H], fill=stone)
        d.rectangle([cx - ws / 2, 0, cx - ws / 6, H], fill=_scale(stone, 0.85))
    elif kind == "car":
        paint = _jitter(rng, ((160, 160, 165), (30, 30, 35), (190, 30, 30), (230, 230, 230), (40, 60, 120))[int(rng.integers(5))], 10)
        d.rounded_rectangle([0, H * 0.35, width, H * 0.85], radius=H * 0.1, fill=paint)
        d.rounded_rectangle([ws * 0.2, 0, ws * 0.8, H * 0.45], radius=H * 0.1, fill=_scale(paint, 0.9))
        d.rectangle([ws * 0.25, H * 0.06, ws * 0.75, H * 0.36], fill=(70, 85, 100))
        for x in (ws * 0.2, ws * 0.8):
            d.ellipse([x - H * 0.16, H * 0.68, x + H * 0.16, H], fill=(25, 25, 25))
    else:  # pedestal
        stone = _jitter(rng, (170, 165, 155), 10)
        d.rectangle([cx - ws / 2, 0, cx + ws / 2, H], fill=stone)
        d.rectangle([cx - ws / 2 - 2, 0, cx + ws / 2 + 2, H * 0.12], fill=_scale(stone, 1.1))
    return img.reduce(supersample)
