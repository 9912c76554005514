"""Eager PyTorch against onnxruntime on the same models and pictures, in one process, on the CPU.

    python benchmarks/bench_onnx.py [--models seqnet_mobilenet_v2 ssdlite ...] [--images 30] [--threads 1]

Rows (each exported with `personsearch.export.onnx_export`, run through
`personsearch.export.onnx_runtime`, so the non-learned steps are the same torchvision code):
- seqnet_mobilenet_v2: the demo checkpoint shipped in the package (detection + embeddings);
- seqnet_resnet50: the same configuration on ResNet-50, random weights (seed 0), a heavier backbone;
- ssdlite: the offline SSDLite person detector;
- ssdlite+seqnet_mobilenet_v2: detect-then-embed, the pipeline for real pictures.
Pictures: gallery scenes of a synthetic demo world (seed 1, which no shipped model saw), batch 1,
one warm-up picture per runtime, then the two runtimes in turn on each picture. torch and onnxruntime
get the same thread count. Outputs are compared picture by picture: where both runtimes keep the
same number of detections, the largest absolute difference of boxes (pixels), scores and embeddings.
Each finished row is kept in benchmarks/results/onnx_speed/<row>.json (re-run with --force to
measure again); the BENCHMARKS.md section `onnx-speed` is rebuilt from those files.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import report as bench_report
import torch

from personsearch.commands.search import default_checkpoint
from personsearch.utils.atomic import atomic_write_json

SECTION = "onnx-speed"
RESULTS = Path(__file__).resolve().parent / "results" / "onnx_speed"
MODELS = ("seqnet_mobilenet_v2", "seqnet_resnet50", "ssdlite", "ssdlite+seqnet_mobilenet_v2")


def scenes(count: int) -> list[torch.Tensor]:
    from personsearch.data.synth.world import SynthWorld

    world = SynthWorld(size="demo", seed=1)
    pictures = []
    for i in range(count):
        pixels = np.array(world.scene(i).image.convert("RGB"))
        pictures.append(torch.from_numpy(pixels).permute(2, 0, 1).float().div(255))
    return pictures


def resnet50_checkpoint(folder: Path) -> Path:
    from personsearch.models.search_model import build_search_model

    kwargs = dict(torch.load(default_checkpoint(), map_location="cpu", weights_only=True)["model_kwargs"])
    kwargs.update(backbone="resnet50", backbone_weights="none")
    torch.manual_seed(0)
    model = build_search_model(**kwargs)
    path = folder / "seqnet_resnet50_random.pth"
    torch.save({"model_kwargs": kwargs, "model": model.state_dict()}, path)
    return path


def build_pair(name: str, folder: Path, threads: int) -> tuple[torch.nn.Module, torch.nn.Module, str]:
    """(eager model, onnxruntime model, what the checkpoint is) for one row."""
    from personsearch.export.onnx_export import export_onnx
    from personsearch.export.onnx_runtime import load_onnx_search_model, load_onnx_ssdlite
    from personsearch.models.detect_then_embed import DetectThenEmbed
    from personsearch.models.search_model import load_search_model
    from personsearch.models.ssdlite_person import load_ssdlite_person_detector

    if name == "ssdlite":
        export_onnx(folder, detector="ssdlite")
        return load_ssdlite_person_detector(), load_onnx_ssdlite(folder, threads=threads), "offline SSDLite weights"
    checkpoint = resnet50_checkpoint(folder) if name == "seqnet_resnet50" else default_checkpoint()
    detector = "ssdlite" if name.startswith("ssdlite+") else "model"
    eager = load_search_model(checkpoint)
    if detector == "ssdlite":
        eager = DetectThenEmbed(detector=load_ssdlite_person_detector(), search_model=eager)
    onnx = load_onnx_search_model(checkpoint, detector=detector, folder=folder, threads=threads)
    return eager, onnx, "random weights" if name == "seqnet_resnet50" else "demo checkpoint"


def run_both(models: dict[str, torch.nn.Module], pictures: list[torch.Tensor]) -> tuple[dict, dict]:
    """Seconds and outputs per runtime; the runtimes alternate picture by picture, so a change in the
    machine's load during the run weighs on both alike."""
    seconds = dict.fromkeys(models, 0.0)
    outputs: dict[str, list[dict]] = {name: [] for name in models}
    with torch.inference_mode():
        for model in models.values():
            model([pictures[0]])  # warm-up
        for picture in pictures:
            for name, model in models.items():
                started = time.perf_counter()
                outputs[name].append(model([picture])[0])
                seconds[name] += time.perf_counter() - started
    return seconds, outputs


