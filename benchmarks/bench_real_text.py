"""Text search on real footage: hand-written descriptions of the six people of the real set
(vtest.avi, docs/real_set.md), ranked against every annotated person crop of its 40 frames.

The descriptions were written by looking at the people, not taken from any training data. Each
is a query; the gallery is every ground-truth person box (221 crops: the 95 of the six identities
and 126 other people); matches are the crops of the described person. Text retrieval metrics
(evaluation/text_retrieval.py), beside the figures a random ranking would get. The figures are
kept in benchmarks/results/real_text/<text model file stem>.json and in BENCHMARKS.md.

    bash scripts/fetch_vtest.sh && python scripts/build_real_set.py
    python benchmarks/bench_real_text.py [--checkpoint TEXT_MODEL]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

import report as bench_report

from personsearch.commands.search import SHIPPED_TEXT_MODEL, shipped_asset
from personsearch.data.real.vtest import load_real_set
from personsearch.evaluation.text_retrieval import text_retrieval_metrics
from personsearch.text.data import to_tensor
from personsearch.text.evaluate import load_text_model
from personsearch.utils.atomic import atomic_write_json

SECTION = "real-footage-text"
RESULTS = Path(__file__).resolve().parent / "results" / "real_text"
METRICS = ("R1", "R5", "R10", "mAP")
DESCRIPTIONS = {
    1: "a man wearing a padded jacket that is red on the shoulders and dark navy below, blue jeans and white "
       "trainers, holding white papers",
    2: "a woman with fair curly hair in a long black coat and blue jeans",
    3: "a young woman with long dark hair in a bright red jacket and blue jeans",
    4: "a woman in a light blue jacket with a white hood, blue jeans and a dark bag on her shoulder",
    5: "a man in a blue jacket and grey trousers",
    6: "a man in a dark striped jumper and blue jeans",
}


@torch.no_grad()
def crop_features(model, data) -> tuple[np.ndarray, np.ndarray]:
    height, width = model.image_size
    feats, ids = [], []
    for record in data.gallery:
        image = Image.open(record.image_path).convert("RGB")
        crops = [image.crop(tuple(int(round(v)) for v in box)).resize((width, height), Image.BICUBIC)
                 for box in record.boxes]
        feats.append(model.encode_image(torch.stack([to_tensor(c) for c in crops])).float().numpy())
        ids.append(np.asarray(record.pids))
    return np.concatenate(feats), np.concatenate(ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("data/real/vtest-prw"))
    parser.add_argument("--checkpoint", type=Path, help="text model (default: the one shipped in the package)")
    parser.add_argument("--no-write", action="store_true", help="print, do not update BENCHMARKS.md")
    args = parser.parse_args()
    if not args.root.is_dir():
        raise SystemExit(f"{args.root} not found: bash scripts/fetch_vtest.sh && python scripts/build_real_set.py")
    checkpoint = args.checkpoint or shipped_asset(SHIPPED_TEXT_MODEL)
    data = load_real_set(args.root)
    model, _ = load_text_model(checkpoint)
    gallery, gallery_ids = crop_features(model, data)
    pids = sorted(DESCRIPTIONS)
    with torch.no_grad():
        queries = model.encode_captions([DESCRIPTIONS[p] for p in pids]).float().numpy()
    sim = queries @ gallery.T
    metrics = text_retrieval_metrics(sim, np.asarray(pids), gallery_ids)
    rng = np.random.default_rng(0)
    chance = [text_retrieval_metrics(rng.standard_normal(sim.shape), np.asarray(pids), gallery_ids) for _ in range(200)]
    rows = [[f"text model ({checkpoint.name})", *(round(float(metrics[k]), 2) for k in METRICS)],
            ["random ranking (mean of 200)", *(round(float(np.mean([c[k] for c in chance])), 2) for k in METRICS)]]
    per_query = []
    for q, pid in enumerate(pids):
        order = np.argsort(-sim[q])
        first = int(np.nonzero(gallery_ids[order] == pid)[0][0]) + 1
        per_query.append([pid, DESCRIPTIONS[pid], int((gallery_ids == pid).sum()), first])
    for row in rows + per_query:
        print(row)
    if args.no_write:
        return
    atomic_write_json(RESULTS / f"{checkpoint.stem}.json", {
        "checkpoint": checkpoint.name, "metrics": dict(zip(METRICS, rows[0][1:])),
        "random_ranking": dict(zip(METRICS, rows[1][1:])),
        "queries": [dict(zip(("pid", "description", "crops", "first_rank"), q)) for q in per_query],
        "gallery_crops": int(len(gallery_ids)), "machine": bench_report.machine_line(),
        "command": bench_report.command_line(), "date": time.strftime("%Y-%m-%d", time.gmtime()),
    })
    body = (f"## Text search on real footage: hand-written descriptions (vtest.avi)\n\n{bench_report.section_preamble()}"
            f"- data: `{args.root}`, gallery = all {len(gallery_ids)} annotated person crops of the 40 frames; "
            f"{len(pids)} descriptions, one per identity (docs/real_set.md)\n\n"
            + bench_report.markdown_table(["ranking", "R@1", "R@5", "R@10", "mAP"], rows)
            + "\n" + bench_report.markdown_table(["pid", "description", "crops of the person", "rank of the first"],
                                                 per_query))
    bench_report.update_section(SECTION, body)


if __name__ == "__main__":
    main()
