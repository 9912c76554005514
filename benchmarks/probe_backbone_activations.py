"""How large are a backbone's activations on target pictures, and which block makes them so?

    python benchmarks/probe_backbone_activations.py CHECKPOINT [CHECKPOINT ...] [--labels NAME ...]
                                                    [--pictures 4] [--size small] [--seed 0] [--no-write]

Every checkpoint (a training checkpoint, a `personsearch pretrain` export or a trained search
model) is loaded into the `seqnet_synth_prw` NAE model with `model.init_parts=backbone`, next to
the ImageNet-initialised one. On the first `--pictures` training frames of the synthetic PRW world
it reports the backbone's mean and largest absolute output, and the block whose output grows most
against ImageNet's when both are fed ImageNet's input to that block (the local amplification).
This is how the pre-training's activation blow-up was found and traced (docs/pretrainps.md).
The table goes to BENCHMARKS.md, section `backbone-activations` (`--no-write` prints it only).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

import report as bench_report
from backbone_common import ensure_prw_world

from personsearch.config import load_config
from personsearch.data.catalog import load_dataset
from personsearch.data.scene_dataset import image_to_tensor, read_rgb_image
from personsearch.methods.supervised import build_model, fill_model_kwargs

SECTION = "backbone-activations"
PRESET = "preset:seqnet_synth_prw"


def _backbone(model_cfg: dict, init_from: Path | None) -> torch.nn.Module:
    kwargs = fill_model_kwargs(model_cfg, num_pids=1, queue_size=lambda: 1)
    cfg = dict(model_cfg, init_from=str(init_from), init_parts="backbone") if init_from else model_cfg
    return build_model(kwargs, cfg).eval()


@torch.no_grad()
def probe(checkpoints: list[Path], pictures: list[torch.Tensor]) -> list[dict]:
    model_cfg = load_config(PRESET, ["model.name=nae"])["model"]
    reference = _backbone(model_cfg, None)
    inputs = reference.transform(pictures)[0].tensors
    rows = []
    for path in [None, *checkpoints]:
        blocks = reference.backbone if path is None else _backbone(model_cfg, path).backbone
        x_ref, x, local = inputs, inputs, []
        for block, ref_block in zip(blocks, reference.backbone):
            out_ref = ref_block(x_ref)
            local.append(float(block(x_ref).abs().mean() / out_ref.abs().mean()))
            x_ref, x = out_ref, block(x)
        worst = max(range(len(local)), key=local.__getitem__)
        rows.append({"checkpoint": "ImageNet" if path is None else str(path), "mean_abs": float(x.abs().mean()),
                     "max_abs": float(x.abs().max()), "worst_block": worst, "worst_local": local[worst]})
        print(rows[-1], flush=True)
    return rows


def _shown(path: str) -> str:
    parts = Path(path).parts
    return "/".join(parts[-3:]) if len(parts) > 3 else path


def section_body(rows: list[dict], names: list[str], *, pictures: int, size: str, seed: int) -> str:
    table = bench_report.markdown_table(
        ["backbone from", "mean abs activation", "x ImageNet", "largest", "most amplifying block", "its local factor"],
        [[name, f"{r['mean_abs']:.3f}", f"{r['mean_abs'] / rows[0]['mean_abs']:.1f}", f"{r['max_abs']:.1f}",
          r["worst_block"], f"{r['worst_local']:.2f}"] for name, r in zip(names, rows)])
    return ("## Backbone activations on target pictures (`probe_backbone_activations.py`)\n\n"
            f"{bench_report.section_preamble()}"
            f"- MobileNetV2 body of the `{PRESET}` NAE model; the first {pictures} training frames of the "
            f"synthetic `prw` world (size `{size}`, seed {seed}); local factor: the block's mean absolute "
            "output over ImageNet's when both get ImageNet's input to that block\n\n" + table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--labels", nargs="+", help="what each checkpoint is, for the table (default: its path)")
    parser.add_argument("--pictures", type=int, default=4, help="training frames of the target world fed through")
    parser.add_argument("--size", default="small", help="size of the synthetic PRW world")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic PRW world")
    parser.add_argument("--cache", type=Path, default=Path("data/worlds"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-write", action="store_true", help="print, do not update BENCHMARKS.md")
    args = parser.parse_args()
    if args.labels and len(args.labels) != len(args.checkpoints):
        parser.error(f"--labels needs one name per checkpoint ({len(args.checkpoints)})")
    torch.set_num_threads(args.threads)
    root = ensure_prw_world(args.size, args.seed, args.cache)
    records = load_dataset("prw", root).train[: args.pictures]
    rows = probe(args.checkpoints, [image_to_tensor(read_rgb_image(r.image_path)) for r in records])
    names = ["ImageNet", *(args.labels or [_shown(r["checkpoint"]) for r in rows[1:]])]
    body = section_body(rows, names, pictures=args.pictures, size=args.size, seed=args.seed)
    print(body)
    if not args.no_write:
        bench_report.update_section(SECTION, body)


if __name__ == "__main__":
    main()
