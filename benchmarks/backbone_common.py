"""Shared by bench_backbones.py and bench_inference.py: the synthetic PRW-format world, the
backbone variants, SeqNet keyword arguments from the CPU preset, and inference speed and
peak memory measured in a fresh process per configuration.

Run as a script, this file is that fresh process: `python backbone_common.py SPEC.json`
builds one model, runs it over the listed images and prints one JSON line of figures.
"""

from __future__ import annotations

import hashlib
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


def config_digest(cfg: dict[str, Any], *, leave_out: tuple[str, ...] = ("output_dir",)) -> str:
    """What a run trains with (the `leave_out` sections aside): a finished or half-done run is reused
    only while its digest matches."""
    kept = {key: value for key, value in cfg.items() if key not in leave_out}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:16]


def ensure_prw_world(size: str, seed: int, cache: Path, world_overrides: dict[str, Any] | None = None) -> Path:
    """`cache/prw-SIZE-seedSEED` (with `-KEY-VALUE` per WorldSpec override), written once (later runs
    reuse it)."""
    from personsearch.data.world_cache import ensure_synthetic_dataset

    name = f"prw-{size}-seed{seed}" + "".join(f"-{key}-{value}" for key, value in sorted((world_overrides or {}).items()))
    return ensure_synthetic_dataset("prw", Path(cache) / name, size=size, seed=seed, world_overrides=world_overrides)


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
    process's peak resident set size, Linux VmHWM), inference_rss_mib (the peak during
    inference minus the resident size just before the first forward pass, with the model
    and the decoded images loaded; an upper bound when peak_reset is False),
    detections_per_image, params_m."""
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


def _status_mib(field: str) -> float:
    """A field of /proc/self/status in MiB: VmRSS (resident now) or VmHWM (peak resident).
    Not `getrusage`'s ru_maxrss: Linux carries the parent's peak into a child across exec,
    so a child started by a big training process would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024.0
    raise OSError(f"no {field} in /proc/self/status (Linux only)")


def _reset_peak_rss() -> bool:
    """Reset VmHWM to the current resident size (Linux >= 4.0); False when not permitted."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


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
    peak_loading = _status_mib("VmHWM")
    rss_before = _status_mib("VmRSS")
    reset = _reset_peak_rss()
    with torch.no_grad():
        for image in images[: spec["warmup"]]:
            model([image.float().div_(255.0)])
        detections = 0
        start = time.perf_counter()
        for image in images:
            detections += len(model([image.float().div_(255.0)])[0]["boxes"])
        seconds = time.perf_counter() - start
    peak_inference = _status_mib("VmHWM")  # since the reset: the inference phase only
    print(json.dumps({
        "images": len(images), "seconds": seconds, "images_per_s": len(images) / max(seconds, 1e-9),
        "ms_per_image": 1000.0 * seconds / max(len(images), 1),
        "peak_rss_mib": max(peak_loading, peak_inference), "rss_before_mib": rss_before,
        "inference_rss_mib": peak_inference - rss_before, "peak_reset": reset,
        "detections_per_image": detections / max(len(images), 1), "params_m": params / 1e6,
        "threads": torch.get_num_threads(),
    }))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(f"usage: python {Path(__file__).name} SPEC.json (normally started by measure_inference)")
    _worker(sys.argv[1])
