"""HTML report of a text query: the description, a ranked grid image and one figure per hit."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Sequence

from personsearch.utils.atomic import atomic_write_text
from personsearch.viz.files import save_image
from personsearch.viz.ranked_grid import GridEntry, render_ranked_grid

_STYLE = """
body { font-family: sans-serif; margin: 1.5em; background: #fafafa; color: #222; }
.query { font-size: 1.15em; padding: 0.6em; background: #fff; border-left: 4px solid #28c83c; }
.grid { display: flex; flex-wrap: wrap; gap: 12px; }
figure { margin: 0; padding: 6px; background: #fff; border: 1px solid #ddd; }
figure img { height: 256px; display: block; }
figcaption { font-size: 12px; margin-top: 4px; max-width: 160px; word-break: break-all; }
"""


def write_text_report(out_dir: str | Path, *, query: str, hits: Sequence, title: str = "Text person search") -> Path:
    """`out_dir/report.html` + `ranked.png` + `crops/hit_NNN.jpg`; hits are `TextHit`s, best first."""
    out_dir = Path(out_dir)
    crops = out_dir / "crops"
    figures = []
    for hit in hits:
        name = f"hit_{hit.rank:03d}.jpg"
        save_image(hit.crop(), crops / name, quality=90)
        src = html.escape(f"crops/{name}", quote=True)
        lines = [f"#{hit.rank}  similarity {hit.score:.3f}", hit.image]
        if hit.detection_score < 1.0:
            lines.append(f"detection {hit.detection_score:.2f}")
        caption = "<br>".join(html.escape(line) for line in lines)
        figures.append(f'<figure><a href="{src}"><img src="{src}" alt="rank {hit.rank}"></a>'
                       f"<figcaption>{caption}</figcaption></figure>")
    for stale in crops.glob("hit_*.jpg"):
        if int(stale.stem.split("_")[1]) > len(hits):
            stale.unlink()
    grid = render_ranked_grid([GridEntry(image=hit.crop(), box=None, caption=f"#{hit.rank} {hit.score:.3f}")
                               for hit in hits], title=query) if hits else None
    if grid is not None:
        save_image(grid, out_dir / "ranked.png")
    page = (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n<p class=\"query\">{html.escape(query)}</p>\n"
        f"<p>{len(hits)} crops, best first.</p>\n<div class=\"grid\">\n" + "\n".join(figures) + "\n</div>\n</body>\n</html>\n"
    )
    report = out_dir / "report.html"
    atomic_write_text(report, page)
    return report
