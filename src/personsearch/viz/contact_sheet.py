"""A PNG contact sheet of an image query and its top hits (query first, in green)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from PIL import Image

from personsearch.index.search import Hit
from personsearch.viz.files import save_image
from personsearch.viz.ranked_grid import GridEntry, render_ranked_grid


def hit_caption(hit: Hit) -> str:
    return f"#{hit.rank}  sim {hit.score:.3f}  det {hit.detection_score:.2f}\n{Path(hit.image).name}"


def write_contact_sheet(
    path: str | Path,
    *,
    query_image: Image.Image | str | Path,
    query_box: Sequence[float],
    hits: Sequence[Hit],
    title: str | None = None,
    max_columns: int = 6,
    cell_width: int = 128,
    cell_height: int = 256,
) -> Path:
    query_name = Path(query_image).name if isinstance(query_image, (str, Path)) else "query image"
    entries = [GridEntry(image=query_image, box=query_box, caption=f"query\n{query_name}")]
    entries += [GridEntry(image=hit.image, box=hit.box, caption=hit_caption(hit)) for hit in hits]
    sheet = render_ranked_grid(
        entries,
        title=title,
        max_columns=max_columns,
        cell_width=cell_width,
        cell_height=cell_height,
        highlight_first=True,
    )
    return save_image(sheet, path)
