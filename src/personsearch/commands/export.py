"""`personsearch export onnx`: write a checkpoint's models as ONNX graphs for onnxruntime."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from personsearch.detectors import DETECTORS, OWN_DETECTOR


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("export", help="export models for deployment (ONNX)", description=__doc__)
    formats = parser.add_subparsers(dest="format", metavar="FORMAT", required=True)
    onnx = formats.add_parser(
        "onnx",
        help="write the detector, the embedder and (with --text-checkpoint) the text encoders as ONNX graphs",
        description="Write ONNX graphs and a manifest.json into --out. The search model becomes three graphs "
        "(backbone + RPN head, stage-1 box head, re-ID head); anchors, box decoding, NMS and RoIAlign stay in "
        "torchvision around them (docs/onnx.md). Use the folder with `search`/`serve --runtime onnx --onnx-dir`.",
    )
    onnx.add_argument("--checkpoint", help="person search checkpoint (default: the demo model shipped in the package)")
    onnx.add_argument("--out", required=True, help="output folder")
    onnx.add_argument(
        "--detector",
        choices=DETECTORS,
        default=OWN_DETECTOR,
        help="also export the offline SSDLite person detector with 'ssdlite' (default: the model's own detector only)",
    )
    onnx.add_argument("--text-checkpoint", help="also export a text model's image and text encoders")
    onnx.add_argument("--opset", type=int, default=17, help="ONNX opset version (default 17)")
    onnx.set_defaults(func=run_onnx)


def run_onnx(args: argparse.Namespace) -> int:
    from personsearch.commands.search import default_checkpoint
    from personsearch.export.onnx_export import export_onnx

    checkpoint = Path(args.checkpoint) if args.checkpoint else default_checkpoint()
    manifest_path = export_onnx(
        args.out, checkpoint=checkpoint, detector=args.detector, text_checkpoint=args.text_checkpoint, opset=args.opset
    )
    manifest = json.loads(manifest_path.read_text())
    for part in ("search_model", "ssdlite", "text"):
        if part in manifest:
            files = manifest[part].get("graphs") or {"graph": manifest[part]["graph"]}
            print(f"{part}: {', '.join(str(Path(args.out) / name) for name in files.values())}")
    print(f"manifest: {manifest_path}")
    return 0
