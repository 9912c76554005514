"""Re-ID on real footage: the real set (vtest.avi, identities checked by eye, docs/real_set.md),
scored with the scene search protocol.

Side by side, on the same boxes: a colour histogram (baselines/handcrafted.py), ImageNet
MobileNetV2 pooled features (baselines/imagenet.py, no person training) and the shipped model's
re-ID head, and the last two together (their similarities averaged, no training), each on the
SSDLite person detector's boxes and on the ground-truth boxes; and the shipped model end to end
on its own detections. Two galleries: time-separated (frames at least
10 s from the query frame, the set's protocol) and PRW's plain all-frames gallery, whose
neighbouring frames continuity alone can answer.

    bash scripts/fetch_vtest.sh && python scripts/build_real_set.py
    python benchmarks/bench_real_footage.py [--checkpoint PATH] [--root data/real/vtest-prw]
        [--candidate LABEL=PATH ...]

When the checkpoint records the person scale it was trained at ("person_height",
scripts/export_demo_checkpoint.py), the model is also measured embedding each box at that scale
(personsearch.models.person_scale), alone and averaged with ImageNet: the latter is the pipeline
`personsearch search` ships for real pictures. `--candidate LABEL=PATH` adds another trained
one-step model under that label, measured the same way at the shipped model's person scale: how
the transfer levers of docs/real_set.md were compared.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

import report as bench_report

from personsearch.baselines.handcrafted import colour_histogram_features
from personsearch.baselines.imagenet import ImageNetCropEmbedder
from personsearch.commands.search import default_checkpoint
from personsearch.data.real.vtest import load_real_set
from personsearch.data.scene_dataset import image_to_tensor
from personsearch.engine.inference import run_search_inference
from personsearch.evaluation.detections import GalleryDetections
from personsearch.evaluation.results_file import SearchResults
from personsearch.evaluation.scene_evaluator import evaluate_search_results
from personsearch.methods.supervised import results_from_arrays
from personsearch.models.person_scale import embed_at_person_scale
from personsearch.models.search_model import load_search_model
from personsearch.models.ssdlite_person import load_ssdlite_person_detector
from personsearch.utils.atomic import atomic_write_json

SECTION = "real-footage"
RESULTS = Path(__file__).resolve().parent / "results" / SECTION  # one JSON per finished row
GALLERIES = {"10 s apart": None, "all frames": 0.0}  # min_gap_seconds: the set's own rule, or none


def load_with_person_height(checkpoint: Path) -> tuple[torch.nn.Module, float | None]:
    """A checkpoint's model (the file read once) and the person height it records, if any."""
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    return load_search_model(state, "cpu"), state.get("person_height")


def tensor_extractor(module, *, person_height: float | None = None):
    """Features of boxes in a picture; with `person_height`, each box embedded at that person scale."""

    @torch.inference_mode()
    def extract(image: Image.Image, boxes: np.ndarray) -> np.ndarray:
        boxes = torch.as_tensor(np.asarray(boxes, np.float32))
        if person_height is not None:
            return embed_at_person_scale(module, [image_to_tensor(image)], [boxes], person_height).float().numpy()
        return module.extract_query_features([image_to_tensor(image)], [boxes]).float().numpy()

    return extract


def averaged(first, second):
    """Both unit vectors side by side: their similarity is the mean of the two similarities."""
    return lambda image, boxes: np.concatenate([first(image, boxes), second(image, boxes)], axis=1) / np.sqrt(2.0)


def candidate_argument(text: str) -> tuple[str, Path]:
    label, sep, path = text.partition("=")
    if not sep or not label or not Path(path).is_file():
        raise argparse.ArgumentTypeError(f"expected LABEL=PATH to a checkpoint file, got {text!r}")
    return label, Path(path)


def ssdlite_boxes(data) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    detector = load_ssdlite_person_detector()
    found = {}
    with torch.inference_mode():
        for record in tqdm(data.gallery, desc="SSDLite"):
            out = detector([image_to_tensor(Image.open(record.image_path).convert("RGB"))])[0]
            found[record.name] = (out["boxes"].numpy().astype(np.float32), out["scores"].numpy().astype(np.float32))
    return found


