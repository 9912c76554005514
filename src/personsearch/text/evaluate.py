"""Text-to-image retrieval evaluation: queries = every test caption, gallery = every unique
test image; scored by `personsearch.evaluation.text_retrieval`."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from personsearch.data.records import CaptionRecord
from personsearch.engine.checkpoint import load_checkpoint
from personsearch.evaluation.text_retrieval import text_retrieval_metrics
from personsearch.text.data import ImageDataset
from personsearch.text.model import DualEncoder
from personsearch.text.shipped import overlay_stored_tensors
from personsearch.text.training_model import build_text_training_model
from personsearch.utils.atomic import atomic_savez


def load_text_model(checkpoint: str | Path, device: torch.device | str = "cpu") -> tuple[DualEncoder, dict]:
    """The dual encoder of a training checkpoint (no weight file is read besides the checkpoint),
    or of a small shipped one holding only what differs from the offline encoder weights
    (`base_weights: offline`, personsearch.text.shipped)."""
    state = load_checkpoint(checkpoint, map_location="cpu")
    if "model_kwargs" not in state or "model" not in state:
        raise ValueError(f"{checkpoint}: not a text model checkpoint (needs 'model_kwargs' and 'model')")
    on_base = state.get("base_weights") == "offline"
    model = build_text_training_model(**state["model_kwargs"], pretrained=on_base)
    if on_base:
        overlay_stored_tensors(model, state["model"], path=checkpoint, expected_digest=state.get("base_sha256"))
    else:
        try:
            model.load_state_dict(state["model"])
        except RuntimeError as exc:
            raise ValueError(f"{checkpoint}: weights do not fit the model: {exc}") from exc
    encoder = model.encoder.to(device).eval()
    return encoder, dict(state.get("config", {}))


@torch.no_grad()
def encode_images(model: DualEncoder, paths: list[str], *, batch_size: int = 64, workers: int = 0,
                  progress: bool = False) -> np.ndarray:
    device = next(model.parameters()).device
    loader = DataLoader(ImageDataset(paths=paths, image_size=model.image_size), batch_size=batch_size,
                        num_workers=workers)
    feats = [model.encode_image(batch.to(device)).cpu() for batch in tqdm(loader, desc="images", disable=not progress)]
    return torch.cat(feats).numpy() if feats else np.zeros((0, model.embed_dim), np.float32)


@torch.no_grad()
def encode_captions(model: DualEncoder, captions: list[str], *, batch_size: int = 128,
                    progress: bool = False) -> np.ndarray:
    chunks = range(0, len(captions), batch_size)
    feats = [model.encode_captions(captions[i:i + batch_size]).cpu() for i in tqdm(chunks, desc="texts", disable=not progress)]
    return torch.cat(feats).numpy() if feats else np.zeros((0, model.embed_dim), np.float32)


def retrieval_protocol(records: list[CaptionRecord]) -> tuple[list[str], np.ndarray, list[str], np.ndarray]:
    """(captions, query_ids, gallery image paths, gallery_ids): every caption, every unique image."""
    captions = [c for r in records for c in r.captions]
    query_ids = np.array([r.pid for r in records for _ in r.captions], dtype=np.int64)
    gallery: dict[str, int] = {}
    for r in records:
        gallery.setdefault(r.image_path, r.pid)
    return captions, query_ids, list(gallery), np.array(list(gallery.values()), dtype=np.int64)


def evaluate_text_retrieval(model: DualEncoder, records: list[CaptionRecord], *, batch_size: int = 64,
                            workers: int = 0, progress: bool = False,
                            results_path: str | Path | None = None) -> dict[str, float | int]:
    """Metrics on `records` (a test split); optionally writes sim / query_ids / gallery_ids (.npz)."""
    if not records:
        raise ValueError("no test records to evaluate")
    captions, query_ids, paths, gallery_ids = retrieval_protocol(records)
    was_training = model.training
    model.eval()
    gallery = encode_images(model, paths, batch_size=batch_size, workers=workers, progress=progress)
    queries = encode_captions(model, captions, batch_size=batch_size, progress=progress)
    model.train(was_training)
    sim = queries @ gallery.T
    if results_path is not None:
        atomic_savez(results_path, sim=sim.astype(np.float32), query_ids=query_ids, gallery_ids=gallery_ids)
    return text_retrieval_metrics(sim, query_ids, gallery_ids)


def retrieval_evaluator(records: list[CaptionRecord], *, batch_size: int = 64) -> Callable:
    """An `EvalHook` evaluator: training model -> R1/R5/R10/mAP/mINP of its dual encoder."""

    def evaluate(model) -> dict[str, float]:
        metrics = evaluate_text_retrieval(model.encoder, records, batch_size=batch_size)
        return {k: float(v) for k, v in metrics.items() if k not in ("num_queries", "num_skipped")}

    return evaluate
