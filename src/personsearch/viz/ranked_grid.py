"""A ranked grid: one cell per entry (image, box or None, caption), row after row.

Used for image-query contact sheets and reusable for text queries (title = the text).
Each cell shows the entry's image with its box drawn, cropped around the box with some
context (the whole image when the box is None), and the caption lines below it.

Layout, all in pixels: `columns` = min(len(entries), max_columns);
width = PAD + columns * (cell_width + PAD);
height = title height (TITLE_HEIGHT if title else 0) + PAD + rows * (cell_height + CAPTION_HEIGHT + PAD).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from PIL import Image, ImageDraw

from personsearch import media
from personsearch.viz.draw import (
    HIT_COLOR,
    QUERY_COLOR,
    TEXT_COLOR,
    crop_around,
    draw_boxes,
    fit_into,
    fit_text,
    font,
)

PAD = 8
CAPTION_LINE = 15
CAPTION_HEIGHT = 2 * CAPTION_LINE + 4
TITLE_HEIGHT = 28


@dataclass(frozen=True)
class GridEntry:
    image: Image.Image | str | Path  # a PIL image, an image path or a video frame location
    box: Sequence[float] | None
    caption: str  # "\n" separates lines; two lines are shown


def grid_size(count: int, *, max_columns: int, cell_width: int, cell_height: int, title: bool) -> tuple[int, int]:
    columns = max(1, min(count, max_columns))
    rows = max(1, math.ceil(count / columns))
    width = PAD + columns * (cell_width + PAD)
    height = (TITLE_HEIGHT if title else 0) + PAD + rows * (cell_height + CAPTION_HEIGHT + PAD)
    return width, height


def _as_entries(entries: Iterable[GridEntry | tuple]) -> list[GridEntry]:
    return [entry if isinstance(entry, GridEntry) else GridEntry(*entry) for entry in entries]


def _open(entries: list[GridEntry]) -> list[Image.Image]:
    locations = [str(e.image) for e in entries if not isinstance(e.image, Image.Image)]
    opened = media.open_images(locations)
    return [e.image if isinstance(e.image, Image.Image) else opened[str(e.image)] for e in entries]


def render_ranked_grid(
    entries: Iterable[GridEntry | tuple],
    *,
    title: str | None = None,
    max_columns: int = 6,
    cell_width: int = 128,
    cell_height: int = 256,
    context: float = 0.25,
    highlight_first: bool = False,
) -> Image.Image:
    """The grid as an RGB image; with `highlight_first` the first entry (the query) is drawn in green."""
    entries = _as_entries(entries)
    width, height = grid_size(
        len(entries), max_columns=max_columns, cell_width=cell_width, cell_height=cell_height, title=bool(title)
    )
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    caption_font, title_font = font(12), font(16)
    top = PAD
    if title:
        draw.text((PAD, 6), fit_text(title, width - 2 * PAD, title_font), fill=TEXT_COLOR, font=title_font)
        top += TITLE_HEIGHT
    columns = max(1, min(len(entries), max_columns))
    for position, (entry, image) in enumerate(zip(entries, _open(entries))):
        color = QUERY_COLOR if highlight_first and position == 0 else HIT_COLOR
        if entry.box is not None:
            image = crop_around(draw_boxes(image, [entry.box], color=color), entry.box, context=context)
        x = PAD + (position % columns) * (cell_width + PAD)
        y = top + (position // columns) * (cell_height + CAPTION_HEIGHT + PAD)
        sheet.paste(fit_into(image, cell_width, cell_height), (x, y))
        if highlight_first and position == 0:
            draw.rectangle((x - 3, y - 3, x + cell_width + 2, y + cell_height + 2), outline=QUERY_COLOR, width=3)
        for line_number, line in enumerate(entry.caption.split("\n")[:2]):
            draw.text(
                (x, y + cell_height + 2 + line_number * CAPTION_LINE),
                fit_text(line, cell_width, caption_font),
                fill=TEXT_COLOR,
                font=caption_font,
            )
    return sheet
