"""Hand-crafted re-ID baselines on a synthetic scene world, scored with the standard protocol.

Two settings:
- `gt`: features of the ground-truth boxes (the difficulty check of the world: a colour
  matcher that sees perfect boxes must stay far below learned models);
- `hog`: OpenCV's HOG people detector, then the same features on its detections
  (the end-to-end hand-crafted pipeline learned detectors are compared with).

Each is scored on PRW's two galleries from one feature pass: all gallery frames, and
cross-camera (the query's own camera left out, where a person's neighbouring frames,
near-duplicates of the query, no longer count).

    python benchmarks/bench_handcrafted_baseline.py --dataset prw --size small
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

import report as bench_report

from personsearch.baselines.handcrafted import colour_histogram_features, colour_hog_features, hog_person_detections
from personsearch.data.catalog import load_dataset
from personsearch.data.world_cache import ensure_synthetic_dataset
from personsearch.evaluation.detections import GalleryDetections
from personsearch.evaluation.results_file import SearchResults
from personsearch.evaluation.scene_evaluator import evaluate_search_results

FEATURES = {"colour": colour_histogram_features, "colour+hog": colour_hog_features}


GALLERIES = {"all": False, "cross-camera": True}


def score_galleries(results: SearchResults, data) -> dict[str, dict]:
    """The scene search protocol on each of `GALLERIES`."""
    return {name: evaluate_search_results(results, data, cross_camera=cross) for name, cross in GALLERIES.items()}


def run(data, feature_name: str, detector: str, max_queries: int | None) -> dict[str, dict]:
    return score_box_features(data, FEATURES[feature_name], detector=detector, max_queries=max_queries,
                              desc=f"gallery ({feature_name}, {detector})")


def score_box_features(data, extract, *, detector: str = "gt", max_queries: int | None = None,
                       desc: str = "gallery") -> dict[str, dict]:
    """The scene search protocol, on each of `GALLERIES`, for features `extract(image, boxes) -> (N, D)`
    of the gallery's ground-truth boxes (`gt`) or of HOG detections (`hog`), and of the query boxes."""
    names, index, boxes, scores, feats = [], [], [], [], []
    for i, record in enumerate(tqdm(data.gallery, desc=desc)):
        names.append(record.name)
        image = Image.open(record.image_path).convert("RGB")
        if detector == "gt":
            det_boxes, det_scores = np.asarray(record.boxes, np.float32), np.ones(len(record.boxes), np.float32)
        else:
            det_boxes, det_scores = hog_person_detections(image)
        if len(det_boxes):
            feats.append(extract(image, det_boxes))
            boxes.append(det_boxes)
            scores.append(det_scores)
            index.append(np.full(len(det_boxes), i))
    queries = data.queries[:max_queries] if max_queries else data.queries
    query_feats = np.concatenate([extract(Image.open(q.image_path).convert("RGB"), q.box[None]) for q in queries])
    if max_queries:
        data.queries = list(queries)
    gallery = GalleryDetections(names=np.asarray(names), image_index=np.concatenate(index),
                                boxes=np.concatenate(boxes), scores=np.concatenate(scores),
                                feats=np.concatenate(feats))
    return score_galleries(SearchResults(gallery=gallery, query_feats=query_feats), data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="prw", choices=["prw", "cuhk-sysu"])
    parser.add_argument("--root", type=Path, help="an existing dataset root (default: generate a synthetic world)")
    parser.add_argument("--size", default="small")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=Path("data/worlds"))
    parser.add_argument("--detectors", nargs="+", default=["gt", "hog"], choices=["gt", "hog"])
    parser.add_argument("--max-queries", type=int, help="score only the first N queries")
    parser.add_argument("--no-write", action="store_true", help="print, do not update BENCHMARKS.md")
    args = parser.parse_args()

    root = args.root or ensure_synthetic_dataset(
        args.dataset, args.cache / f"{args.dataset}-{args.size}-seed{args.seed}", size=args.size, seed=args.seed)
    rows = []
    for detector in args.detectors:
        for feature_name in FEATURES:
            data = load_dataset(args.dataset, root)
            start = time.perf_counter()
            reports = run(data, feature_name, detector, args.max_queries)
            seconds = time.perf_counter() - start
            for gallery, report in reports.items():
                rows.append([feature_name, "ground-truth boxes" if detector == "gt" else "HOG detector", gallery,
                             report["mAP"], report["top1"], report["top5"], report.get("det_ap", float("nan")),
                             report.get("det_recall", float("nan")), report["num_queries"],
                             report["num_skipped"], f"{seconds:.0f}"])
                print(rows[-1])
    if args.no_write:
        return
    world = f"root `{args.root}`" if args.root else f"synthetic `{args.dataset}` world, size `{args.size}`, seed {args.seed}"
    body = (f"## Hand-crafted baseline ({args.dataset})\n\n{bench_report.section_preamble()}- data: {world}\n\n"
            + bench_report.markdown_table(["features", "boxes", "gallery", "mAP", "top-1", "top-5", "det AP",
                                           "det recall", "queries", "skipped", "seconds"], rows))
    bench_report.update_section(f"handcrafted-baseline-{args.dataset}", body)


if __name__ == "__main__":
    main()
