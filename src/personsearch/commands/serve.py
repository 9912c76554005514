"""`personsearch serve`: a local web app and JSON API to search a gallery by picture or description."""

from __future__ import annotations

import argparse

from personsearch.commands.search import add_runtime_arguments
from personsearch.detectors import DETECTORS, REID_MODELS, SHIPPED_REID

LOCALHOST = "127.0.0.1"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("serve", help="serve a search page and JSON API over a gallery", description=__doc__)
    parser.add_argument("--gallery", required=True,
                        help="folder of scene images, a video file, or a saved gallery index (.npz)")
    parser.add_argument("--host", default=LOCALHOST,
                        help=f"address to listen on (default {LOCALHOST}: this computer only)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    parser.add_argument("--checkpoint", help="person search checkpoint (default: the demo model shipped in the package)")
    parser.add_argument("--detector", choices=DETECTORS,
                        help="who finds the people: the model itself or the offline SSDLite person detector "
                        "(default: ssdlite for the shipped model, the model itself for your own --checkpoint)")
    parser.add_argument("--reid", choices=REID_MODELS,
                        help=f"who compares the people (as in `personsearch search`; default: {SHIPPED_REID} for the "
                        "shipped model, model for your own --checkpoint)")
    parser.add_argument("--text-checkpoint", help="a text model checkpoint: enables search by description")
    parser.add_argument("--frame-stride", type=int, default=1, help="for videos: index every N-th frame (default 1)")
    parser.add_argument("--score-threshold", type=float, default=0.5, help="keep detections scoring at least this")
    parser.add_argument("--max-upload-mb", type=float, default=20.0, help="largest query upload (default 20 MiB)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu, cuda")
    add_runtime_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from personsearch.serve.app import create_app
    from personsearch.serve.service import SearchService

    if args.max_upload_mb <= 0:
        raise ValueError(f"--max-upload-mb must be positive, got {args.max_upload_mb}")
    service = SearchService.open(
        args.gallery, checkpoint=args.checkpoint, detector=args.detector, reid=args.reid,
        text_checkpoint=args.text_checkpoint,
        runtime=args.runtime, onnx_dir=args.onnx_dir, device=args.device, frame_stride=args.frame_stride,
        score_threshold=args.score_threshold,
    )  # fmt: skip
    facts = service.facts()
    print(f"gallery {facts.name}: {facts.pictures} pictures, {facts.people} people"
          f"{'; text search on' if facts.text_search else ''}")
    if args.host != LOCALHOST:
        print(f"personsearch: listening on {args.host}: other computers can reach this gallery's pictures")
    print(f"open http://{'localhost' if args.host == LOCALHOST else args.host}:{args.port}/")
    app = create_app(service, max_upload_bytes=int(args.max_upload_mb * 1024 * 1024))
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
