"""`personsearch index`: index a gallery (a folder of images and videos, or a video) into one index file.

    personsearch index --gallery archive/ --out archive.index.npz
    personsearch index --gallery archive/ --out archive.index.npz --engine ray --workers 8 --ray-address auto

The work is cut into shards (runs of files, or frame ranges of videos). The local engine runs
them here; the ray engine runs them on Ray actors (the model loaded once per actor), on a
local Ray instance or on the cluster named by --ray-address (passed to ray.init: "auto" for the
cluster this machine is part of, "ray://HEAD:10001" for a remote one; every node must see the
gallery at the same path). Both build the same index (bit for bit with the same --threads on the same
kind of CPU; otherwise within float rounding). Finished shards are kept in --work-dir
until the index is written, so a rerun after a failure skips them; a rerun on an existing index
only processes new or changed pictures and drops removed ones.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from personsearch.detectors import DETECTORS, REID_MODELS, SHIPPED_REID

ENGINES = ("local", "ray")


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("index", help="index a gallery of images or videos (locally or on Ray)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gallery", required=True, help="folder of images and videos, or a video file")
    parser.add_argument("--out", required=True, help="index file to write (updated in place when it exists)")
    parser.add_argument("--engine", choices=ENGINES, default="local", help="where shards run (default local)")
    parser.add_argument("--checkpoint", help="person search checkpoint (default: the demo model shipped in the package)")
    parser.add_argument("--detector", choices=DETECTORS,
                        help="who finds the people: the model itself or the offline SSDLite detector (default as in "
                        "`personsearch search`: ssdlite for the shipped model, the model itself for your own "
                        "--checkpoint)")
    parser.add_argument("--reid", choices=REID_MODELS,
                        help=f"who compares the people (as in `personsearch search`; default: {SHIPPED_REID} for the "
                        "shipped model, model for your own --checkpoint)")
    parser.add_argument("--frame-stride", type=int, default=1, help="for videos: index every N-th frame (default 1)")
    parser.add_argument("--recursive", action="store_true", help="also index sub-folders")
    parser.add_argument("--score-threshold", type=float, default=0.5, help="keep detections scoring at least this")
    parser.add_argument("--batch-size", type=int, default=4, help="pictures per model call")
    parser.add_argument("--shard-size", type=int, default=64, help="pictures per shard (default 64)")
    parser.add_argument("--work-dir", help="where finished shards are kept (default: OUT.shards)")
    parser.add_argument("--feature-dtype", choices=("float16", "float32"), default="float16")
    parser.add_argument("--device", default="cpu", help="torch device of each worker, e.g. cpu, cuda")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads of the model here (local) or in each Ray actor (its CPUs); the same "
                             "count on both engines gives the same index bit for bit (default 1)")
    parser.add_argument("--workers", type=int, default=2, help="ray: actors, each with the model loaded once")
    parser.add_argument("--ray-address", default=None,
                        help="ray: cluster address for ray.init (default: start a local Ray instance)")
    parser.add_argument("--retries", type=int, default=2, help="ray: times a failed shard is run again")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from personsearch.commands.search import resolve_search_model
    from personsearch.index import LocalEngine, SearchModelSpec, index_gallery

    checkpoint, detector, reid = resolve_search_model(args.checkpoint, detector=args.detector, reid=args.reid)
    spec = SearchModelSpec(checkpoint=None if checkpoint is None else str(checkpoint), detector=detector, reid=reid,
                           device=args.device, score_threshold=args.score_threshold, batch_size=args.batch_size)
    if args.threads < 1:
        raise ValueError(f"--threads must be >= 1, got {args.threads}")
    if args.engine == "ray":
        from personsearch.index.ray_engine import RayEngine

        engine = RayEngine(spec, workers=args.workers, address=args.ray_address, cpus_per_worker=args.threads,
                           retries=args.retries)
    else:
        import torch

        torch.set_num_threads(args.threads)
        engine = LocalEngine(spec.build())
    out = Path(args.out)
    index = index_gallery(
        engine, args.gallery, model_id=spec.model_id(), index_path=out, score_threshold=args.score_threshold,
        frame_stride=args.frame_stride, recursive=args.recursive, feature_dtype=args.feature_dtype,
        shard_size=args.shard_size, work_dir=args.work_dir or out.with_name(out.name + ".shards"),
    )
    print(json.dumps({"index": str(out), "pictures": len(index.images), "boxes": index.num_detections,
                      "exact": index.exact, **index.stats}))
    return 0
