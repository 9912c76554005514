"""Turn a training checkpoint into the small inference checkpoint shipped with the package.

Keeps only what `load_search_model` needs ("model_kwargs", "model"), stores floating-point
tensors as float16 (loading copies them back into float32 parameters), and records where it
came from. With --person-height-from, it also records the median height of the training
world's people at the model's input size ("person_height"): boxes from another detector are
then embedded at that person scale (personsearch.models.person_scale). The input may be an
earlier export, whose record of origin is kept.

    python scripts/export_demo_checkpoint.py runs/demo/last.pth src/personsearch/assets/demo_seqnet.pth \
        --person-height-from data/worlds/prw-small-seed0
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import torch

from personsearch.data.catalog import load_dataset
from personsearch.models.person_scale import training_person_height
from personsearch.utils.atomic import atomic_torch_save


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--person-height-from", type=Path, metavar="ROOT",
                        help="the training dataset (its layout named by the checkpoint's config, data.name)")
    args = parser.parse_args()
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    weights = {k: v.half() if v.is_floating_point() else v for k, v in state["model"].items()}
    source = state.get("source") or {
        "checkpoint": args.checkpoint.name, "epoch": int(state.get("epoch", -1)),
        "sha256": hashlib.sha256(args.checkpoint.read_bytes()).hexdigest(), "config": state.get("config", {})}
    exported = {"model_kwargs": state["model_kwargs"], "model": weights, "source": source}
    if args.person_height_from is not None:
        kwargs = state["model_kwargs"]
        records = load_dataset(source["config"]["data"]["name"], args.person_height_from).train
        exported["person_height"] = training_person_height(records, min_size=kwargs["min_size"],
                                                           max_size=kwargs["max_size"])
        print(f"training people: median height {exported['person_height']:.1f} px at the model's input size")
    atomic_torch_save(args.out, exported)
    print(f"wrote {args.out} ({args.out.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
