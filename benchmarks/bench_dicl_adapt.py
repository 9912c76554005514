"""`personsearch adapt` on real footage: search on vtest.avi before and after adapting the shipped
model to the (unlabelled) video, with and without tracklet must-links, beside a colour histogram.

    bash scripts/fetch_vtest.sh && python scripts/build_real_set.py
    python benchmarks/bench_dicl_adapt.py [--epochs 4] [--frame-stride 4] [--variants plain tracklets]

Adaptation sees the whole video without any label (SSDLite boxes only), as a user would adapt
to their own footage before searching it; the evaluation set (data/real/vtest-prw, identities
checked by eye, docs/real_set.md) is every 20th frame of that video. Scored with the set's
protocol: a query's gallery holds only frames at least 10 s from the query frame, so the same
walk's neighbouring frames cannot answer it (PRW's all-frames gallery beside, for contrast).
Each variant's adaptation run lives in OUTPUT/VARIANT (rerun to resume) and its scores in
benchmarks/results/dicl_adapt/VARIANT.json (reused while the settings match). Each of
`--cluster-eps`, `--lr`, `--singletons`, `--seed` and `--frame-stride` other than its default adds
`_epsE` / `_lrL` / `_train` / `_seedS` / `_strideN` to both names; the section lists every kept run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import report as bench_report
from bench_real_footage import GALLERIES, load_with_person_height, score_boxes, ssdlite_boxes, tensor_extractor

from personsearch.baselines.handcrafted import colour_histogram_features
from personsearch.commands.search import default_checkpoint
from personsearch.data.real.vtest import frame_of_stem, load_real_set
from personsearch.engine.checkpoint import load_checkpoint
from personsearch.media import split_location
from personsearch.methods.dicl.adapt import BOXES_FILE, AdaptSettings, adapt_to_footage, load_detector
from personsearch.methods.dicl.clustering import pairwise_precision_recall
from personsearch.methods.dicl.siamese import MEMORY_SINGLETONS
from personsearch.utils.atomic import atomic_write_json

SECTION = "dicl-adapt-real"
RESULTS_DIR = Path(__file__).resolve().parent / "results" / "dicl_adapt"
VARIANTS = {"plain": False, "tracklets": True}
# the settings a kept run may differ in: default, result-name suffix when not the default, label
VARIED = {
    "cluster_eps": (AdaptSettings.cluster_eps, "_eps{:g}", "eps {:g}"),
    "lr": (AdaptSettings.lr, "_lr{:g}", "lr {:g}"),
    "singletons": (AdaptSettings.memory_singletons, "_{}", "singletons {}"),
    "seed": (1, "_seed{}", "seed {}"),
    "frame_stride": (4, "_stride{}", "frame stride {}"),
}


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    top_left, bottom_right = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(bottom_right - top_left, 0, None).prod(axis=2)
    area = lambda x: (x[:, 2] - x[:, 0]) * (x[:, 3] - x[:, 1])  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-9)


def annotated_cluster_scores(run_dir: Path, data) -> dict[str, float]:
    """Pairwise precision / recall of the last clustering of an adaptation run, on the boxes of the
    annotated frames that match an eye-checked box with an identity (IoU >= 0.5)."""
    scenes = json.loads((run_dir / BOXES_FILE).read_text())["scenes"]
    labels = load_checkpoint(run_dir / "last.pth")["model"]["memory.labels"].numpy()
    annotated = {frame_of_stem(r.name): r for r in data.gallery}
    truth, slot = np.full(len(labels), -1), 0
    for scene in scenes:
        boxes = np.asarray(scene["boxes"], np.float32).reshape(-1, 4)
        record = annotated.get(split_location(scene["name"])[1])
        if record is not None and len(boxes) and len(record.boxes):
            overlap = _iou(boxes, np.asarray(record.boxes, np.float32))
            best = overlap.argmax(axis=1)
            matched = overlap[np.arange(len(boxes)), best] >= 0.5
            truth[slot:slot + len(boxes)][matched] = np.asarray(record.pids)[best[matched]]
        slot += len(boxes)
    scores = pairwise_precision_recall(labels, truth)
    return {**scores, "boxes_scored": int((truth >= 0).sum()), "clusters": int(labels.max()) + 1,
            "identities": int(len(set(truth[truth >= 0].tolist())))}


def person_scale_extractor(checkpoint: Path):
    """The checkpoint's own embedding of given boxes, at the person scale it records (as `personsearch
    search --detector ssdlite` embeds them), else at its input size."""
    model, person_height = load_with_person_height(checkpoint)
    return tensor_extractor(model, person_height=person_height)


def _row(features: str, boxes: str, reports: dict[str, dict]) -> list[list[Any]]:
    return [[features, boxes, gallery, r["mAP"], r["top1"], r["top5"], r["num_queries"]] for gallery, r in reports.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--video", type=Path, default=Path("data/real/vtest.avi"))
    parser.add_argument("--root", type=Path, default=Path("data/real/vtest-prw"))
    parser.add_argument("--checkpoint", type=Path, help="model to adapt (default: the shipped demo model)")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--frame-stride", type=int, default=VARIED["frame_stride"][0],
                        help="adapt on every N-th frame; another value keeps its own result files (VARIANT_strideN.json)")
    parser.add_argument("--cluster-eps", type=float, default=VARIED["cluster_eps"][0],
                        help="adaptation's DBSCAN eps; another value keeps its own result files (VARIANT_epsE.json)")
    parser.add_argument("--lr", type=float, default=VARIED["lr"][0],
                        help="adaptation's learning rate; another value keeps its own result files (VARIANT_lrL.json)")
    parser.add_argument("--singletons", choices=MEMORY_SINGLETONS, default=VARIED["singletons"][0],
                        help="adaptation's memory_singletons; `train` keeps its own result files (VARIANT_train.json)")
    parser.add_argument("--seed", type=int, default=VARIED["seed"][0],
                        help="adaptation's seed; another value keeps its own result files (VARIANT_seedS.json)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", type=Path, default=Path("runs/bench_dicl_adapt"))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if not args.root.is_dir() or not args.video.is_file():
        raise SystemExit("fetch the footage first: bash scripts/fetch_vtest.sh && python scripts/build_real_set.py")
    torch.set_num_threads(args.threads)
    checkpoint = args.checkpoint or default_checkpoint()
    data_by_gallery = {name: load_real_set(args.root, min_gap_seconds=gap) for name, gap in GALLERIES.items()}
    data = data_by_gallery["10 s apart"]
    box_sources = {
        "SSDLite": ssdlite_boxes(data),
        "ground truth": {r.name: (np.asarray(r.boxes, np.float32), np.ones(len(r.boxes), np.float32))
                         for r in data.gallery},
    }
    rows: list[list[Any]] = []
    before = person_scale_extractor(checkpoint)
    for boxes_name, boxes in box_sources.items():
        rows += _row("colour histogram", boxes_name, score_boxes(data_by_gallery, colour_histogram_features, boxes))
        rows += _row(f"before: {checkpoint.name}", boxes_name, score_boxes(data_by_gallery, before, boxes))

    varied = {key: getattr(args, key) for key in VARIED}
    settings_key = {"checkpoint": str(checkpoint), "epochs": args.epochs, "threads": torch.get_num_threads(),
                    "person_scale": True, **varied}
    suffix = "".join(VARIED[key][1].format(value) for key, value in varied.items() if value != VARIED[key][0])
    for variant in args.variants:
        name = variant + suffix
        path = RESULTS_DIR / f"{name}.json"
        saved = json.loads(path.read_text()) if path.is_file() else None
        if saved is None or saved["settings"] != settings_key:
            settings = AdaptSettings(frame_stride=args.frame_stride, epochs=args.epochs, tracklets=VARIANTS[variant],
                                     cluster_eps=args.cluster_eps, lr=args.lr,
                                     memory_singletons=args.singletons, seed=args.seed, device="cpu")
            start = time.process_time()
            exported = adapt_to_footage(gallery=args.video, checkpoint=checkpoint, out_dir=args.output / name,
                                        detector=load_detector("ssdlite", checkpoint), settings=settings)
            cpu_minutes = (time.process_time() - start) / 60
            adapted = person_scale_extractor(exported)
            saved = {"settings": settings_key, "cpu_minutes": cpu_minutes, "reports": {
                boxes_name: score_boxes(data_by_gallery, adapted, boxes) for boxes_name, boxes in box_sources.items()}}
            saved["clusters"] = annotated_cluster_scores(args.output / name, data)
            atomic_write_json(path, saved)
    # every kept adaptation of these settings, whatever its varied ones
    cluster_rows: list[list[Any]] = []
    same = {k: v for k, v in settings_key.items() if k not in VARIED}
    for path in sorted(RESULTS_DIR.glob("*.json")):
        saved = json.loads(path.read_text())
        if {k: v for k, v in saved["settings"].items() if k not in VARIED} != same or "clusters" not in saved:
            continue
        label = ", ".join([path.stem, *(VARIED[key][2].format(saved["settings"][key]) for key in VARIED)])
        cluster_rows.append([label, saved["clusters"]["clusters"], saved["clusters"]["boxes_scored"],
                             saved["clusters"]["identities"], saved["clusters"]["pair_precision"],
                             saved["clusters"]["pair_recall"]])
        for boxes_name, reports in saved["reports"].items():
            rows += _row(f"after adapt ({label}, {saved['cpu_minutes']:.1f} CPU min)", boxes_name, reports)
    table = bench_report.markdown_table(["features", "boxes", "gallery", "mAP", "top-1", "top-5", "queries"], rows)
    clusters = bench_report.markdown_table(
        ["adaptation", "clusters (last epoch)", "boxes with an eye-checked identity", "identities",
         "pair precision", "pair recall"], cluster_rows)
    print(table, clusters, sep="\n")
    if args.no_write:
        return
    body = (f"## Adapting to real footage without labels (`personsearch adapt`, vtest.avi)\n\n"
            f"{bench_report.section_preamble()}"
            f"- data: `{args.root}` ({len(data.gallery)} annotated frames, {len(data.queries)} queries, "
            "identities checked by eye; docs/real_set.md); adaptation on every "
            f"N-th frame of `{args.video}` (N in each row) with SSDLite boxes only, {args.epochs} epochs, "
            f"re-ID head and embedding trained; checkpoint `{checkpoint.name}`; boxes embedded at the person "
            "scale the checkpoint records (the adapted one keeps it; adaptation trains at that scale)\n"
            "- galleries: `10 s apart` (the set's protocol) and PRW's `all frames`; reading in docs/dicl.md\n\n"
            + table + "\n### Pseudo identities of the last clustering, scored on the annotated frames\n\n" + clusters)
    bench_report.update_section(SECTION, body)


if __name__ == "__main__":
    main()