def score_boxes(data_by_gallery: dict, extract, boxes: dict[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, dict]:
    """Features of the given gallery boxes and of the query boxes, scored on each gallery."""
    data = next(iter(data_by_gallery.values()))
    names, index, all_boxes, scores, feats = [], [], [], [], []
    for i, record in enumerate(data.gallery):
        names.append(record.name)
        det_boxes, det_scores = boxes[record.name]
        if len(det_boxes):
            feats.append(extract(Image.open(record.image_path).convert("RGB"), det_boxes))
            all_boxes.append(det_boxes)
            scores.append(det_scores)
            index.append(np.full(len(det_boxes), i))
    query_feats = np.concatenate([extract(Image.open(q.image_path).convert("RGB"), q.box[None]) for q in data.queries])
    gallery = GalleryDetections(names=np.asarray(names), image_index=np.concatenate(index),
                                boxes=np.concatenate(all_boxes), scores=np.concatenate(scores), feats=np.concatenate(feats))
    results = SearchResults(gallery=gallery, query_feats=query_feats)
    return {name: evaluate_search_results(results, gallery_data) for name, gallery_data in data_by_gallery.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=Path("data/real/vtest-prw"))
    parser.add_argument("--checkpoint", type=Path, help="one-step model (default: the shipped demo model)")
    parser.add_argument("--candidate", action="append", default=[], type=candidate_argument, metavar="LABEL=PATH",
                        help="another one-step model to compare, under LABEL (repeatable)")
    parser.add_argument("--person-height-sweep", type=float, nargs="*", default=[], metavar="PIXELS",
                        help="also measure the shipped model at these person heights (sensitivity)")
    parser.add_argument("--no-write", action="store_true", help="print, do not update BENCHMARKS.md")
    parser.add_argument("--force", action="store_true", help=f"re-measure rows whose result is kept in {RESULTS}")
    args = parser.parse_args()
    if not args.root.is_dir():
        raise SystemExit(f"{args.root} not found: bash scripts/fetch_vtest.sh && python scripts/build_real_set.py")
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    checkpoint = args.checkpoint or default_checkpoint()
    data_by_gallery = {name: load_real_set(args.root, min_gap_seconds=gap) for name, gap in GALLERIES.items()}
    data = data_by_gallery["10 s apart"]
    model, person_height = load_with_person_height(checkpoint)
    imagenet = tensor_extractor(ImageNetCropEmbedder())
    embedders = {"colour histogram": colour_histogram_features, "ImageNet MobileNetV2 (pooled)": imagenet}
    weights_of = {}  # features -> the checkpoint they come from
    for label, path in [("shipped model", checkpoint), *args.candidate]:
        one_step = model if path == checkpoint else load_search_model(str(path), "cpu")
        if path == checkpoint:  # also at the model's own input size, as the one-step model sees pictures
            plain = tensor_extractor(one_step)
            embedders[f"shipped model ({checkpoint.name})"] = plain
            embedders["shipped model + ImageNet, similarities averaged"] = averaged(plain, imagenet)
            weights_of[f"shipped model ({checkpoint.name})"] = str(path)
            weights_of["shipped model + ImageNet, similarities averaged"] = str(path)
        if person_height is None:
            continue
        scaled = tensor_extractor(one_step, person_height=person_height)
        embedders[f"{label} at person scale"] = scaled
        embedders[f"{label} at person scale + ImageNet, similarities averaged"] = averaged(scaled, imagenet)
        weights_of[f"{label} at person scale"] = str(path)
        weights_of[f"{label} at person scale + ImageNet, similarities averaged"] = str(path)
    for height in args.person_height_sweep:
        embedders[f"shipped model at person height {height:g} px"] = tensor_extractor(model, person_height=height)
        weights_of[f"shipped model at person height {height:g} px"] = str(checkpoint)
    box_sources = {
        "SSDLite": functools.cache(lambda: ssdlite_boxes(data)),
        "ground truth": lambda: {r.name: (np.asarray(r.boxes, np.float32), np.ones(len(r.boxes), np.float32))
                                 for r in data.gallery},
    }
    rows = []

    def measured(features: str, boxes: str, measure) -> None:
        """Run `measure() -> reports` unless this row's result is kept; add its rows."""
        file = RESULTS / (re.sub(r"[^a-z0-9]+", "-", f"{features} {boxes}".lower()).strip("-") + ".json")
        if file.is_file() and not args.force:
            kept = json.loads(file.read_text())
            reports, seconds = kept["reports"], kept["seconds"]
        else:
            start = time.perf_counter()
            reports = measure()
            seconds = time.perf_counter() - start
            atomic_write_json(file, {"checkpoint": weights_of.get(features), "seconds": seconds, "reports": {
                gallery: {k: float(v) for k, v in report.items() if isinstance(v, (int, float, np.number))}
                for gallery, report in reports.items()}})
        for gallery, report in reports.items():
            detection = ["-", "-"] if boxes == "ground truth" else [report["det_ap"], report["det_recall"]]
            rows.append([features, boxes, gallery, report["mAP"], report["top1"], report["top5"], *detection,
                         int(report["num_queries"])])
            print(rows[-1], flush=True)

    for boxes_name, boxes in box_sources.items():
        for features, extract in embedders.items():
            measured(features, boxes_name, lambda: score_boxes(data_by_gallery, extract, boxes()))

    def own_detections() -> dict[str, dict]:
        results = results_from_arrays(run_search_inference(model, data, torch.device("cpu"), 1, progress=True))
        return {name: evaluate_search_results(results, gallery_data) for name, gallery_data in data_by_gallery.items()}

    measured(f"shipped model ({checkpoint.name})", "its own detections", own_detections)
    if args.no_write:
        return
    labelled = sum(int((r.pids >= 0).sum()) for r in data.gallery)
    body = (f"## Real footage: vtest.avi, identities checked by eye\n\n{bench_report.section_preamble()}"
            f"- data: `{args.root}` ({len(data.gallery)} frames, {sum(len(r.boxes) for r in data.gallery)} boxes, "
            f"{labelled} with one of 6 identities, {len(data.queries)} queries; docs/real_set.md); "
            f"checkpoint `{checkpoint.name}`\n"
            "- galleries: `10 s apart` = only frames at least 10 s from the query frame (the set's protocol); "
            "`all frames` = PRW's, neighbouring frames of the same walk included\n"
            "- det AP / recall against the eye-checked boxes, which started as SSDLite proposals (favours SSDLite)\n"
            "- 12 queries: one query more or less at rank 1 moves top-1 by 8.3 points\n\n"
            + bench_report.markdown_table(["features", "boxes", "gallery", "mAP", "top-1", "top-5", "det AP",
                                           "det recall", "queries"], rows))
    bench_report.update_section(SECTION, body)


if __name__ == "__main__":
    main()
