"""Draw docs/world_samples.png (scenes of every camera, boxes drawn) and docs/world_crops.png
(person crops with their two captions) from the small synthetic world, seed 0.

    python scripts/make_world_docs.py
"""
from pathlib import Path

import textwrap
from PIL import Image, ImageDraw, ImageFont
from personsearch.data.synth.world import SynthWorld

DOCS = Path(__file__).resolve().parent.parent / "docs"
w = SynthWorld("small", seed=0)
# scenes: two per camera, 3 columns x 4 rows, scaled to 480 wide
tiles = []
for cam in range(w.num_cameras):
    picked = [i for i in range(cam, 400, w.num_cameras) if 4 <= len(w.scene_plan(i).pids) + w.scene_plan(i).num_unlabelled <= 12][:2]
    for i in picked:
        s = w.scene(i); im = s.image.copy(); d = ImageDraw.Draw(im)
        for p in s.people:
            d.rectangle(p.box, outline=(40, 255, 40) if p.labelled else (255, 60, 60), width=2)
            if p.labelled:
                d.text((p.box[0] + 2, max(0, p.box[1] - 11)), str(p.pid), fill=(40, 255, 40))
        d.text((6, 6), f"camera {s.camera + 1} ({w.cameras[s.camera].style}) {s.split}", fill=(255, 255, 0))
        tiles.append(im.resize((480, int(480 * im.height / im.width))))
cols = 3
rows = (len(tiles) + cols - 1) // cols
G = Image.new("RGB", (cols * 484, rows * 364), (20, 20, 20))
for k, t in enumerate(tiles):
    G.paste(t, ((k % cols) * 484, (k // cols) * 364))
G.save(DOCS / "world_samples.png", optimize=True)
# crops with captions
font = ImageFont.load_default()
items = [w.crop(i) for i in (0, 1, 2, 3, 500, 501, 1000, 1001)]
cw, ch = 520, 280
C = Image.new("RGB", (2 * cw, 4 * ch), (255, 255, 255))
for k, c in enumerate(items):
    x, y = (k % 2) * cw, (k // 2) * ch
    im = c.image.resize((int(c.image.width * 260 / c.image.height), 260))
    C.paste(im, (x + 6, y + 10))
    d = ImageDraw.Draw(C)
    tx = x + im.width + 14
    d.text((tx, y + 10), f"pid {c.pid}, camera {c.camera + 1}, {c.viewpoint}", fill=(0, 0, 160), font=font)
    lines = []
    for cap in c.captions:
        lines += textwrap.wrap(cap, width=int((cw - im.width - 20) / 6.2)) + [""]
    d.multiline_text((tx, y + 26), "\n".join(lines[:22]), fill=(0, 0, 0), font=font, spacing=1)
C.save(DOCS / "world_crops.png", optimize=True)
