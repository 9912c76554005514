"""Inference speed and peak memory of SeqNet on each backbone at two input sizes, on the CPU.

    python benchmarks/bench_inference.py [--backbones mobilenet_v2 resnet18] [--images 50] [--size small]

The model is the `seqnet_synth_prw` preset (random weights, seed 0) on each registered
backbone; input short side 360 (long side at most 640) and 540 (at most 960). Each
configuration runs in a fresh Python process over the first N gallery images of a
synthetic PRW-format world (one warm-up image, then N timed, batch 1, detection +
embeddings), so its peak resident set size is its own. Ratios are against
mobilenet_v2 at 360 measured in the same run. Random weights detect a different number
of people than trained ones (both RoI stages run on every proposal either way; only the
final score threshold and NMS depend on it), hence the detections column.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import report as bench_report
from backbone_common import (
    BASELINE_INPUT,
    INPUT_SIZES,
    Variant,
    ensure_prw_world,
    measure_inference,
    random_model_kwargs,
)

from personsearch.data.catalog import load_dataset
from personsearch.models.backbones import list_backbones

SECTION = "inference-speed"
BASELINE_BACKBONE = "mobilenet_v2"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbones", nargs="+", default=list_backbones(), choices=list_backbones())
    parser.add_argument("--input-sizes", nargs="+", type=int, default=list(INPUT_SIZES), choices=list(INPUT_SIZES))
    parser.add_argument("--images", type=int, default=50, help="gallery images timed per configuration")
    parser.add_argument("--size", default="small", help="synthetic world size (tiny, small, ...)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=Path("data/worlds"))
    parser.add_argument("--root", type=Path, help="an existing PRW-format root (default: the synthetic world)")
    parser.add_argument("--threads", type=int, help="torch threads per measurement (default: torch's choice)")
    parser.add_argument("--no-write", action="store_true", help="print, do not update BENCHMARKS.md")
    args = parser.parse_args()

    root = args.root or ensure_prw_world(args.size, args.seed, args.cache)
    gallery = load_dataset("prw", root).gallery
    images = [record.image_path for record in gallery[: args.images]]
    if not images:
        raise SystemExit(f"{root}: no gallery image")
    # the in-run baseline first, so every later row has its ratio
    order = sorted(((b, s) for b in args.backbones for s in args.input_sizes),
                   key=lambda c: (c != (BASELINE_BACKBONE, BASELINE_INPUT),))
    figures: dict[tuple[str, int], dict] = {}
    for backbone, min_size in order:
        kwargs = random_model_kwargs(Variant(f"{backbone}_random", backbone, "none"))
        figures[(backbone, min_size)] = measure_inference(
            images=images, min_size=min_size, max_size=INPUT_SIZES[min_size], model_kwargs=kwargs, threads=args.threads)
        f = figures[(backbone, min_size)]
        print(f"{backbone}@{min_size}: {f['images_per_s']:.2f} img/s, peak RSS {f['peak_rss_mib']:.0f} MiB "
              f"(+{f['inference_rss_mib']:.0f} MiB in inference), {f['detections_per_image']:.1f} detections/image")
    base = figures.get((BASELINE_BACKBONE, BASELINE_INPUT)) or figures[order[0]]
    base_name = (f"{BASELINE_BACKBONE}@{BASELINE_INPUT}" if (BASELINE_BACKBONE, BASELINE_INPUT) in figures
                 else f"{order[0][0]}@{order[0][1]}")
    rows = []
    for backbone in args.backbones:
        for min_size in args.input_sizes:
            f = figures[(backbone, min_size)]
            rows.append([backbone, f"{f['params_m']:.1f}", f"{min_size} / {INPUT_SIZES[min_size]}", f["images_per_s"],
                         f"{f['ms_per_image']:.0f}", f"{f['images_per_s'] / base['images_per_s']:.2f}x",
                         f"{f['peak_rss_mib']:.0f}", f"{f['inference_rss_mib']:.0f}",
                         f"{f['peak_rss_mib'] / base['peak_rss_mib']:.2f}x", f"{f['detections_per_image']:.1f}"])
    table = bench_report.markdown_table(
        ["backbone", "params (M)", "input (short / max long)", "images/s", "ms/image", f"speed vs {base_name}",
         "peak RSS (MiB)", "inference RSS (MiB)", f"peak RSS vs {base_name}", "detections/image"], rows)
    print(table)
    if args.no_write:
        return
    world = f"root `{args.root}`" if args.root else f"synthetic `prw` world, size `{args.size}`, seed {args.seed}"
    body = (
        f"## Inference speed and memory (SeqNet, random weights, CPU)\n\n{bench_report.section_preamble()}"
        f"- data: first {len(images)} gallery images of the {world}; one warm-up image, then all timed, batch 1\n"
        f"- model: `seqnet_synth_prw` preset (7x7 RoIs, 100 test proposals), random weights (seed 0), "
        f"{base['threads']} torch threads\n"
        "- peak RSS: the measuring process's peak resident set size (Python, torch, model, decoded images); "
        "inference RSS: that peak minus the resident size just before the first forward pass\n"
        f"- each row is a fresh process; ratios are against {base_name} of this run\n\n" + table)
    bench_report.update_section(SECTION, body)


if __name__ == "__main__":
    main()
