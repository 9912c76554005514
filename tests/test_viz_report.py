import re

import numpy as np
import pytest
from PIL import Image

from personsearch.index import Hit
from personsearch.viz import (
    GridEntry,
    crop_around,
    draw_boxes,
    grid_size,
    render_ranked_grid,
    write_contact_sheet,
    write_html_report,
)
from test_index_fake_model import paint_scene

RED, BLUE = (230, 30, 30), (20, 40, 230)


@pytest.fixture
def scenes(tmp_path):
    folder = tmp_path / "we<ird> & \"names\""
    folder.mkdir()
    paths = []
    for i in range(3):
        path = folder / f"<b>scene{i}&.png"
        paint_scene(path, [RED, BLUE], size=(120, 80))
        paths.append(path)
    return paths


def _hits(paths):
    return [
        Hit(image=str(path), box=(60.0, 10.0, 110.0, 70.0), score=0.9 - 0.1 * rank, detection_score=0.8, rank=rank)
        for rank, path in enumerate(paths, start=1)
    ]


def test_draw_boxes_outlines_without_touching_the_input():
    image = Image.new("RGB", (100, 80), (0, 0, 0))
    drawn = draw_boxes(image, [(10, 20, 60, 70)], labels=["#1"], color=(255, 0, 0), line_width=2)
    assert image.getpixel((10, 40)) == (0, 0, 0)
    assert drawn.getpixel((10, 40)) == (255, 0, 0)  # left edge
    assert drawn.getpixel((35, 45)) == (0, 0, 0)  # inside stays untouched
    with pytest.raises(ValueError, match="labels"):
        draw_boxes(image, [(0, 0, 1, 1)], labels=["a", "b"])


def test_crop_around_adds_clipped_context():
    image = Image.new("RGB", (100, 80))
    assert crop_around(image, (20, 20, 40, 60), context=0.5).size == (40, 80)  # x 10..50, y 0..80 (clipped)
    assert crop_around(image, (0, 0, 100, 80), context=0.5).size == (100, 80)


def test_html_report_escapes_names_and_lists_every_hit(tmp_path, scenes):
    out = tmp_path / "out"
    hits = _hits(scenes)
    report = write_html_report(out, query_image=scenes[0], query_box=(0, 0, 50, 70), hits=hits)
    page = report.read_text(encoding="utf-8")
    assert report == out / "report.html"
    assert page.count('<figure class="hit">') == 3 and page.count('<figure class="query">') == 1
    assert "&lt;b&gt;scene1&amp;.png" in page and "<b>scene" not in page
    assert "we&lt;ird&gt; &amp; &quot;names&quot;" in page
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert sources == ["thumbs/query.jpg", "thumbs/hit_001.jpg", "thumbs/hit_002.jpg", "thumbs/hit_003.jpg"]
    for source in sources:
        with Image.open(out / source) as thumb:
            assert thumb.format == "JPEG" and max(thumb.size) <= 480
    # A second report with fewer hits leaves no stale thumbnails behind.
    write_html_report(out, query_image=Image.open(scenes[0]), query_box=(0, 0, 50, 70), hits=hits[:1])
    assert sorted(p.name for p in (out / "thumbs").iterdir()) == ["hit_001.jpg", "query.jpg"]
    assert "1 hits" in (out / "report.html").read_text(encoding="utf-8")


def test_contact_sheet_dimensions(tmp_path, scenes):
    path = write_contact_sheet(
        tmp_path / "sheet.png", query_image=scenes[0], query_box=(0, 0, 50, 70), hits=_hits(scenes),
        max_columns=3, cell_width=100, cell_height=200,
    )
    with Image.open(path) as sheet:
        assert sheet.format == "PNG"
        # 4 cells (query + 3 hits) in rows of 3: 8 + 3 * 108 wide, 8 + 2 * (200 + 34 + 8) high.
        assert sheet.size == (332, 492) == grid_size(4, max_columns=3, cell_width=100, cell_height=200, title=False)
        pixels = np.asarray(sheet.convert("RGB"))
    # The query cell is framed in green; the first hit's crop shows the blue person.
    assert tuple(pixels[8 - 2, 40]) == (40, 200, 60)
    hit_cell = pixels[8 + 60 : 8 + 140, 116 + 20 : 116 + 80].reshape(-1, 3)
    assert (np.abs(hit_cell.astype(int) - BLUE).max(axis=1) < 20).mean() > 0.5


def test_ranked_grid_takes_plain_tuples_and_a_title():
    scene = paint_scene(None, [RED, BLUE], size=(60, 40))
    grid = render_ranked_grid(
        [(scene, None, "whole image\nsecond line"), (scene, (30, 0, 60, 40), "a very long caption " * 10)],
        title="a woman in a red coat",
        max_columns=4,
        cell_width=64,
        cell_height=96,
    )
    assert grid.size == grid_size(2, max_columns=4, cell_width=64, cell_height=96, title=True) == (152, 28 + 8 + 138)
    assert isinstance(GridEntry(image=scene, box=None, caption=""), GridEntry)
