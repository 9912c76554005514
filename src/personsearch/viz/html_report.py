"""A self-contained HTML report of an image query and its ranked hits.

`out_dir/report.html` links, by relative paths, JPEG thumbnails written next to it in
`out_dir/thumbs/`: the query scene with its box, and each hit's scene with the hit's box.
Every name shown is HTML-escaped. All files are written atomically.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Sequence

from PIL import Image

from personsearch import media
from personsearch.index.search import Hit
from personsearch.viz.draw import HIT_COLOR, QUERY_COLOR, draw_boxes
from personsearch.viz.files import save_image
from personsearch.utils.atomic import atomic_write_text

THUMBS = "thumbs"

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; background: #fafafa; color: #222; }
.grid { display: flex; flex-wrap: wrap; gap: 14px; }
figure { margin: 0; padding: 8px; background: #fff; border: 1px solid #ddd; max-width: 340px; }
figure.query { border: 3px solid #28c83c; }
figure img { max-width: 320px; max-height: 320px; display: block; }
figcaption { font-size: 13px; margin-top: 6px; word-break: break-all; }
"""


def _thumbnail(image: Image.Image, box: Sequence[float], label: str, color, max_side: int) -> Image.Image:
    drawn = draw_boxes(image, [box], labels=[label], color=color)
    drawn.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return drawn


def _figure(css_class: str, thumb: str, lines: list[str]) -> str:
    caption = "<br>".join(html.escape(line) for line in lines)
    src = html.escape(thumb, quote=True)
    return (
        f'<figure class="{css_class}"><a href="{src}"><img src="{src}" alt="{html.escape(lines[0], quote=True)}"></a>'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _box_text(box: Sequence[float]) -> str:
    return ", ".join(f"{v:.0f}" for v in box)


def write_html_report(
    out_dir: str | Path,
    *,
    query_image: Image.Image | str | Path,
    query_box: Sequence[float],
    hits: Sequence[Hit],
    title: str = "Person search results",
    thumb_max_side: int = 480,
) -> Path:
    """Write `out_dir/report.html` and its thumbnails; returns the HTML path."""
    out_dir = Path(out_dir)
    thumbs = out_dir / THUMBS
    if isinstance(query_image, (str, Path)):
        query_name, query_pixels = str(query_image), media.read_image(query_image)
    else:
        query_name, query_pixels = "query image", query_image
    save_image(_thumbnail(query_pixels, query_box, "query", QUERY_COLOR, thumb_max_side), thumbs / "query.jpg", quality=90)
    figures = [_figure("query", f"{THUMBS}/query.jpg", ["query", query_name, f"box {_box_text(query_box)}"])]

    scenes = media.open_images([hit.image for hit in hits])
    written = {"query.jpg"}
    for hit in hits:
        name = f"hit_{hit.rank:03d}.jpg"
        thumb = _thumbnail(scenes[hit.image], hit.box, f"#{hit.rank}", HIT_COLOR, thumb_max_side)
        save_image(thumb, thumbs / name, quality=90)
        written.add(name)
        figures.append(
            _figure(
                "hit",
                f"{THUMBS}/{name}",
                [
                    f"#{hit.rank}  similarity {hit.score:.3f}  detection {hit.detection_score:.2f}",
                    hit.image,
                    f"box {_box_text(hit.box)}",
                ],
            )
        )
    for stale in thumbs.glob("hit_*.jpg"):
        if stale.name not in written:
            stale.unlink()

    page = (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n<p>{len(hits)} hits, best first.</p>\n"
        '<div class="grid">\n' + "\n".join(figures) + "\n</div>\n</body>\n</html>\n"
    )
    report = out_dir / "report.html"
    atomic_write_text(report, page)
    return report
