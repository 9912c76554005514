"""Drawing labelled boxes on images, cropping around a box, fitting into a cell (PIL only)."""

from __future__ import annotations

from typing import Sequence

from PIL import Image, ImageDraw, ImageFont

QUERY_COLOR = (40, 200, 60)
HIT_COLOR = (230, 40, 40)
BACKGROUND = (235, 235, 235)
TEXT_COLOR = (20, 20, 20)


def font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


def draw_boxes(
    image: Image.Image,
    boxes: Sequence[Sequence[float]],
    *,
    labels: Sequence[str] | None = None,
    color: tuple[int, int, int] = HIT_COLOR,
    line_width: int | None = None,
) -> Image.Image:
    """A copy of `image` with each x1, y1, x2, y2 box outlined and its label on a filled tab."""
    if labels is not None and len(labels) != len(boxes):
        raise ValueError(f"{len(labels)} labels for {len(boxes)} boxes")
    out = image.convert("RGB")  # always a copy
    draw = ImageDraw.Draw(out)
    line_width = line_width or max(2, round(max(out.size) / 250))
    label_font = font(max(10, round(max(out.size) / 40)))
    for position, box in enumerate(boxes):
        x1, y1, x2, y2 = (float(v) for v in box)
        # A dark inner rim keeps the outline visible on backgrounds of its own colour.
        draw.rectangle((x1, y1, x2, y2), outline=(0, 0, 0), width=2 * line_width)
        draw.rectangle((x1, y1, x2, y2), outline=color, width=line_width)
        if labels is not None and labels[position]:
            left, top, right, bottom = draw.textbbox((0, 0), labels[position], font=label_font)
            tab_height = bottom + 4
            tab_top = y1 - tab_height if y1 >= tab_height else y1
            draw.rectangle((x1, tab_top, x1 + right + 6, tab_top + tab_height), fill=color)
            draw.text((x1 + 3, tab_top + 2), labels[position], fill=(255, 255, 255), font=label_font)
    return out


def crop_around(image: Image.Image, box: Sequence[float], context: float = 0.25) -> Image.Image:
    """The box enlarged by `context` times its width and height on each side, clipped to the image."""
    x1, y1, x2, y2 = (float(v) for v in box)
    dx, dy = (x2 - x1) * context, (y2 - y1) * context
    left, top = max(0, int(x1 - dx)), max(0, int(y1 - dy))
    right, bottom = min(image.width, int(round(x2 + dx))), min(image.height, int(round(y2 + dy)))
    if right <= left or bottom <= top:
        return image.copy()
    return image.crop((left, top, right, bottom))


def fit_into(image: Image.Image, width: int, height: int) -> Image.Image:
    """`image` scaled to fit a width x height cell, centred on a neutral background."""
    scale = min(width / image.width, height / image.height)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    cell = Image.new("RGB", (width, height), BACKGROUND)
    cell.paste(image.convert("RGB").resize(size, Image.Resampling.BILINEAR), ((width - size[0]) // 2, (height - size[1]) // 2))
    return cell


def fit_text(text: str, width: int, text_font) -> str:
    """`text` shortened with an ellipsis (keeping its end, where file names differ) to fit `width` pixels."""
    if text_font.getlength(text) <= width:
        return text
    for start in range(1, len(text)):
        candidate = "…" + text[start:]
        if text_font.getlength(candidate) <= width:
            return candidate
    return "…"
