"""`personsearch adapt`: fine-tune a search model's re-ID part on your own unlabelled footage.

    personsearch adapt --gallery FOLDER_OR_VIDEO --detector ssdlite --checkpoint CKPT --out RUN
                       [--tracklets] [--epochs 4] [--frame-stride 2]
    personsearch search --gallery FOLDER_OR_VIDEO --detector ssdlite --checkpoint RUN/search_model.pth ...

The detector's boxes are the only labels (no identity, no annotation); training uses DICL's
weakly supervised objectives (cluster memory, instance branch, spatial and occlusion contrast)
on the re-ID head and embedding, the detector and backbone stay as they were. --tracklets links
boxes of consecutive frames as must-links. Boxes alone in their cluster stay out of the cluster
contrast unless --singletons train (DICL's rule, which lowered search accuracy on real footage).
Rerunning the same command resumes from RUN/last.pth.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from personsearch.detectors import DETECTORS, SSDLITE


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("adapt", help="fine-tune re-ID on unlabelled footage (detector boxes, no identities)",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gallery", required=True, help="folder of scene images, or a video file")
    parser.add_argument("--checkpoint", help="search model to start from (default: the demo model in the package)")
    parser.add_argument("--out", required=True, help="run folder: checkpoints, weak boxes, search_model.pth")
    parser.add_argument("--detector", choices=DETECTORS, default=SSDLITE,
                        help="who finds the people: the offline SSDLite person detector (default) or the model itself")
    parser.add_argument("--frame-stride", type=int, default=2, help="for videos: use every N-th frame (default 2)")
    parser.add_argument("--score-threshold", type=float, default=0.5, help="detector score kept as a box (default 0.5)")
    parser.add_argument("--min-box-height", type=float, default=40.0, help="ignore shorter boxes, pixels (default 40)")
    parser.add_argument("--epochs", type=int, default=4, help="training epochs over the footage (default 4)")
    parser.add_argument("--lr", type=float, default=0.001, help="SGD learning rate (default 0.001)")
    parser.add_argument("--batch-size", type=int, default=2, help="pictures per step (default 2)")
    parser.add_argument("--tracklets", action="store_true",
                        help="boxes overlapping in consecutive frames must share a cluster")
    parser.add_argument("--cluster-eps", type=float, default=0.6,
                        help="DBSCAN eps on the k-reciprocal Jaccard distance; lower keeps fewer, purer clusters "
                             "(default 0.6)")
    parser.add_argument("--singletons", choices=("train", "ignore"), default="ignore",
                        help="boxes alone in their cluster: left out of the cluster contrast (default) or trained "
                             "as their own identity (DICL's training)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from personsearch.commands.search import default_checkpoint
    from personsearch.methods.dicl.adapt import AdaptSettings, adapt_to_footage, load_detector

    checkpoint = Path(args.checkpoint) if args.checkpoint else default_checkpoint()
    settings = AdaptSettings(frame_stride=args.frame_stride, score_threshold=args.score_threshold,
                             min_box_height=args.min_box_height, epochs=args.epochs, batch_size=args.batch_size,
                             lr=args.lr, tracklets=args.tracklets, cluster_eps=args.cluster_eps,
                             memory_singletons=args.singletons, seed=args.seed, device=args.device)
    exported = adapt_to_footage(gallery=args.gallery, checkpoint=checkpoint, out_dir=args.out,
                                detector=load_detector(args.detector, checkpoint), settings=settings)
    print(f"adapted model: {exported}\nsearch with: personsearch search --gallery {args.gallery} "
          f"--detector {args.detector} --checkpoint {exported} --query IMAGE --box x1,y1,x2,y2")
    return 0
