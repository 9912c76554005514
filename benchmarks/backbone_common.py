"""Shared by bench_backbones.py and bench_inference.py: the synthetic PRW-format world, the
backbone variants, SeqNet keyword arguments from the CPU preset, and inference speed and
peak memory measured in a fresh process per configuration.

Run as a script, this file is that fresh process: `python backbone_common.py SPEC.json`
builds one model, runs it over the listed images and prints one JSON line of figures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PRESET = "preset:seqnet_synth_prw"
# min_size -> max_size: the preset's 360/640 bound, scaled with the short side
INPUT_SIZES = {360: 640, 540: 960}
BASELINE_INPUT = 360
WORLD_MARKER = "personsearch_world.json"  # same marker as `personsearch demo` writes


@dataclass(frozen=True)
class Variant:
    name: str
    backbone: str
    weights: str  # "offline" (ImageNet weights shipped in a package) or "none" (random init)

    @property
    def init(self) -> str:
        return "ImageNet (offline)" if self.weights == "offline" else "random"

    @property
    def overrides(self) -> list[str]:
        """Config overrides on the preset. Random init trains its batch norms and its stem
        (frozen statistics and a frozen first convolution only make sense for pretrained weights)."""
        pretrained = "true" if self.weights != "none" else "false"
        return [f"model.backbone={self.backbone}", f"model.backbone_weights={self.weights}",
                f"+model.freeze_bn={pretrained}", f"+model.freeze_stem={pretrained}"]


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("mobilenet_v2_offline", "mobilenet_v2", "offline"),
    Variant("mobilenet_v2_random", "mobilenet_v2", "none"),
    Variant("shufflenet_v2_x1_0_random", "shufflenet_v2_x1_0", "none"),
    Variant("resnet18_random", "resnet18", "none"),
)}


def world_is_complete(root: Path) -> bool:
    """A finished PRW-format world: our marker, or the files the PRW writer writes last."""
    return (root / WORLD_MARKER).is_file() or ((root / "frame_test.mat").is_file()
                                                and (root / "query_info.txt").is_file())


def ensure_prw_world(size: str, seed: int, cache: Path) -> Path:
    """`cache/prw-SIZE-seedSEED`, written once (later runs reuse it)."""
    from personsearch.data.catalog import write_dataset
    from personsearch.data.synth.world import SynthWorld
    from personsearch.utils.atomic import atomic_write_json

    root = Path(cache) / f"prw-{size}-seed{seed}"
    if world_is_complete(root):
        print(f"reusing the synthetic world in {root}")
        return root
    print(f"writing a synthetic PRW-format world ({size}, seed {seed}) to {root}")
    write_dataset("prw", SynthWorld(size=size, seed=seed), root, workers=2, show_progress=True)
    atomic_write_json(root / WORLD_MARKER, {"format": "prw", "size": size, "seed": seed})
    return root


def preset_config(variant: Variant, extra: list[str] = ()) -> dict[str, Any]:
    from personsearch.config import load_config

    return load_config(PRESET, variant.overrides + list(extra))


def random_model_kwargs(variant: Variant, *, num_pids: int = 100, queue_size: int = 500) -> dict[str, Any]:
    """`build_search_model` arguments of the preset for `variant` (the OIM sizes do not
    change inference cost; they only stand in for `auto`)."""
    kwargs = dict(preset_config(variant)["model"])
    kwargs.update(num_pids=num_pids, queue_size=queue_size)
    return kwargs


def measure_inference(
    *,
    images: list[str],
    min_size: int,
    max_size: int,
    model_kwargs: dict[str, Any] | None = None,
    checkpoint: str | os.PathLike | None = None,
    threads: int | None = None,
    warmup: int = 1,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Gallery inference (detection + embeddings, batch 1) over `images` in a fresh Python
    process; either `model_kwargs` (random weights, seed 0) or a `checkpoint` holding
    "model_kwargs" and "model". Returns images_per_s, ms_per_image, peak_rss_mib (the
    process's whole peak), inference_rss_mib (peak minus the resident size just before
    the first forward pass: model and decoded images loaded), detections_per_image, params_m."""
    if (model_kwargs is None) == (checkpoint is None):
        raise ValueError("give exactly one of model_kwargs and checkpoint")
    spec = {"images": [str(p) for p in images], "min_size": min_size, "max_size": max_size,
            "model_kwargs": model_kwargs, "checkpoint": str(checkpoint) if checkpoint else None,
            "threads": threads, "warmup": warmup}
    with tempfile.TemporaryDirectory() as folder:
        spec_path = Path(folder) / "spec.json"
        spec_path.write_text(json.dumps(spec))
        proc = subprocess.run([sys.executable, __file__, str(spec_path)], capture_output=True, text=True,
                              timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"inference measurement failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _current_rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    raise OSError("no VmRSS in /proc/self/status")


def _peak_rss_mib() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024.0  # bytes on macOS, KiB on Linux


def _worker(spec_path: str) -> None:
    import gc
    import time

    import numpy as np
    import torch

    from personsearch.data.scene_dataset import read_rgb_image
    from personsearch.models.search_model import build_search_model

    spec = json.loads(Path(spec_path).read_text())
    if spec["threads"]:
        torch.set_num_threads(int(spec["threads"]))
    state = None
    if spec["checkpoint"]:
        state = torch.load(spec["checkpoint"], map_location="cpu", weights_only=True)
        kwargs = dict(state["model_kwargs"])
        kwargs["backbone_weights"] = "none"  # the checkpoint's weights supersede them
    else:
        kwargs = dict(spec["model_kwargs"])
    kwargs.update(min_size=spec["min_size"], max_size=spec["max_size"])
    torch.manual_seed(0)
    model = build_search_model(**kwargs)
    if state is not None:
        model.load_state_dict(state["model"], strict=True)
        del state
    model.eval()
    params = sum(p.numel() for p in model.parameters())
    # uint8 CHW, converted per image inside the timed loop (as the data loader would hand them over)
    images = [torch.from_numpy(np.asarray(read_rgb_image(p), dtype=np.uint8).copy()).permute(2, 0, 1)
              for p in spec["images"]]
    gc.collect()
    rss_before = _current_rss_mib()
    with torch.no_grad():
        for image in images[: spec["warmup"]]:
            model([image.float().div_(255.0)])
        detections = 0
        start = time.perf_counter()
        for image in images:
            detections += len(model([image.float().div_(255.0)])[0]["boxes"])
        seconds = time.perf_counter() - start
    peak = _peak_rss_mib()
    print(json.dumps({
        "images": len(images), "seconds": seconds, "images_per_s": len(images) / max(seconds, 1e-9),
        "ms_per_image": 1000.0 * seconds / max(len(images), 1), "peak_rss_mib": peak,
        "rss_before_mib": rss_before, "inference_rss_mib": peak - rss_before,
        "detections_per_image": detections / max(len(images), 1), "params_m": params / 1e6,
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: python {Path(__file__).name} SPEC.json (normally started by measure_inference)")
    _worker(sys.argv[1])
