"""`personsearch search`: find the person in a box of a query image in a folder of images or a video."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from importlib import resources
from pathlib import Path

from personsearch.detectors import DETECTORS, IMAGENET_REID, REID_MODELS, SHIPPED_REID, resolve_pipeline
from personsearch.export import PYTORCH, RUNTIMES
from personsearch.utils.atomic import atomic_write_json

DEFAULT_CHECKPOINT = "demo_seqnet.pth"
SHIPPED_TEXT_MODEL = "text_minilm_mnv2.pth"  # trained changes to the offline MiniLM + MobileNetV2


def shipped_asset(name: str) -> Path:
    """Path of a file shipped in the package (personsearch/assets/), whether or not it exists."""
    return Path(str(resources.files("personsearch") / "assets" / name))


def default_checkpoint() -> Path:
    """The demo checkpoint shipped in the package (personsearch/assets/)."""
    path = shipped_asset(DEFAULT_CHECKPOINT)
    if not path.is_file():
        raise FileNotFoundError(
            f"no --checkpoint given and this installation ships no default checkpoint ({path}); "
            "pass --checkpoint PATH to a trained person search model"
        )
    return path


def resolve_search_model(
    checkpoint: str | Path | None, *, detector: str | None, reid: str | None, pytorch: bool = True
) -> tuple[Path | None, str, str]:
    """(checkpoint, detector, reid) with the defaults filled in: no checkpoint means the shipped model
    and the pipeline shipped for real pictures (`personsearch.detectors.resolve_pipeline`); the
    checkpoint stays None only for ImageNet features, which need none."""
    detector, reid = resolve_pipeline(shipped=checkpoint is None, detector=detector, reid=reid, pytorch=pytorch)
    if checkpoint is None and reid != IMAGENET_REID:
        checkpoint = default_checkpoint()
    return (None if checkpoint is None else Path(checkpoint)), detector, reid


def parse_box(text: str) -> tuple[float, float, float, float]:
    parts = text.replace(" ", "").split(",")
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"box must be x1,y1,x2,y2 (four numbers), got {text!r}")
    return values


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "search",
        help="find a query person in a folder of images or a video",
        description=__doc__,
    )
    parser.add_argument("--gallery", required=True, help="folder of scene images, or a video file")
    parser.add_argument("--query", required=True, help="image showing the query person")
    parser.add_argument("--box", required=True, type=parse_box, help="query person box x1,y1,x2,y2 in pixels")
    parser.add_argument("--top-k", type=int, default=10, help="number of hits to report (default 10)")
    parser.add_argument("--checkpoint", help="model checkpoint (default: the demo model shipped in the package)")
    parser.add_argument("--index", help="gallery index file (default: a hidden file in the gallery folder)")
    parser.add_argument("--out", default="personsearch_search", help="output folder (default ./personsearch_search)")
    parser.add_argument("--frame-stride", type=int, default=1, help="for videos: index every N-th frame (default 1)")
    parser.add_argument("--recursive", action="store_true", help="also index images in sub-folders")
    parser.add_argument(
        "--detector",
        choices=DETECTORS,
        help="who finds the people: the model itself, or the offline SSDLite person detector, trained on real "
        "photographs, whose boxes the model then embeds (default: ssdlite for the shipped model and with --reid "
        "imagenet or model+imagenet; the model itself for your own --checkpoint)",
    )
    parser.add_argument(
        "--reid",
        choices=REID_MODELS,
        help="who compares the people: the checkpoint's re-ID head; ImageNet MobileNetV2 features with no person "
        "training (offline weights), the generic fallback; or both, their similarities averaged. Default: "
        f"{SHIPPED_REID} for the shipped model (the best on the project's real footage set), model for your own "
        "--checkpoint",
    )
    parser.add_argument("--score-threshold", type=float, default=0.5, help="keep detections scoring at least this")
    parser.add_argument("--weight-by-detection", action="store_true", help="multiply similarity by detection score")
    parser.add_argument("--batch-size", type=int, default=4, help="pictures per model call while indexing")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu, cuda, cuda:1, mps")
    add_runtime_arguments(parser)
    parser.set_defaults(func=run)


def add_runtime_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--runtime",
        choices=RUNTIMES,
        default=PYTORCH,
        help="run the models in PyTorch (default) or their ONNX graphs in onnxruntime (CPU)",
    )
    parser.add_argument(
        "--onnx-dir",
        help="with --runtime onnx: folder of `personsearch export onnx` graphs (what it lacks is exported "
        "there first; default: a temporary folder)",
    )


def _searcher(searcher_class, args: argparse.Namespace):
    try:
        return searcher_class.create(
            args.checkpoint, detector=args.detector, reid=args.reid, runtime=args.runtime, onnx_dir=args.onnx_dir,
            device=args.device, score_threshold=args.score_threshold, batch_size=args.batch_size,
        )  # fmt: skip
    except ValueError as exc:
        raise SystemExit(f"personsearch search: {exc}") from exc


def run(args: argparse.Namespace) -> int:
    from personsearch.api import PersonSearcher
    from personsearch.viz import write_contact_sheet, write_html_report

    searcher = _searcher(PersonSearcher, args)
    index = searcher.index(args.gallery, args.index, frame_stride=args.frame_stride, recursive=args.recursive)
    stats = index.stats
    print(
        f"gallery: {len(index.images)} pictures ({stats['processed']} processed, {stats['reused']} reused), "
        f"{index.num_detections} people detected, {len(index.skipped)} unreadable skipped"
    )
    hits = searcher.search(args.query, args.box, top_k=args.top_k, weight_by_detection=args.weight_by_detection)

    out = Path(args.out)
    report = write_html_report(out, query_image=args.query, query_box=args.box, hits=hits)
    sheet = write_contact_sheet(out / "contact_sheet.png", query_image=args.query, query_box=args.box, hits=hits)
    atomic_write_json(
        out / "results.json",
        {
            "query": {"image": str(args.query), "box": list(args.box)},
            "gallery": str(args.gallery),
            "model_id": searcher.model_id,
            "weight_by_detection": args.weight_by_detection,
            "skipped": [asdict(item) for item in index.skipped],
            "hits": [asdict(hit) for hit in hits],
        },
    )
    print(f"{'rank':>4}  {'similarity':>10}  {'detection':>9}  box  image")
    for hit in hits:
        box = ",".join(f"{v:.0f}" for v in hit.box)
        print(f"{hit.rank:>4}  {hit.score:>10.3f}  {hit.detection_score:>9.2f}  {box}  {hit.image}")
    print(f"report: {report}\ncontact sheet: {sheet}\nresults: {out / 'results.json'}")
    return 0