def differences(eager: list[dict], onnx: list[dict]) -> dict[str, float]:
    same = [(a, b) for a, b in zip(eager, onnx) if len(a["boxes"]) == len(b["boxes"])]
    found = {"same_count": len(same), "pictures": len(eager), "detections": sum(len(a["boxes"]) for a, _ in same)}
    for key in ("boxes", "scores", "embeddings"):
        gaps = [float((a[key] - b[key]).abs().max()) for a, b in same if key in a and len(a[key])]
        found[f"max_diff_{key}"] = max(gaps, default=0.0)
    return found


def measure(name: str, pictures: list[torch.Tensor], threads: int) -> dict:
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="bench-onnx-") as folder:
        eager, onnx, weights = build_pair(name, Path(folder), threads)
        seconds, outputs = run_both({"eager": eager, "onnx": onnx}, pictures)
    return {
        "model": name, "weights": weights, "pictures": len(pictures), "threads": threads,
        "eager_images_per_s": len(pictures) / seconds["eager"], "onnx_images_per_s": len(pictures) / seconds["onnx"],
        **differences(outputs["eager"], outputs["onnx"]), "machine": bench_report.machine_line(),
        "command": bench_report.command_line(), "date": time.strftime("%Y-%m-%d"),
    }  # fmt: skip


def table(results: list[dict]) -> str:
    rows = []
    for r in results:
        diffs = f"{r['max_diff_boxes']:.1e} px / {r['max_diff_scores']:.1e} / " + (
            f"{r['max_diff_embeddings']:.1e}" if r["model"] != "ssdlite" else "-")
        rows.append([r["model"], r["weights"], r["pictures"], r["threads"], r["eager_images_per_s"],
                     r["onnx_images_per_s"], f"{r['onnx_images_per_s'] / r['eager_images_per_s']:.2f}x",
                     f"{r['same_count']}/{r['pictures']}", diffs])
    return bench_report.markdown_table(
        ["model", "weights", "pictures", "threads", "eager PyTorch images/s", "onnxruntime images/s",
         "onnxruntime vs eager", "pictures with equal detection counts", "largest difference: boxes / scores / embeddings"],
        rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--images", type=int, default=30, help="pictures timed per runtime (default 30)")
    parser.add_argument("--threads", type=int, default=1, help="threads for torch and onnxruntime (default 1)")
    parser.add_argument("--force", action="store_true", help="measure rows that already have a result file")
    parser.add_argument("--no-write", action="store_true", help="print only; keep result files and BENCHMARKS.md")
    args = parser.parse_args()

    pictures = scenes(args.images)
    for name in args.models:
        path = RESULTS / f"{name.replace('+', '_and_')}.json"
        if path.is_file() and not args.force and not args.no_write:
            print(f"{name}: kept from {path}")
            continue
        result = measure(name, pictures, args.threads)
        print(json.dumps(result))
        if not args.no_write:
            atomic_write_json(path, result)
    if args.no_write:
        return
    results = [json.loads((RESULTS / f"{n.replace('+', '_and_')}.json").read_text()) for n in MODELS
               if (RESULTS / f"{n.replace('+', '_and_')}.json").is_file()]
    body = (
        "### ONNX export: eager PyTorch vs onnxruntime (CPU, batch 1)\n\n"
        + f"- machine: {'; '.join(sorted({r['machine'] for r in results}))}\n"
        + f"- command: {', '.join(f'`{c}`' for c in sorted({r['command'] for r in results}))}\n"
        + f"- date: {', '.join(sorted({r['date'] for r in results}))}\n\n"
        + table(results)
        + "\nBoth runtimes run in the same process, in turn on each picture; the ratio is onnxruntime's images/s over "
        "eager PyTorch's. Differences are taken over pictures where both keep the same number of detections. "
        "How the models are split into graphs: docs/onnx.md.\n"
    )
    bench_report.update_section(SECTION, body)
    print(table(results))


if __name__ == "__main__":
    main()
