"""Turn a training checkpoint into the small inference checkpoint shipped with the package.

Keeps only what `load_search_model` needs ("model_kwargs", "model"), stores floating-point
tensors as float16 (loading copies them back into float32 parameters), and records where it
came from.

    python scripts/export_demo_checkpoint.py runs/demo/last.pth src/personsearch/assets/demo_seqnet.pth
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import torch

from personsearch.utils.atomic import atomic_torch_save


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    weights = {k: v.half() if v.is_floating_point() else v for k, v in state["model"].items()}
    atomic_torch_save(args.out, {
        "model_kwargs": state["model_kwargs"],
        "model": weights,
        "source": {"checkpoint": args.checkpoint.name, "epoch": int(state.get("epoch", -1)),
                   "sha256": hashlib.sha256(args.checkpoint.read_bytes()).hexdigest(),
                   "config": state.get("config", {})},
    })
    print(f"wrote {args.out} ({args.out.stat().st_size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
