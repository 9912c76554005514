"""A trained one-step model scored twice on a PRW-format world: on its own detections, and with
its re-ID head applied to the ground-truth boxes (detection taken out), to set beside the
hand-crafted baseline on the same boxes (`bench_handcrafted_baseline.py`). Both on PRW's
all-frames and cross-camera galleries.

    python benchmarks/bench_learned_reid.py --checkpoint runs/demo/last.pth --root data/worlds/prw-small-seed0
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

import report as bench_report
from bench_handcrafted_baseline import score_box_features, score_galleries

from personsearch.data.catalog import load_dataset
from personsearch.data.scene_dataset import image_to_tensor
from personsearch.engine.inference import run_search_inference
from personsearch.methods.supervised import results_from_arrays
from personsearch.models.search_model import load_search_model

SECTION = "learned-reid-prw"


def model_features(model):
    """`extract(image, boxes)` for `score_box_features`: the model's re-ID head on given boxes."""

    @torch.inference_mode()
    def extract(image, boxes: np.ndarray) -> np.ndarray:
        boxes = torch.as_tensor(np.asarray(boxes, np.float32))
        return model.extract_query_features([image_to_tensor(image)], [boxes]).numpy()

    return extract


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--root", type=Path, required=True, help="a PRW-format root")
    parser.add_argument("--no-write", action="store_true", help="print, do not update BENCHMARKS.md")
    args = parser.parse_args()
    data = load_dataset("prw", args.root)
    model = load_search_model(str(args.checkpoint), "cpu")
    rows = []
    for boxes in ("own detections", "ground-truth boxes"):
        start = time.perf_counter()
        if boxes == "own detections":
            results = results_from_arrays(run_search_inference(model, data, torch.device("cpu"), 1, progress=True))
            reports = score_galleries(results, data)
        else:
            reports = score_box_features(data, model_features(model), desc="gallery (ground-truth boxes)")
        seconds = time.perf_counter() - start
        for gallery, report in reports.items():
            rows.append(["SeqNet + MobileNetV2", boxes, gallery, report["mAP"], report["top1"], report["top5"],
                         report.get("det_ap", 100.0), report.get("det_recall", 100.0), report["num_queries"],
                         report["num_skipped"], f"{seconds:.0f}"])
            print(rows[-1], flush=True)
    if args.no_write:
        return
    body = (f"## Learned model on its own detections and on ground-truth boxes (prw)\n\n"
            f"{bench_report.section_preamble()}- data: root `{args.root}`; checkpoint `{args.checkpoint}`\n\n"
            + bench_report.markdown_table(["model", "boxes", "gallery", "mAP", "top-1", "top-5", "det AP",
                                           "det recall", "queries", "skipped", "seconds"], rows))
    bench_report.update_section(SECTION, body)


if __name__ == "__main__":
    main()
